"""Shared fixtures: no test reaches the network; each test gets fresh state."""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog

from vastbid.obs.logging import forget_secrets

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _is_local(address: Any) -> bool:
    if isinstance(address, str | bytes):  # AF_UNIX path (NOTIFY_SOCKET, PostgreSQL socket)
        return True
    host = address[0] if isinstance(address, tuple) else address
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _guarded_connect(self: socket.socket, address: Any) -> None:
    if not _is_local(address):
        raise RuntimeError(f"tests may not reach the network: connect to {address!r}")
    _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    if not _is_local(address):
        raise RuntimeError(f"tests may not reach the network: connect to {address!r}")
    return _real_connect_ex(self, address)


@pytest.fixture(autouse=True)
def _fresh_logging() -> Iterator[None]:
    """Undo what a test's ``configure_logging`` or ``redact`` did: the root handlers and level, structlog's
    configuration and the secrets to mask. A handler left behind writes to a stream (a CLI runner's) that is closed
    once its test ends, and later tests' log lines would hit it."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    forget_secrets()
    structlog.reset_defaults()
    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Refuse any connection that leaves the machine."""
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", _guarded_connect_ex)
    yield


ROOT = Path(__file__).resolve().parent.parent
"""The repository's root."""


@pytest.fixture(scope="session")
def traces_dir() -> Path:
    """The shared spot traces: ``$VASTBID_TRACES_DIR``, else ``shared/traces`` beside the checkout.

    Missing traces skip the test on a developer's machine and fail it in CI (``CI`` set), where they must be.
    """
    folder = Path(os.environ.get("VASTBID_TRACES_DIR") or ROOT.parent / "shared" / "traces")
    if not folder.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"the shared traces are missing at {folder} (set VASTBID_TRACES_DIR)")
        pytest.skip(f"the shared traces are not at {folder}")
    return folder
