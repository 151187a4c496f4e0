"""Settings: file + environment, every error reported with path, value and what is allowed; secrets guarded."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vastbid.config import OrphanPolicy, Surface, config_hash, load_settings
from vastbid.core.budget import Budget
from vastbid.errors import ConfigError, SecretExposedError

KEY = "vk_live_0123456789abcdef"


def _write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    os.chmod(path, mode)
    return path


@pytest.fixture
def home(tmp_path: Path) -> dict[str, str]:
    """An environment whose HOME is empty (no CLI key file lying around)."""
    (tmp_path / "home").mkdir()
    return {"HOME": str(tmp_path / "home")}


def test_defaults_without_a_file(home: dict[str, str]) -> None:
    settings = load_settings(None, home)
    assert settings.daemon.tick_seconds == 60
    assert settings.daemon.orphan_policy is OrphanPolicy.ADOPT_OR_DESTROY
    assert settings.strategy.default == "cheapest_per_gpu"
    assert settings.http.bind == "127.0.0.1:9464"
    assert settings.market.api_key is None
    assert settings.database.url == f"sqlite:///{home['HOME']}/.local/state/vastbid/vastbid.db"


def test_systemd_state_directory_holds_the_default_database(home: dict[str, str]) -> None:
    settings = load_settings(None, {**home, "STATE_DIRECTORY": "/var/lib/vastbid"})
    assert settings.database.url == "sqlite:////var/lib/vastbid/vastbid.db"


def test_environment_overrides_the_file(tmp_path: Path, home: dict[str, str]) -> None:
    path = _write(tmp_path / "v.toml", '[budget]\ndaily_cap = 5\n[market]\nsurface = "lowcode"\n')
    settings = load_settings(path, {**home, "VASTBID_BUDGET__DAILY_CAP": "20", "VASTBID_DAEMON__DRY_RUN": "true"})
    assert settings.budget.daily_cap == 20
    assert settings.daemon.dry_run is True
    assert settings.market.surface is Surface.LOWCODE
    assert Budget.from_settings(settings.budget) == Budget(daily_cap=20.0)


def test_every_error_names_path_value_and_what_is_allowed(tmp_path: Path, home: dict[str, str]) -> None:
    path = _write(
        tmp_path / "v.toml",
        'deployment = "Prod!"\n[daemon]\ntick_seconds = 2\norphan_policy = "nuke"\n[market]\nsurfce = "native"\n',
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(path, {**home, "VASTBID_BUDGET__MONTHLY_CAP": "-1"})
    message = str(caught.value)
    assert caught.value.exit_code == 2
    assert "deployment: must match pattern '^[a-z0-9-]{1,32}$' (got 'Prod!')" in message
    assert "daemon.tick_seconds: must be greater than or equal to 5 (got 2)" in message
    assert "daemon.orphan_policy: must be 'adopt_or_destroy', 'destroy', 'adopt' or 'report' (got 'nuke')" in message
    assert "market.surfce: unknown setting (did you mean 'surface'?); allowed here: " in message
    assert "budget.monthly_cap (from VASTBID_BUDGET__MONTHLY_CAP): must be greater than or equal to 0" in message


def test_unreadable_toml_is_reported_with_the_file(tmp_path: Path, home: dict[str, str]) -> None:
    path = _write(tmp_path / "v.toml", "[daemon\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(path, home)
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "missing.toml", home)


def test_key_order_env_then_settings_then_cli_file(tmp_path: Path, home: dict[str, str]) -> None:
    cli_file = Path(home["HOME"]) / ".config" / "vastai" / "vast_api_key"
    cli_file.parent.mkdir(parents=True)
    _write(cli_file, "from-cli-file\n")
    assert load_settings(None, home).market.api_key.get_secret_value() == "from-cli-file"  # type: ignore[union-attr]

    key_file = _write(tmp_path / "key", "from-key-file\n")
    path = _write(tmp_path / "v.toml", '[market]\napi_key_file = "key"\n')
    found = load_settings(path, home).market
    assert found.api_key is not None and found.api_key.get_secret_value() == "from-key-file"
    assert found.api_key_source == str(key_file)

    from_env = load_settings(path, {**home, "VAST_API_KEY": KEY}).market
    assert from_env.api_key is not None and from_env.api_key.get_secret_value() == KEY
    assert from_env.api_key_source == "VAST_API_KEY"


def test_key_in_a_private_settings_file_is_accepted_and_never_shown(tmp_path: Path, home: dict[str, str]) -> None:
    path = _write(tmp_path / "v.toml", f'[market]\napi_key = "{KEY}"\n', mode=0o600)
    settings = load_settings(path, home)
    assert settings.market.api_key is not None and settings.market.api_key.get_secret_value() == KEY
    assert KEY not in repr(settings) and KEY not in str(settings)


def test_key_in_a_settings_file_others_can_read_is_refused_with_the_fix(tmp_path: Path, home: dict[str, str]) -> None:
    path = _write(tmp_path / "v.toml", f'[market]\napi_key = "{KEY}"\n', mode=0o644)
    with pytest.raises(SecretExposedError) as caught:
        load_settings(path, home)
    assert f"chmod 600 {path}" in str(caught.value) and "VAST_API_KEY" in str(caught.value)
    assert KEY not in str(caught.value)


def test_key_file_others_can_read_is_refused(tmp_path: Path, home: dict[str, str]) -> None:
    _write(tmp_path / "key", KEY, mode=0o640)
    path = _write(tmp_path / "v.toml", '[market]\napi_key_file = "key"\n')
    with pytest.raises(SecretExposedError, match="chmod 600"):
        load_settings(path, home)


def test_http_token_follows_the_same_rule(tmp_path: Path, home: dict[str, str]) -> None:
    path = _write(tmp_path / "v.toml", '[http]\ntoken = "tok-1234567890abcdef"\n', mode=0o604)
    with pytest.raises(SecretExposedError, match="HTTP token"):
        load_settings(path, home)
    settings = load_settings(None, {**home, "VASTBID_HTTP__TOKEN": "tok-1234567890abcdef"})
    assert settings.http.token is not None and settings.http.token.get_secret_value() == "tok-1234567890abcdef"


def test_config_hash_is_stable_and_ignores_secrets(tmp_path: Path, home: dict[str, str]) -> None:
    base = load_settings(None, home)
    with_key = load_settings(None, {**home, "VAST_API_KEY": KEY})
    changed = load_settings(None, {**home, "VASTBID_DAEMON__TICK_SECONDS": "120"})
    assert config_hash(base) == config_hash(with_key)
    assert config_hash(base) != config_hash(changed)
    assert len(config_hash(base)) == 16


def test_jitter_must_stay_under_the_tick(home: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match=r"jitter_seconds \(10\) must be less than tick_seconds \(5\)"):
        load_settings(None, {**home, "VASTBID_DAEMON__TICK_SECONDS": "5", "VASTBID_DAEMON__JITTER_SECONDS": "10"})


def test_the_example_file_is_valid(home: dict[str, str]) -> None:
    example = Path(__file__).resolve().parents[2] / "config" / "vastbid.example.toml"
    settings = load_settings(example, home)
    assert settings.deployment == "default"


def test_a_short_http_token_is_refused_with_how_to_make_one(tmp_path: Path, home: dict[str, str]) -> None:
    path = _write(tmp_path / "v.toml", '[http]\ntoken = "x7Qp"\n', mode=0o600)
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env=home)
    message = str(caught.value)
    assert "http.token" in message
    assert "at least 16 characters" in message
    assert "openssl rand -hex 16" in message
    assert "x7Qp" not in message
