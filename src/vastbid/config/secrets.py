"""Finding secrets (the Vast.ai API key, the HTTP token) and refusing files that expose them.

Order for the API key: ``VAST_API_KEY``, then ``market.api_key`` (from the settings file or
``VASTBID_MARKET__API_KEY``), then the file named by ``market.api_key_file``, then the official CLI's key file
``$XDG_CONFIG_HOME/vastai/vast_api_key`` (default ``~/.config/vastai/vast_api_key``), if it exists.
A secret written in the settings file is accepted only if that file is not readable by group or others; a key
file readable by group or others is refused the same way (``SecretExposedError``). Messages name files and modes,
never the secret.
"""

from __future__ import annotations

import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from vastbid.errors import ConfigError, SecretExposedError

_EXPOSING_BITS = stat.S_IRGRP | stat.S_IROTH


@dataclass(frozen=True, slots=True)
class FoundSecret:
    """A secret and where it came from (an environment variable name or a file path)."""

    value: SecretStr
    source: str


def home_dir(env: Mapping[str, str]) -> Path:
    """``$HOME`` from ``env``, else the user's home directory."""
    home = env.get("HOME")
    return Path(home) if home else Path.home()


def cli_key_file(env: Mapping[str, str]) -> Path:
    """Where the official ``vastai`` CLI keeps its key (``vastai set api-key``)."""
    xdg = env.get("XDG_CONFIG_HOME")
    base = Path(xdg) if xdg else home_dir(env) / ".config"
    return base / "vastai" / "vast_api_key"


def ensure_private(path: Path, *, what: str, fix_alternative: str) -> None:
    """Refuse a file holding a secret that group or others may read."""
    mode = path.stat().st_mode
    if mode & _EXPOSING_BITS:
        raise SecretExposedError(
            f"{what} in {path} is readable by other users (mode {stat.S_IMODE(mode):04o}): "
            f"run `chmod 600 {path}`, or {fix_alternative}"
        )


def read_secret_file(path: Path, *, what: str, fix_alternative: str) -> SecretStr:
    """The first line of a private secret file, stripped."""
    try:
        ensure_private(path, what=what, fix_alternative=fix_alternative)
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{what} file {path} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"{what} file {path} cannot be read: {exc.strerror}") from None
    lines = text.strip().splitlines()
    secret = lines[0].strip() if lines else ""
    if not secret:
        raise ConfigError(f"{what} file {path} is empty")
    return SecretStr(secret)


_KEY_FIX = "move the key to VAST_API_KEY or a key file (market.api_key_file)"
_TOKEN_FIX = "move the token to VASTBID_HTTP__TOKEN or a token file (http.token_file)"  # noqa: S105 (advice text, not a secret)


def resolve_api_key(
    *,
    env: Mapping[str, str],
    from_settings: SecretStr | None,
    settings_file: Path | None,
    key_in_file: bool,
    key_file: Path | None,
) -> FoundSecret | None:
    """The API key by the documented order, or ``None`` when there is none anywhere.

    ``key_in_file`` says the settings value was written in ``settings_file`` (not given by the environment).
    """
    if env.get("VAST_API_KEY", "").strip():
        return FoundSecret(SecretStr(env["VAST_API_KEY"].strip()), "VAST_API_KEY")
    if from_settings is not None and key_file is not None:
        raise ConfigError("market.api_key and market.api_key_file are both set: keep one")
    if from_settings is not None:
        if key_in_file and settings_file is not None:
            ensure_private(settings_file, what="the API key (market.api_key)", fix_alternative=_KEY_FIX)
            return FoundSecret(from_settings, str(settings_file))
        return FoundSecret(from_settings, "VASTBID_MARKET__API_KEY")
    if key_file is not None:
        return FoundSecret(read_secret_file(key_file, what="the API key", fix_alternative=_KEY_FIX), str(key_file))
    default = cli_key_file(env)
    if default.is_file():
        return FoundSecret(read_secret_file(default, what="the API key", fix_alternative=_KEY_FIX), str(default))
    return None


def resolve_http_token(
    *,
    from_settings: SecretStr | None,
    settings_file: Path | None,
    token_in_file: bool,
    token_file: Path | None,
) -> FoundSecret | None:
    """The HTTP write token: ``http.token`` (file or environment), else ``http.token_file``, else none."""
    if from_settings is not None and token_file is not None:
        raise ConfigError("http.token and http.token_file are both set: keep one")
    if from_settings is not None:
        if token_in_file and settings_file is not None:
            ensure_private(settings_file, what="the HTTP token (http.token)", fix_alternative=_TOKEN_FIX)
            return FoundSecret(from_settings, str(settings_file))
        return FoundSecret(from_settings, "VASTBID_HTTP__TOKEN")
    if token_file is not None:
        return FoundSecret(
            read_secret_file(token_file, what="the HTTP token", fix_alternative=_TOKEN_FIX), str(token_file)
        )
    return None
