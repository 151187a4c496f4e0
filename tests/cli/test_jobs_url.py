"""`vastbid jobs ... --url`: the same commands against a running daemon's JSON API print what the database path
prints; the token comes from --token or VASTBID_HTTP_TOKEN, and a refused or failed request writes nothing."""

from __future__ import annotations

import io
import json
import logging
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import structlog
from prometheus_client import CollectorRegistry
from pydantic import SecretStr
from typer.testing import CliRunner, Result

from vastbid.cli.main import app
from vastbid.core.budget import Budget
from vastbid.daemon.clock import EpochClock
from vastbid.daemon.config import DaemonConfig
from vastbid.daemon.service import DaemonService
from vastbid.daemon.tick import Daemon
from vastbid.obs.http import HttpApp, HttpServer
from vastbid.obs.logging import configure_logging
from vastbid.obs.metrics import Metrics
from vastbid.sim import ManualClock, SimConfig, Simulator
from vastbid.store import Store, open_store
from vastbid.vast.factory import make_market_api

TOKEN = "cli-Token/77"
SUBMIT = ["--name", "train", "--image", "img:1", "--max-price-per-gpu", "0.4", "--num-gpus", "2"]


@dataclass
class Daemonish:
    url: str
    db: str
    store: Store


@pytest.fixture
def daemon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Daemonish]:
    for name in ("VASTBID_HTTP_TOKEN", "VASTBID_HTTP__TOKEN", "VASTBID_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    # The daemon's log goes to its own stream, not into the CLI output the tests compare.
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    configure_logging(stream=io.StringIO(), level="info", fmt="json")
    clock = ManualClock(start=1_800_000_000.0)
    sim = Simulator(SimConfig(seed=3, scenario="small", processes=False, api_key="k"), clock=clock)
    api = make_market_api("native", httpx.Client(transport=sim.transport(), base_url="http://sim.local"), "k")
    db = f"sqlite:///{tmp_path / 'daemon.db'}"
    store = open_store(db, upgrade=True)
    config = DaemonConfig(deployment="t", tick_seconds=60.0, budget=Budget(), config_hash="h")
    registry = CollectorRegistry()
    running = Daemon(config, api, store, EpochClock(clock.now), metrics=Metrics(registry))
    http_app = HttpApp(DaemonService(running), registry, token=SecretStr(TOKEN))
    with HttpServer(http_app, "127.0.0.1", 0, poll_interval=0.02) as server:
        yield Daemonish(server.url, db, store)
    store.close()
    structlog.reset_defaults()
    for handler in root.handlers:
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


def _jobs(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(app, ["jobs", *args], env=env)


def _over(d: Daemonish, *args: str) -> Result:
    return _jobs(*args, "--url", d.url, "--token", TOKEN)


def _direct(d: Daemonish, *args: str) -> Result:
    return _jobs(*args, "--db", d.db)


def test_submit_list_show_cancel_over_url_print_what_the_database_path_prints(daemon: Daemonish) -> None:
    submitted = _over(daemon, "submit", *SUBMIT)
    assert submitted.exit_code == 0, submitted.output
    assert submitted.output.strip() == "submitted job 1 (train): queued"
    assert daemon.store.jobs.get(1).spec.num_gpus == 2

    for args in (["list"], ["list", "--json"], ["list", "--state", "queued"], ["show", "1"], ["show", "1", "--json"]):
        over, direct = _over(daemon, *args), _direct(daemon, *args)
        assert over.exit_code == direct.exit_code == 0, over.output
        assert over.output == direct.output, args
    assert "train" in _over(daemon, "list").output

    cancelled = _over(daemon, "cancel", "1", "--json")
    assert cancelled.exit_code == 0, cancelled.output
    assert json.loads(cancelled.output)["state"] == "cancelled"
    assert daemon.store.jobs.get(1).state.value == "cancelled"


def test_the_token_can_come_from_the_environment(daemon: Daemonish) -> None:
    result = _jobs("submit", *SUBMIT, "--json", "--url", daemon.url, env={"VASTBID_HTTP_TOKEN": TOKEN})
    assert result.exit_code == 0, result.output
    [job] = json.loads(result.output)
    assert job["spec"]["name"] == "train"


@pytest.mark.parametrize("token", [None, "wrong"])
def test_without_the_right_token_nothing_is_written(daemon: Daemonish, token: str | None) -> None:
    daemon.store.jobs.submit({"name": "keep", "image": "img:1", "max_price_per_gpu": 0.4})
    extra = ["--token", token] if token else []
    submitted = _jobs("submit", *SUBMIT, "--url", daemon.url, *extra)
    cancelled = _jobs("cancel", "1", "--url", daemon.url, *extra)
    for result in (submitted, cancelled):
        assert result.exit_code == 2
        assert "refused the token" in result.output
        assert TOKEN not in result.output
    assert [(j.spec.name, j.state.value) for j in daemon.store.jobs.list()] == [("keep", "queued")]


def test_refusals_read_as_on_the_database_path(daemon: Daemonish) -> None:
    missing = _over(daemon, "show", "99")
    assert missing.exit_code == _direct(daemon, "show", "99").exit_code == 2
    assert "there is no job 99" in missing.output

    assert _over(daemon, "submit", *SUBMIT).exit_code == 0
    assert _over(daemon, "cancel", "1").exit_code == 0
    again_over, again_direct = _over(daemon, "cancel", "1"), _direct(daemon, "cancel", "1")
    assert again_over.exit_code == again_direct.exit_code == 2
    assert again_over.output == again_direct.output
    assert "already cancelled" in again_over.output


def test_a_bad_spec_is_refused_naming_the_field_before_any_request(daemon: Daemonish) -> None:
    result = _over(daemon, "submit", "--name", "x", "--image", "i", "--max-price-per-gpu", "-1")
    assert result.exit_code == 2
    assert "max_price_per_gpu" in result.output
    assert daemon.store.jobs.list() == []


def test_no_daemon_at_the_url_and_conflicting_options_are_clear_errors(daemon: Daemonish) -> None:
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    unreachable = _jobs("list", "--url", f"http://127.0.0.1:{free}", "--token", TOKEN)
    assert unreachable.exit_code == 1
    assert "cannot reach the daemon" in unreachable.output

    both = _jobs("list", "--url", daemon.url, "--db", daemon.db)
    assert both.exit_code == 2
    assert "not both" in both.output
