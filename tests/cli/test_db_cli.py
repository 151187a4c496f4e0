"""`vastbid db upgrade`: creates the schema, then reports it is current."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from vastbid.cli.main import app
from vastbid.store import head_revision, open_store


def test_upgrade_creates_then_reports_current(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new' / 'v.db'}"
    first = CliRunner().invoke(app, ["db", "upgrade", "--db", url])
    assert first.exit_code == 0, first.output
    assert f"upgraded from empty to {head_revision()}" in first.output
    second = CliRunner().invoke(app, ["db", "upgrade", "--db", url])
    assert f"already at {head_revision()}" in second.output
    with open_store(url) as store:
        assert store.jobs.list() == []


def test_upgrade_uses_the_settings_database(tmp_path: Path) -> None:
    path = tmp_path / "v.toml"
    path.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "from-settings.db"}"\n')
    result = CliRunner().invoke(app, ["db", "upgrade", "--config", str(path)], env={"HOME": str(tmp_path)})
    assert result.exit_code == 0, result.output
    assert (tmp_path / "from-settings.db").exists()


def test_a_bad_url_is_a_config_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["db", "upgrade", "--db", "not a url"])
    assert result.exit_code == 2
    assert "is not a SQLAlchemy URL" in result.output
