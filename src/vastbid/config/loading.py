"""Loading the settings: one TOML file, ``VASTBID_*`` environment overrides, secrets and computed defaults.

``load_settings(path, env)`` reads the file, lays the environment over it (nested with ``__``, e.g.
``VASTBID_BUDGET__DAILY_CAP=20``), validates everything at once and reports every problem with its dotted path,
value and what is allowed (``ConfigError``, exit code 2). The environment is injectable so tests stay pure.
``config_hash`` fingerprints the effective settings (secrets excluded) for the decision log; ``effective_rows``
renders them for people with secrets masked.
"""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, SecretStr, ValidationError
from pydantic_settings import EnvSettingsSource
from pydantic_settings.sources.utils import parse_env_vars

from vastbid.config.secrets import configured_secrets, home_dir, resolve_api_key, resolve_http_token
from vastbid.config.settings import SECRET_PATHS, SECRET_SOURCE_PATHS, Settings
from vastbid.config.validation import describe_validation_error, join_lines
from vastbid.errors import ConfigError

ENV_PREFIX = "VASTBID_"
_MIN_MISPLACED = 8
"""Secrets shorter than this are too common a string to look for in other settings."""


class _InjectedEnvSource(EnvSettingsSource):
    """pydantic-settings' environment source, reading a given mapping instead of ``os.environ``."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._injected = env
        super().__init__(Settings)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(self._injected, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"settings file {path} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"settings file {path} is a directory") from None
    except OSError as exc:
        raise ConfigError(f"settings file {path} cannot be read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"settings file {path} is not valid TOML: {exc}") from None


def _merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(dict(merged[key]), value)
        else:
            merged[key] = value
    return merged


def _leaf_paths(data: Mapping[str, Any], prefix: str = "") -> set[str]:
    paths: set[str] = set()
    for key, value in data.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        paths.add(path)
        if isinstance(value, Mapping):
            paths |= _leaf_paths(value, path)
    return paths


def _has(data: Mapping[str, Any], section: str, key: str) -> bool:
    part = data.get(section)
    return isinstance(part, Mapping) and key in part


def default_database_url(env: Mapping[str, str]) -> str:
    """SQLite ``vastbid.db`` in ``$STATE_DIRECTORY`` (systemd), else ``$XDG_STATE_HOME/vastbid``, else
    ``~/.local/state/vastbid``."""
    state_dirs = env.get("STATE_DIRECTORY", "").strip()
    if state_dirs:
        directory = Path(state_dirs.split(":")[0])
    elif env.get("XDG_STATE_HOME", "").strip():
        directory = Path(env["XDG_STATE_HOME"]) / "vastbid"
    else:
        directory = home_dir(env) / ".local" / "state" / "vastbid"
    return f"sqlite:///{directory.absolute() / 'vastbid.db'}"


def load_settings(path: Path | None, env: Mapping[str, str] | None = None) -> Settings:
    """The effective settings from ``path`` (optional), the environment and the key files.

    Raises ``ConfigError`` listing every invalid value, or ``SecretExposedError`` for a secret others can read.
    """
    environ: Mapping[str, str] = os.environ if env is None else env
    file_data = _read_toml(path) if path is not None else {}
    env_data = _InjectedEnvSource(environ)()
    from_env = _leaf_paths(env_data)

    def rename(shown: str) -> str:
        if shown in from_env:
            return f"{shown} (from {ENV_PREFIX}{shown.replace('.', '__').upper()})"
        return shown

    try:
        settings = Settings.model_validate(_merge(file_data, env_data))
    except ValidationError as exc:
        where = f"in {path}" if path is not None else "in the environment"
        lines = describe_validation_error(
            exc,
            model=Settings,
            secret_paths=SECRET_PATHS,
            secret_values=configured_secrets(environ, file_data, path),
            rename=rename,
        )
        raise ConfigError(join_lines(f"invalid settings {where}:", lines)) from None
    return _resolve(settings, path, environ, file_data, from_env)


def _relative_to(base: Path | None, value: Path | None) -> Path | None:
    if value is None:
        return None
    value = value.expanduser()
    if base is not None and not value.is_absolute():
        return base.parent / value
    return value


def _resolve(
    settings: Settings, path: Path | None, env: Mapping[str, str], file_data: Mapping[str, Any], from_env: set[str]
) -> Settings:
    market = settings.market
    key_file = _relative_to(path, market.api_key_file)
    key = resolve_api_key(
        env=env,
        from_settings=market.api_key,
        settings_file=path,
        key_in_file=_has(file_data, "market", "api_key") and "market.api_key" not in from_env,
        key_file=key_file,
    )
    http = settings.http
    token_file = _relative_to(path, http.token_file)
    token = resolve_http_token(
        from_settings=http.token,
        settings_file=path,
        token_in_file=_has(file_data, "http", "token") and "http.token" not in from_env,
        token_file=token_file,
    )
    _refuse_misplaced_secrets(settings, [found.value.get_secret_value() for found in (key, token) if found])
    database = settings.database
    if not database.url:
        database = database.model_copy(update={"url": default_database_url(env)})
    return settings.model_copy(
        update={
            "market": market.model_copy(
                update={
                    "api_key_file": key_file,
                    "api_key": key.value if key else None,
                    "api_key_source": key.source if key else None,
                }
            ),
            "http": http.model_copy(
                update={
                    "token_file": token_file,
                    "token": token.value if token else None,
                    "token_source": token.source if token else None,
                }
            ),
            "database": database,
        }
    )


def _refuse_misplaced_secrets(settings: Settings, secrets: list[str]) -> None:
    """A public setting holding the API key or the HTTP token would publish it (labels, logs): refuse, naming it."""
    for path, value in _flatten(settings):
        if path in SECRET_PATHS or path in SECRET_SOURCE_PATHS or value is None:
            continue
        text = json.dumps(value, default=str) if isinstance(value, dict | list) else str(value)
        if any(len(secret) >= _MIN_MISPLACED and secret in text for secret in secrets):
            raise ConfigError(
                f"{path} holds the value of a secret (the API key or the HTTP token), and would publish it: "
                "put the secret in its own setting and this one back to what it should be"
            )


def mask_url_password(url: str) -> str:
    """``postgresql://user:pw@host/db`` -> ``postgresql://user:***@host/db``; other URLs unchanged."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    userinfo, _, hostinfo = parts.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{hostinfo}"))


