"""sd_notify: the datagrams systemd receives on $NOTIFY_SOCKET (a real unix socket the test listens on)."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from vastbid.obs import notify
from vastbid.obs.notify import Notifier, watchdog_interval


class Listener:
    def __init__(self, sock: socket.socket, address: str) -> None:
        self.sock = sock
        self.address = address

    def receive(self) -> dict[str, str]:
        data = self.sock.recv(4096).decode()
        return dict(line.split("=", 1) for line in data.split("\n"))

    def pending(self) -> bool:
        self.sock.setblocking(False)
        try:
            self.sock.recv(4096)
        except BlockingIOError:
            return False
        finally:
            self.sock.settimeout(5)
        return True


def _listen(bind_to: str, env_value: str) -> Iterator[Listener]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.settimeout(5)
    sock.bind(bind_to)
    try:
        yield Listener(sock, env_value)
    finally:
        sock.close()


@pytest.fixture
def path_listener(tmp_path: Path) -> Iterator[Listener]:
    path = str(tmp_path / "notify.sock")
    yield from _listen(path, path)


@pytest.fixture
def abstract_listener() -> Iterator[Listener]:
    name = f"vastbid-test-{uuid.uuid4().hex}"
    yield from _listen("\0" + name, "@" + name)


@pytest.fixture(params=["path", "abstract"])
def listener(request: pytest.FixtureRequest) -> Listener:
    fixture = "path_listener" if request.param == "path" else "abstract_listener"
    result: Listener = request.getfixturevalue(fixture)
    return result


def test_ready_watchdog_status_and_stopping_arrive(listener: Listener, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", listener.address)
    assert notify.ready("started: 3 jobs")
    assert listener.receive() == {"READY": "1", "STATUS": "started: 3 jobs"}
    assert notify.watchdog()
    assert listener.receive() == {"WATCHDOG": "1"}
    assert notify.status("tick 7 ok\nburn 1.20 $/h")
    assert listener.receive() == {"STATUS": "tick 7 ok burn 1.20 $/h"}  # one line: newlines would split fields
    assert notify.stopping()
    assert listener.receive() == {"STOPPING": "1"}


def test_without_notify_socket_every_call_is_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert not Notifier.from_environment().enabled
    assert notify.ready() is False
    assert notify.watchdog() is False
    assert notify.stopping("bye") is False
    assert notify.status("x") is False


def test_a_vanished_socket_is_reported_not_raised(tmp_path: Path) -> None:
    notifier = Notifier(str(tmp_path / "gone.sock"))
    assert notifier.enabled
    assert notifier.watchdog() is False


def test_unsupported_addresses_are_refused_quietly(path_listener: Listener) -> None:
    assert Notifier("vsock:2:1234").ready() is False
    assert not path_listener.pending()


def test_notifier_reads_the_environment_it_is_given(path_listener: Listener) -> None:
    notifier = Notifier.from_environment({"NOTIFY_SOCKET": path_listener.address})
    assert notifier.ready()
    assert path_listener.receive() == {"READY": "1"}


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, None),
        ({"WATCHDOG_USEC": "300000000"}, 150.0),
        ({"WATCHDOG_USEC": "300000000", "WATCHDOG_PID": str(os.getpid())}, 150.0),
        ({"WATCHDOG_USEC": "300000000", "WATCHDOG_PID": "1"}, None),  # meant for another process
        ({"WATCHDOG_USEC": "soon"}, None),
        ({"WATCHDOG_USEC": "0"}, None),
    ],
)
def test_watchdog_interval_is_half_the_timeout(environ: dict[str, str], expected: float | None) -> None:
    assert watchdog_interval(environ) == expected
