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


def _check(tmp_path: Path, body: str, *args: str) -> tuple[int, str]:
    path = tmp_path / "v.toml"
    path.write_text(body)
    os.chmod(path, 0o600)
    result = CliRunner().invoke(app, ["config", "check", str(path), *args], env=_env(tmp_path))
    return result.exit_code, result.output


def test_check_runs_the_daemon_s_checks_and_lists_every_error(tmp_path: Path) -> None:
    code, output = _check(tmp_path, '[strategy]\ndefault = "bogus"\n[database]\nurl = "mysql://u:pw@db/x"\n')
    assert code == 2
    assert "strategy.default: unknown strategy 'bogus': use one of cheapest_per_gpu" in output
    assert "database.url: the mysql database is not supported" in output and "pw" not in output
    assert "market.api_key: no Vast.ai API key and market.simulate is false" in output
    assert "\nok" not in output


def test_check_validates_the_default_strategy_s_params(tmp_path: Path) -> None:
    body = (
        '[market]\nsimulate = true\n[strategy]\ndefault = "price_threshold"\n'
        '[strategy.params]\nacquire_below = "cheap"\nrelease_above = 1.0\nfrobnicate = 1\n'
    )
    code, output = _check(tmp_path, body)
    assert code == 2
    assert "strategy.params: invalid parameters for strategy 'price_threshold'" in output
    assert "'frobnicate' is not a parameter" in output and "'acquire_below' = 'cheap' is not allowed" in output


def test_check_connect_says_whether_the_database_answers_and_creates_nothing(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    code, output = _check(
        tmp_path, f'[market]\nsimulate = true\n[database]\nurl = "sqlite:///{blocker}/v.db"\n', "--connect"
    )
    assert code == 2
    assert "database.url: sqlite:///" in output and "does not answer" in output

    good = tmp_path / "state" / "v.db"
    good.parent.mkdir()
    code, output = _check(tmp_path, f'[market]\nsimulate = true\n[database]\nurl = "sqlite:///{good}"\n', "--connect")
    assert code == 0, output
    assert output.rstrip().endswith("ok")
    assert "warning: http.token: not set" in output
    assert not good.exists()


def test_check_without_connect_does_not_touch_the_database(tmp_path: Path) -> None:
    code, output = _check(tmp_path, '[market]\nsimulate = true\n[database]\nurl = "sqlite:////nonexistent/dir/v.db"\n')
    assert code == 0, output
