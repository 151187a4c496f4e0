"""Service-test support: the daemon and tools as subprocesses, free ports, bounded waits.

Every wait has a deadline and every process started here is killed in ``finally`` by ``Service.stop``.
A missing external tool skips the test, except in CI (``CI`` set) where it fails it.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "config"
DRIVER = Path(__file__).with_name("_driver.py")
BIN = Path(sys.executable).parent

T = TypeVar("T")


def require_tool(name: str) -> str:
    """The tool's path (project venv first, then $PATH); skip when missing, fail instead in CI."""
    path = shutil.which(name, path=os.pathsep.join([str(BIN), os.environ.get("PATH", "")]))
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is not installed: CI must run .ci/install-tools first")
        pytest.skip(f"{name} is not installed (run .ci/install-tools)")
    return path


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(what: str, probe: Callable[[], T | None], *, timeout: float, service: Service | None = None) -> T:
    """Poll ``probe`` every 0.1 s until it returns something truthy; fail (with the service's output) on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if service is not None and service.process.poll() is not None:
            pytest.fail(
                f"{service.name} exited with {service.process.returncode} while waiting for {what}:\n{service.output()}"
            )
        if time.monotonic() > deadline:
            detail = f":\n{service.output()}" if service is not None else ""
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}{detail}")
        time.sleep(0.1)  # polling a real subprocess: there is no clock to inject


class Service:
    """A subprocess whose output goes to a file, so it never blocks on a full pipe."""

    def __init__(self, name: str, args: Sequence[str | Path], log: Path, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.log = log
        self._out = log.open("wb")
        self.process = subprocess.Popen(
            [str(a) for a in args], stdout=self._out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )

    def output(self) -> str:
        """The last few thousand characters the process wrote."""
        return self.log.read_text(errors="replace")[-6000:]

    def terminate(self, timeout: float = 20.0) -> int:
        """SIGTERM, then wait for the exit code (killed and failed if it does not stop in time)."""
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            pytest.fail(f"{self.name} did not stop within {timeout:g} s of SIGTERM:\n{self.output()}")

    def stop(self) -> None:
        """Kill the process if it still runs; close the log."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self._out.close()


def daemon_env(**extra: str) -> dict[str, str]:
    """The environment for a daemon subprocess: ours, minus anything systemd or vastbid settings might read."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VASTBID_", "NOTIFY_", "WATCHDOG_", "VAST_"))}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def driver_args(db: Path, *, tick: float, http: str | None = None, outage_flag: Path | None = None) -> list[str]:
    """The command line of ``_driver.py`` (the daemon over an embedded simulator, no client-side pacing)."""
    args = [sys.executable, str(DRIVER), "--db", str(db), "--tick", str(tick)]
    if http is not None:
        args += ["--http", http]
    if outage_flag is not None:
        args += ["--outage-flag", str(outage_flag)]
    return args