def _flatten(model: BaseModel, prefix: str = "") -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = []
    for name in type(model).model_fields:
        value = getattr(model, name)
        path = f"{prefix}.{name}" if prefix else name
        if isinstance(value, BaseModel):
            rows.extend(_flatten(value, path))
        else:
            rows.append((path, value))
    return rows


def _public_value(path: str, value: Any) -> Any:
    if path == "database.url" and isinstance(value, str):
        return mask_url_password(value)
    if isinstance(value, SecretStr):
        return "set (hidden)"
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "value") and isinstance(value.value, str):  # enums
        return value.value
    return value


def config_hash(settings: Settings) -> str:
    """A stable fingerprint of the effective settings, secrets and their sources excluded (16 hex digits)."""
    public = {
        path: _public_value(path, value)
        for path, value in _flatten(settings)
        if path not in SECRET_PATHS and path not in SECRET_SOURCE_PATHS
    }
    blob = json.dumps(public, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def effective_rows(settings: Settings) -> list[tuple[str, str]]:
    """``(dotted path, printable value)`` for every setting; secrets show only whether they are set."""
    rows: list[tuple[str, str]] = []
    for path, value in _flatten(settings):
        if path in SECRET_PATHS:
            shown = "set (hidden)" if value is not None else "not set"
        elif value is None:
            shown = "not set"
        else:
            public = _public_value(path, value)
            shown = json.dumps(public, sort_keys=True) if isinstance(public, dict | list) else str(public)
            if isinstance(public, bool):
                shown = str(public).lower()
        rows.append((path, shown))
    return rows
