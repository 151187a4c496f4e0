"""The systemd notify protocol: tell the service manager we are ready, alive, stopping, and what we do.

A message is newline-separated ``KEY=value`` lines in one datagram to the unix socket named by
``$NOTIFY_SOCKET`` (a filesystem path, or ``@name`` for the abstract namespace). Without ``$NOTIFY_SOCKET``
(not under systemd, or ``NotifyAccess`` denies us) every call is a no-op that returns ``False``.
Sending never raises: a lost watchdog ping is systemd's to judge, not a reason for the daemon to fail.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

_log = logging.getLogger(__name__)
_STATUS_MAX = 512


class Notifier:
    """Sends notify messages to one socket address (``None`` = do nothing)."""

    def __init__(self, address: str | None) -> None:
        self.address = address or None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Notifier:
        """The notifier ``$NOTIFY_SOCKET`` names (a no-op one when unset)."""
        env = os.environ if environ is None else environ
        return cls(env.get("NOTIFY_SOCKET"))

    @property
    def enabled(self) -> bool:
        """Whether messages go anywhere."""
        return self.address is not None

    def send(self, **fields: str | int) -> bool:
        """Send ``KEY=value`` fields in one datagram; ``True`` if it was handed to the socket."""
        if self.address is None:
            return False
        target = _socket_address(self.address)
        if target is None:
            _log.warning("notify_socket_unsupported: %s", self.address)
            return False
        payload = "\n".join(f"{key}={value}" for key, value in fields.items()).encode()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.connect(target)
                sock.sendall(payload)
        except OSError as exc:
            _log.warning("notify_failed: %s", exc.strerror or exc)
            return False
        return True

    def ready(self, status: str | None = None) -> bool:
        """Startup is done (``Type=notify`` units count as started from here)."""
        if status is None:
            return self.send(READY=1)
        return self.send(READY=1, STATUS=_one_line(status))

    def watchdog(self) -> bool:
        """Still alive: reset the ``WatchdogSec=`` timer."""
        return self.send(WATCHDOG=1)

    def stopping(self, status: str | None = None) -> bool:
        """Shutdown has begun."""
        if status is None:
            return self.send(STOPPING=1)
        return self.send(STOPPING=1, STATUS=_one_line(status))

    def status(self, text: str) -> bool:
        """A one-line status that ``systemctl status`` shows."""
        return self.send(STATUS=_one_line(text))


def _socket_address(address: str) -> str | None:
    if address.startswith("@"):
        return "\0" + address[1:]
    if address.startswith("/"):
        return address
    return None  # vsock: and other transports are not supported


def _one_line(text: str) -> str:
    return " ".join(text.split())[:_STATUS_MAX]


def watchdog_interval(environ: Mapping[str, str] | None = None) -> float | None:
    """How often to ping the watchdog, in seconds: half of ``$WATCHDOG_USEC``, or ``None`` when not asked.

    ``$WATCHDOG_PID``, when set, must be our pid (the variable may be inherited by a child).
    """
    env = os.environ if environ is None else environ
    usec, pid = env.get("WATCHDOG_USEC"), env.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        micros = int(usec)
    except ValueError:
        return None
    return micros / 2_000_000 if micros > 0 else None


def ready(status: str | None = None) -> bool:
    """``Notifier.ready`` on ``$NOTIFY_SOCKET``."""
    return Notifier.from_environment().ready(status)


def watchdog() -> bool:
    """``Notifier.watchdog`` on ``$NOTIFY_SOCKET``."""
    return Notifier.from_environment().watchdog()


def stopping(status: str | None = None) -> bool:
    """``Notifier.stopping`` on ``$NOTIFY_SOCKET``."""
    return Notifier.from_environment().stopping(status)


def status(text: str) -> bool:
    """``Notifier.status`` on ``$NOTIFY_SOCKET``."""
    return Notifier.from_environment().status(text)
