"""Checks of loaded settings that the models alone cannot make: what the daemon needs to start and serve.

``secret_findings(settings)`` says whether the daemon has the secrets it needs: the Vast.ai API key when it does not
simulate (an error), and the HTTP token (a warning when writes would be refused, or when reads are open to a
non-loopback address). File permissions of key and token files are refused earlier, by ``load_settings``.
``database_url_findings(url, dialects)`` checks a database URL's form and dialect against the installed ones.
Each finding names the setting, the value (never a secret) and the fix. The checks that need the strategy registry
or a connection are made by ``vastbid config check`` (``vastbid.cli.config_cmd``), which lists them all.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from enum import StrEnum

from vastbid.config.loading import mask_url_password
from vastbid.config.settings import Settings

SUPPORTED_DIALECTS = ("sqlite", "postgresql")
"""The database backends vastbid's schema and migrations are tested on."""


class Severity(StrEnum):
    """An error stops the daemon (and fails ``config check``); a warning is printed and the daemon goes on."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem with the settings: where, what and the fix."""

    severity: Severity
    setting: str
    message: str

    def __str__(self) -> str:
        return f"{self.setting}: {self.message}"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def secret_findings(settings: Settings) -> list[Finding]:
    """The API key when not simulating; the HTTP token."""
    found: list[Finding] = []
    market, http = settings.market, settings.http
    if market.api_key is None and not market.simulate:
        found.append(
            Finding(
                Severity.ERROR,
                "market.api_key",
                "no Vast.ai API key and market.simulate is false: set VAST_API_KEY, market.api_key_file (a file "
                "only you can read), or run `vastai set api-key KEY`; or set market.simulate = true",
            )
        )
    if http.token is None:
        found.append(
            Finding(
                Severity.WARNING,
                "http.token",
                "not set: the JSON API refuses every write (job submit, cancel); set http.token_file to a file "
                "holding a token (make one with: openssl rand -hex 16)",
            )
        )
        if http.open_reads and not _is_loopback(http.host):
            found.append(
                Finding(
                    Severity.WARNING,
                    "http.open_reads",
                    f"true while http.bind ({http.bind}) is not a loopback address: anyone who reaches it reads "
                    "your jobs and decisions; bind 127.0.0.1 or set open_reads = false",
                )
            )
    return found


def database_url_findings(url: str, *, dialect: str | None, driver_error: str | None) -> list[Finding]:
    """A URL that does not parse (``dialect`` None), a backend vastbid does not support, or a driver missing.

    The caller parses ``url`` with SQLAlchemy and passes the backend name and why its driver failed to load. A
    password in the URL is never shown.
    """
    url = mask_url_password(url)
    if dialect is None:
        return [
            Finding(
                Severity.ERROR,
                "database.url",
                f"{url!r} is not a database URL: use sqlite:///PATH/vastbid.db or postgresql+psycopg://USER@HOST/DB",
            )
        ]
    if dialect not in SUPPORTED_DIALECTS:
        return [
            Finding(
                Severity.ERROR,
                "database.url",
                f"the {dialect} database is not supported (got {url!r}): use sqlite:///PATH/vastbid.db or "
                "postgresql+psycopg://USER@HOST/DB",
            )
        ]
    if driver_error is not None:
        return [
            Finding(
                Severity.ERROR,
                "database.url",
                f"the driver for {url!r} is not installed ({driver_error}): for PostgreSQL use "
                "postgresql+psycopg:// and install vastbid[postgres]",
            )
        ]
    return []
