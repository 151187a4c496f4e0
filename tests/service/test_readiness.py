"""Readiness through an outage: the simulated market stops answering for longer than the readiness window
(three tick intervals), ``/readyz`` turns 503 and the alert rules' conditions become true; once the market answers
again, both recover.

The daemon is the real loop in a subprocess (``_driver.py``: a 1 s tick, the simulator embedded, and a flag file
that makes the simulator answer 503 to everything while it exists). A real Prometheus scrapes it every second.
"VastbidNoSuccessfulTick" needs five minutes of failure: its own expression (as Prometheus loaded it) is evaluated
at a ``time`` 301 s after the last successful tick, with a lookback long enough to still see the last scrape, so
that the five minutes pass without waiting for them.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ._prometheus import Prometheus
from ._support import Service, daemon_env, driver_args, free_port, wait_for

TICK_SECONDS = 1.0
WINDOW_SECONDS = 3 * TICK_SECONDS  # readiness: a successful tick within three intervals


class Daemon:
    def __init__(self, tmp_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.outage_flag = tmp_path / "outage"
        self.service = Service(
            "daemon",
            driver_args(
                tmp_path / "vastbid.db",
                tick=TICK_SECONDS,
                http=f"127.0.0.1:{self.port}",
                outage_flag=self.outage_flag,
            ),
            tmp_path / "daemon.log",
            env=daemon_env(),
        )
        self.http = httpx.Client(base_url=self.url, timeout=5)

    def readyz(self) -> tuple[int, str]:
        try:
            reply = self.http.get("/readyz")
        except httpx.TransportError:
            return 0, "not serving"
        return reply.status_code, str(reply.json().get("reason", ""))

    def metric(self, name: str) -> float | None:
        found = re.search(rf"^{re.escape(name)} (\S+)$", self.http.get("/metrics").text, re.MULTILINE)
        return float(found.group(1)) if found else None


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[Daemon, Prometheus]]:
    daemon = Daemon(tmp_path)
    prometheus = None
    try:
        prometheus = Prometheus(
            tmp_path / "prometheus", f"127.0.0.1:{daemon.port}", extra_flags=("--query.lookback-delta=15m",)
        )
        yield daemon, prometheus
    finally:
        if prometheus is not None:
            prometheus.stop()
        daemon.http.close()
        daemon.service.stop()


def _rule_queries(prometheus: Prometheus) -> dict[str, str]:
    """Each alert rule's expression, as Prometheus parsed it from the repository's alerts.yml."""
    groups: list[dict[str, Any]] = prometheus.api("rules")["groups"]
    return {rule["name"]: rule["query"] for group in groups for rule in group["rules"]}


def test_readyz_and_the_alerts_follow_a_market_outage_and_its_end(running: tuple[Daemon, Prometheus]) -> None:
    daemon, prom = running
    prom.wait_ready()
    rules = _rule_queries(prom)
    no_tick, not_ready = rules["VastbidNoSuccessfulTick"], rules["VastbidNotReady"]

    # Healthy: ready, and Prometheus has seen it ready.
    wait_for("/readyz 200", lambda: daemon.readyz()[0] == 200, timeout=60, service=daemon.service)
    wait_for(
        "Prometheus to see ready", lambda: prom.values("vastbid_ready") == [1.0], timeout=20, service=daemon.service
    )
    assert prom.values(not_ready) == []

    # The market stops answering.
    daemon.outage_flag.touch()
    wait_for("a failed tick", lambda: (daemon.metric('vastbid_ticks_total{result="error"}') or 0) >= 1, timeout=20)

    def unready_reason() -> str | None:
        status, why = daemon.readyz()
        return why if status == 503 else None

    reason = wait_for("/readyz 503", unready_reason, timeout=30, service=daemon.service)
    unready_at = time.time()
    last_ok = daemon.metric("vastbid_last_successful_tick_timestamp_seconds")
    assert last_ok is not None
    assert "tick" in reason, reason
    # Not on the first failed tick (about one interval after the last success) but once the window has passed
    # since that success ended, however long the tick took (the gauge is stamped a moment after readiness dates
    # the success: the margin covers that moment, not a tick).
    assert unready_at - last_ok >= WINDOW_SECONDS - 0.5
    assert daemon.readyz()[0] == 503  # and it stays so while the market is down

    # Prometheus sees it: not ready now; and with no success since, five minutes on "no successful tick" fires.
    wait_for("Prometheus to see not ready", lambda: prom.values(not_ready) == [0.0], timeout=20, service=daemon.service)
    wait_for(
        "a scrape with the stale success time",
        lambda: (
            prom.values("vastbid_last_successful_tick_timestamp_seconds") == [last_ok]
            and prom.values('vastbid_ticks_total{result="error"}')[0] >= 2
        ),
        timeout=20,
    )
    five_minutes_on = last_ok + 301
    assert prom.values(no_tick) == []  # not yet: seconds, not minutes
    (overdue,) = prom.values(no_tick, at=five_minutes_on)
    assert overdue == pytest.approx(301, abs=1)  # the alert's value: seconds since the last success

    # The market answers again: ready again, and the same instant no longer finds the daemon overdue.
    daemon.outage_flag.unlink()
    wait_for("/readyz 200 again", lambda: daemon.readyz()[0] == 200, timeout=30, service=daemon.service)
    recovered = daemon.metric("vastbid_last_successful_tick_timestamp_seconds")
    assert recovered is not None and recovered > last_ok
    wait_for("Prometheus to see ready again", lambda: prom.values(not_ready) == [], timeout=20, service=daemon.service)
    wait_for(
        "a scrape with the new success time",
        lambda: (prom.values("vastbid_last_successful_tick_timestamp_seconds") or [0.0])[0] > last_ok,
        timeout=20,
    )
    assert prom.values(no_tick, at=five_minutes_on) == []
    assert daemon.service.process.poll() is None, "the daemon survived the outage"
