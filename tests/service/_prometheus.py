"""A real Prometheus server for the service tests: a scrape config for one vastbid target, started on a free
port with its own storage, queried through its HTTP API.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from ._support import CONFIG, Service, free_port, require_tool, wait_for

ALERTS = CONFIG / "prometheus" / "alerts.yml"


def prometheus_config(target: str) -> str:
    """Scrape ``target`` as job ``vastbid`` every second and evaluate the repository's alert rules every second.

    JSON is YAML: no YAML library needed to write it.
    """
    return json.dumps(
        {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(ALERTS)],
            "scrape_configs": [
                {"job_name": "vastbid", "metrics_path": "/metrics", "static_configs": [{"targets": [target]}]}
            ],
        },
        indent=2,
    )


class Prometheus:
    """A running Prometheus and a client for its HTTP API."""

    def __init__(self, workdir: Path, target: str, *, extra_flags: tuple[str, ...] = ()) -> None:
        binary = require_tool("prometheus")
        workdir.mkdir(parents=True, exist_ok=True)
        config = workdir / "prometheus.yml"
        config.write_text(prometheus_config(target))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.service = Service(
            "prometheus",
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                *extra_flags,
            ],
            workdir / "prometheus.log",
        )
        self.http = httpx.Client(base_url=self.url, timeout=10)

    def wait_ready(self, timeout: float = 30) -> None:
        wait_for("Prometheus to be ready", self._ready, timeout=timeout, service=self.service)

    def _ready(self) -> bool:
        try:
            return self.http.get("/-/ready").status_code == 200
        except httpx.TransportError:
            return False

    def api(self, path: str, **params: Any) -> dict[str, Any]:
        """``/api/v1/<path>``'s ``data``; fails the test with Prometheus's own error when the status is not success."""
        reply = self.http.get(f"/api/v1/{path}", params=params)
        body = reply.json()
        if body.get("status") != "success":
            pytest.fail(f"Prometheus refused {path} {params}: {body.get('errorType')}: {body.get('error')}")
        data: dict[str, Any] = body["data"]
        return data

    def query(self, expr: str, at: float | None = None) -> dict[str, Any]:
        """An instant query's data (``resultType`` and ``result``), at ``at`` (epoch seconds) or now."""
        if at is None:
            return self.api("query", query=expr)
        return self.api("query", query=expr, time=f"{at:.3f}")

    def values(self, expr: str, at: float | None = None) -> list[float]:
        """The sample values of an instant vector query (empty when nothing matches)."""
        data = self.query(expr, at)
        assert data["resultType"] == "vector", data
        return [float(sample["value"][1]) for sample in data["result"]]

    def stop(self) -> None:
        self.http.close()
        self.service.stop()
