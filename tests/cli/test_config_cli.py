"""`vastbid config check`: the effective settings with secrets masked, or every error and exit 2."""

from __future__ import annotations

import os
from pathlib import Path

from typer.testing import CliRunner

from vastbid.cli.main import app

KEY = "vk_live_SECRET_abcdef987654"


def _env(tmp_path: Path) -> dict[str, str | None]:
    return {"HOME": str(tmp_path), "VAST_API_KEY": None, "XDG_CONFIG_HOME": None, "STATE_DIRECTORY": None}


def test_check_prints_the_settings_without_the_key(tmp_path: Path) -> None:
    path = tmp_path / "v.toml"
    path.write_text(f'[market]\napi_key = "{KEY}"\n[budget]\ndaily_cap = 12.5\n')
    os.chmod(path, 0o600)

    result = CliRunner().invoke(app, ["config", "check", str(path)], env=_env(tmp_path))

    assert result.exit_code == 0, result.output
    assert "budget.daily_cap" in result.output and "12.5" in result.output
    assert "set (hidden)" in result.output
    assert KEY not in result.output and KEY[-4:] not in result.output


def test_check_lists_every_error_and_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "v.toml"
    path.write_text('[daemon]\ntick_seconds = 1\n[market]\nlowcode_url_style = "sideways"\n')

    result = CliRunner().invoke(app, ["config", "check", str(path)], env=_env(tmp_path))

    assert result.exit_code == 2
    assert "daemon.tick_seconds: must be greater than or equal to 5 (got 1)" in result.output
    assert "market.lowcode_url_style: must be 'path', 'query' or 'path_then_query' (got 'sideways')" in result.output


def test_check_refuses_a_key_others_can_read_without_showing_it(tmp_path: Path) -> None:
    path = tmp_path / "v.toml"
    path.write_text(f'[market]\napi_key = "{KEY}"\n')
    os.chmod(path, 0o644)

    result = CliRunner().invoke(app, ["config", "check", str(path)], env=_env(tmp_path))

    assert result.exit_code == 2
    assert "chmod 600" in result.output
    assert KEY not in result.output
