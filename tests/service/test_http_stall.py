"""300 clients that never finish their headers: the daemon's thread count stays bounded and /healthz answers.

The daemon is ``vastbid run --simulate --http`` in a subprocess (its jobs already over, so the one tick has nothing
to rent), with its default server limits. Its threads are counted in ``/proc/<pid>/task``. The stalled clients are
real sockets on 127.0.0.1, closed at the end; nothing waits for the server's header timeout (10 s by default):
a stalled client costs the daemon a socket, never a thread, from the moment it connects.
"""

from __future__ import annotations

import os
import socket
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from vastbid.backtest.scenario import demo_jobs
from vastbid.obs.serving import ServerLimits
from vastbid.store import open_store

from ._support import Service, daemon_env, free_port, wait_for

STALLED = 300
PROBE_EVERY = 30
"""A health check after every this many new stalled clients, and ten more once all are in."""


def _threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="counts threads in /proc")
def test_stalled_clients_hold_no_thread_and_health_answers_throughout(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'vastbid.db'}"
    with open_store(db, upgrade=True) as store:  # the demo jobs, already over: the tick has nothing to rent
        for job in store.jobs.submit_many(demo_jobs(datetime.now(UTC))):
            store.jobs.cancel(job.id)
    port = free_port()
    command = [sys.executable, "-c", "from vastbid.cli.main import main; main()", "run", "--simulate"]
    command += ["--db", db, "--http", f"127.0.0.1:{port}", "--log-format", "json"]
    env = daemon_env(HOME=str(tmp_path), VASTBID_DAEMON__TICK_SECONDS="3600")
    daemon = Service("daemon", command, tmp_path / "daemon.log", env=env)
    stalled: list[socket.socket] = []
    http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5)
    latencies: list[float] = []

    def healthz() -> None:
        started = time.monotonic()
        reply = http.get("/healthz")
        latencies.append(time.monotonic() - started)
        assert reply.status_code == 200, reply.text

    try:
        wait_for("the daemon's first tick", lambda: '"tick_done"' in daemon.output(), timeout=60, service=daemon)
        for _ in range(3):
            healthz()
        before = _threads(daemon.process.pid)

        during: list[int] = []
        for number in range(1, STALLED + 1):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: stall")  # and never the end
            stalled.append(sock)
            if number % PROBE_EVERY == 0:
                healthz()
                during.append(_threads(daemon.process.pid))
        for _ in range(10):
            healthz()
            during.append(_threads(daemon.process.pid))
        stall_latencies = latencies[3:]

        for sock in stalled:
            sock.close()
        stalled.clear()
        healthz()
        after = _threads(daemon.process.pid)

        print(
            f"\nthreads before {before}, during the stall at most {max(during)}, after {after}; /healthz under the "
            f"stall: {len(stall_latencies)} answers, median {statistics.median(stall_latencies) * 1000:.1f} ms, "
            f"slowest {max(stall_latencies) * 1000:.1f} ms"
        )
        assert max(during) <= before + ServerLimits().workers  # the pool's workers at most, whatever clients do
        assert max(stall_latencies) < 2.0
        assert after <= before + ServerLimits().workers
        assert daemon.terminate() == 0, daemon.output()
    finally:
        for sock in stalled:
            sock.close()
        http.close()
        daemon.stop()
