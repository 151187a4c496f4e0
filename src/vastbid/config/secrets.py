"""Finding secrets (the Vast.ai API key, the HTTP token) and refusing files that expose them.

Order for the API key: ``VAST_API_KEY``, then ``market.api_key`` (from the settings file or
``VASTBID_MARKET__API_KEY``), then the file named by ``market.api_key_file``, then the official CLI's key file
``$XDG_CONFIG_HOME/vastai/vast_api_key`` (default ``~/.config/vastai/vast_api_key``), if it exists.
A secret written in the settings file is accepted only if that file is not readable by group or others; a key
file readable by group or others is refused the same way (``SecretExposedError``). A key or token must be printable
ASCII without spaces (it travels in an HTTP header); one that is not is refused with its length only. Messages name
files, variables and modes, never the secret.

``is_secret_name`` says which setting names hold secrets (any containing key, token, secret or password) and
``configured_secrets`` gathers every secret value the raw inputs carry, so that error messages can hide them.
"""

from __future__ import annotations

import re
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from vastbid.errors import ConfigError, SecretExposedError

_EXPOSING_BITS = stat.S_IRGRP | stat.S_IROTH
_SECRET_NAME = re.compile(r"key|token|secret|passw(or)?d", re.IGNORECASE)
_MAX_KEY_FILE_BYTES = 65_536


def is_secret_name(name: str) -> bool:
    """Whether a setting (or environment variable) of this name holds a secret: its value is never shown."""
    return _SECRET_NAME.search(name) is not None


def check_printable(value: SecretStr, *, what: str, source: str) -> SecretStr:
    """``value`` if it is printable ASCII without spaces; else a ``ConfigError`` giving only its length."""
    text = value.get_secret_value()
    if all("!" <= char <= "~" for char in text):
        return value
    raise ConfigError(
        f"{what} from {source} is not printable ASCII ({len(text)} characters, with a space, a control character "
        "such as a newline, or a non-ASCII character): set it again from the original, without quotes or line breaks"
    )


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
    found = _find_api_key(
        env=env, from_settings=from_settings, settings_file=settings_file, key_in_file=key_in_file, key_file=key_file
    )
    if found is not None:
        check_printable(found.value, what="the API key", source=found.source)
    return found


def _find_api_key(
    *,
    env: Mapping[str, str],
    from_settings: SecretStr | None,
    settings_file: Path | None,
    key_in_file: bool,
    key_file: Path | None,
) -> FoundSecret | None:
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
    found = _find_http_token(
        from_settings=from_settings, settings_file=settings_file, token_in_file=token_in_file, token_file=token_file
    )
    if found is not None:
        check_printable(found.value, what="the HTTP token", source=found.source)
    return found


def _find_http_token(
    *,
    from_settings: SecretStr | None,
    settings_file: Path | None,
    token_in_file: bool,
    token_file: Path | None,
) -> FoundSecret | None:
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


# --- what error messages must hide ---------------------------------------------------------------------------------


def _secret_leaves(data: Mapping[str, object], secret_parent: bool = False) -> Iterator[tuple[str, object]]:
    """``(name, value)`` of every leaf whose own name (or an enclosing table's) says it holds a secret."""
    for key, value in data.items():
        name = str(key)
        inside = secret_parent or is_secret_name(name)
        if isinstance(value, Mapping):
            yield from _secret_leaves(value, inside)
        elif inside:
            yield name, value


def _peek_file(path: Path) -> str | None:
    """The first line of a small key file, or ``None`` when it cannot be read (nothing is reported here)."""
    try:
        if not path.is_file() or path.stat().st_size > _MAX_KEY_FILE_BYTES:
            return None
        lines = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return None
    return lines[0] if lines else None


def configured_secrets(
    env: Mapping[str, str], file_data: Mapping[str, object], settings_file: Path | None
) -> frozenset[str]:
    """Every secret the raw inputs carry, to be hidden wherever it shows up in an error message.

    That is ``VAST_API_KEY``, every ``VASTBID_*`` variable and settings-file value under a secret-looking name,
    and the first line of the key files named by such settings (``*_file``) or of the CLI's key file. A mistyped
    name (``api_kye``) is not caught here: unknown settings never show their value at all.
    """
    found: set[str] = set()
    candidates: list[object] = [env.get("VAST_API_KEY")]
    files: list[Path] = [cli_key_file(env)]
    for name, value in env.items():
        upper = name.upper()
        if upper.startswith("VASTBID_") and is_secret_name(upper[len("VASTBID_") :]):
            if upper.endswith("_FILE"):
                files.append(Path(value).expanduser())
            else:
                candidates.append(value)
    for leaf, given in _secret_leaves(file_data):
        if leaf.lower().endswith("_file") and isinstance(given, str):
            path = Path(given).expanduser()
            files.append(path if path.is_absolute() or settings_file is None else settings_file.parent / path)
        else:
            candidates.append(given)
    candidates.extend(_peek_file(path) for path in files)
    for candidate in candidates:
        if isinstance(candidate, str) and candidate.strip():
            found.update({candidate, candidate.strip()})
    return frozenset(found)
