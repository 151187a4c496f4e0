"""systemd notify: the daemon process tells $NOTIFY_SOCKET it is ready, pets the watchdog each tick, says stopping.

The daemon runs as a subprocess (the real loop over an embedded simulator); the test is the service manager,
listening on a unix datagram socket as systemd does for ``Type=notify`` units.
"""

from __future__ import annotations

import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ._support import Service, daemon_env, driver_args


class NotifyListener:
    """A unix datagram socket that records every notify message (one ``dict`` per datagram)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.messages: list[dict[str, str]] = []

    def collect_until(
        self, done: Callable[[list[dict[str, str]]], bool], *, timeout: float, service: Service
    ) -> list[dict[str, str]]:
        """Receive messages until ``done(messages)`` holds; fail with the daemon's output after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while not done(self.messages):
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail(f"notify messages so far {self.messages}; daemon output:\n{service.output()}")
            self.sock.settimeout(min(left, 0.5))
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            fields = dict(line.split("=", 1) for line in data.decode().splitlines() if line)
            self.messages.append(fields)
        return self.messages

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[NotifyListener]:
    # A short directory: unix socket paths are limited to 107 bytes, pytest's tmp_path can be longer.
    with tempfile.TemporaryDirectory(prefix="vb-notify-") as directory:
        sock = NotifyListener(Path(directory) / "notify.sock")
        try:
            yield sock
        finally:
            sock.close()


def _count(messages: list[dict[str, str]], key: str) -> int:
    return sum(1 for message in messages if message.get(key) == "1")


def test_daemon_reports_ready_then_a_watchdog_ping_per_tick_then_stopping(
    listener: NotifyListener, tmp_path: Path
) -> None:
    daemon = Service(
        "daemon",
        driver_args(tmp_path / "vastbid.db", tick=1.0),
        tmp_path / "daemon.log",
        env=daemon_env(NOTIFY_SOCKET=str(listener.path)),
    )
    try:
        listener.collect_until(lambda m: _count(m, "WATCHDOG") >= 2, timeout=30, service=daemon)
        before_stop = list(listener.messages)
        code = daemon.terminate(timeout=20)
        listener.collect_until(lambda m: _count(m, "STOPPING") >= 1, timeout=5, service=daemon)
    finally:
        daemon.stop()

    assert code == 0, daemon.output()
    assert before_stop[0].get("READY") == "1", before_stop
    assert _count(before_stop, "READY") == 1
    assert _count(before_stop, "STOPPING") == 0
    # Each tick pets the watchdog and says how it went, in a status line systemctl shows.
    statuses = [m["STATUS"] for m in before_stop if "STATUS" in m]
    assert statuses and all(s.startswith("tick ") for s in statuses), before_stop
    assert any(s.endswith(" ok") for s in statuses), before_stop
    stopping_at = next(i for i, m in enumerate(listener.messages) if m.get("STOPPING") == "1")
    assert all("READY" not in m for m in listener.messages[stopping_at:])
    assert "Traceback" not in daemon.output()
