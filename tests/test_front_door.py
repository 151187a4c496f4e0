"""The operator's front door: one validation of a job through every door (flags, file, HTTP).

Each bad input of the table is refused through each door that can express it: `vastbid jobs submit` with flags and
with `--file` exit 2, `POST /api/v1/jobs` answers 422; every refusal names the field, and the database file is
byte-for-byte what it was. The same specs made good are accepted, so each row fails for its one reason.
"""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from prometheus_client import CollectorRegistry
from pydantic import SecretStr
from typer.testing import CliRunner, Result

from vastbid.cli.common import front_door_checks
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
from vastbid.store import open_store, parse_job_specs
from vastbid.vast.factory import make_market_api

TOKEN = "front-door-token-0123456789"
NOW = datetime.now(UTC)
BASE: dict[str, Any] = {"name": "t", "image": "img:1", "max_price_per_gpu": 0.5}
DROP = object()


def _at(hours: float) -> str:
    return (NOW + timedelta(hours=hours)).isoformat()


@dataclass(frozen=True)
class Bad:
    """A spec that differs from a good one by one thing, and the field its refusal must name."""

    id: str
    changes: Mapping[str, Any]
    field: str
    says: str = ""
    """A further piece of text the refusal must carry (the fix, the closest name...)."""

    def spec(self) -> dict[str, Any]:
        spec = {**BASE, **self.changes}
        return {k: v for k, v in spec.items() if v is not DROP}


TABLE: list[Bad] = [
    # the offer query: the grammar, the known offer fields, the value types
    Bad("operator >>", {"filter": "num_gpus>>2"}, "filter", "unknown operator '>>'"),
    Bad("blank value", {"filter": "gpu_name="}, "filter"),
    Bad("unknown field colour", {"filter": "colour=red"}, "filter", "'colour'"),
    Bad("misspelt gpu_nam", {"filter": "gpu_nam=RTX_4090"}, "filter", "did you mean 'gpu_name'"),
    Bad("misspelt dph_totl", {"filter": "dph_totl<1"}, "filter", "did you mean 'dph_total'"),
    Bad("text ordered", {"filter": "gpu_name>RTX_4090"}, "filter", "cannot be ordered"),
    Bad("number expected", {"filter": "num_gpus>=abc"}, "filter", "needs a number"),
    Bad("price not a number", {"filter": "dph<cheap"}, "filter", "needs a number"),
    Bad("empty list", {"filter": "geolocation in []"}, "filter"),
    Bad("trailing junk", {"filter": "gpu_name=RTX_4090 &&"}, "filter"),
    Bad("bool expected", {"filter": "verified=maybe"}, "filter", "true or false"),
    Bad("list without in", {"filter": "num_gpus=[1,2]"}, "filter"),
    Bad("unit field not a number", {"filter": "gpu_ram=lots"}, "filter"),
    Bad("driver version form", {"filter": "driver_version=5.1"}, "filter"),
    Bad("wildcard with >", {"filter": "gpu_name>any"}, "filter"),
    Bad("old name, bad query", {"offer_filter": "colour=red"}, "filter"),
    # the strategy and its parameters
    Bad("unknown strategy", {"strategy": "bogus"}, "strategy", "use one of"),
    Bad("strategy case", {"strategy": "Cheapest_Per_Gpu"}, "strategy"),
    Bad("param of nothing", {"params": {"foo": "bar"}}, "params", "'foo'"),
    Bad(
        "param type",
        {"strategy": "price_threshold", "params": {"acquire_below": "cheap", "release_above": 1}},
        "params",
    ),
    Bad("params missing", {"strategy": "price_threshold"}, "params", "required"),
    Bad("param unknown", {"strategy": "deadline_aware", "params": {"frobnicate": 1}}, "params", "frobnicate"),
    Bad("bid margin type", {"strategy": "cheapest_per_gpu", "params": {"bid_margin": "wide"}}, "params"),
    Bad("old name, bad params", {"strategy_params": {"foo": 1}}, "params"),
    # the deadline against now
    Bad("deadline past", {"deadline": "2020-01-01T00:00Z", "work_hours": 3}, "deadline", "already past"),
    Bad("deadline too close", {"deadline": _at(1), "work_hours": 3}, "deadline", "even on demand"),
    Bad(
        "no room for the restart",
        {"deadline": _at(3.2), "work_hours": 3, "restart_overhead_hours": 0.5},
        "deadline",
        "restart_overhead_hours",
    ),
    Bad("deadline without zone", {"deadline": "2036-01-01T00:00", "work_hours": 3}, "deadline", "time zone"),
    Bad("deadline without work", {"deadline": _at(48)}, "deadline", "work_hours"),
    Bad("deadline not a time", {"deadline": "tomorrow", "work_hours": 3}, "deadline"),
    # the spec on its own
    Bad("no GPUs", {"num_gpus": 0}, "num_gpus"),
    Bad("too many GPUs", {"num_gpus": 65}, "num_gpus"),
    Bad("free", {"max_price_per_gpu": 0}, "max_price_per_gpu"),
    Bad("negative price", {"max_price_per_gpu": -1}, "max_price_per_gpu"),
    Bad("price over any sense", {"max_price_per_gpu": 500}, "max_price_per_gpu"),
    Bad("price missing", {"max_price_per_gpu": DROP}, "max_price_per_gpu", "is required"),
    Bad("image missing", {"image": DROP}, "image", "is required"),
    Bad("empty name", {"name": ""}, "name"),
    Bad("rental", {"rental": "cheap"}, "rental"),
    Bad("no disk", {"disk_gb": 0}, "disk_gb"),
    Bad("priority", {"priority": 5000}, "priority"),
    Bad("env name", {"env": {"1BAD": "x"}}, "env"),
    Bad("negative work", {"work_hours": -2}, "work_hours"),
    Bad("restart overhead", {"restart_overhead_hours": 100}, "restart_overhead_hours"),
    Bad("max cost", {"max_cost": 0}, "max_cost"),
    # only a file or a request can say these
    Bad("unknown key", {"gpus": 2}, "gpus", "did you mean 'num_gpus'"),
    Bad("both names", {"filter": "num_gpus=1", "offer_filter": "num_gpus=2"}, "filter", "not both"),
    Bad("GPUs in words", {"num_gpus": "two"}, "num_gpus"),
    Bad("params as a list", {"params": ["bid_margin=1"]}, "params"),
    Bad("filter as a number", {"filter": 7}, "filter"),
]

_FLAGS = {
    "name": "--name",
    "image": "--image",
    "onstart": "--onstart",
    "filter": "--filter",
    "max_price_per_gpu": "--max-price-per-gpu",
    "num_gpus": "--num-gpus",
    "disk_gb": "--disk-gb",
    "rental": "--rental",
    "work_hours": "--work-hours",
    "deadline": "--deadline",
    "restart_overhead_hours": "--restart-overhead-hours",
    "priority": "--priority",
    "max_cost": "--max-cost",
    "strategy": "--strategy",
}
_INTS = {"num_gpus", "priority"}


def as_flags(spec: Mapping[str, Any]) -> list[str] | None:
    """The `jobs submit` flags saying ``spec``, or ``None`` when flags cannot say it (typer refuses it first)."""
    args: list[str] = []
    for key, value in spec.items():
        if key == "params" and isinstance(value, dict):
            args += [arg for k, v in value.items() for arg in ("--param", f"{k}={json.dumps(v)}")]
        elif key == "env" and isinstance(value, dict):
            args += [arg for k, v in value.items() for arg in ("--env", f"{k}={v}")]
        elif key in _FLAGS and not isinstance(value, bool | dict | list):
            if (isinstance(value, str) and (key in _INTS or key == "max_price_per_gpu")) or (
                key == "filter" and not isinstance(value, str)
            ):
                return None
            args += [_FLAGS[key], str(value)]
        else:
            return None
    return args


def _files(db_file: Path) -> dict[str, bytes]:
    """The database's bytes: the file and its write-ahead log (where a write would land first)."""
    return {p.name: p.read_bytes() for p in sorted(db_file.parent.glob(db_file.name + "*")) if p.is_file()}


# --- the doors ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cli_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database holding one job, closed."""
    path = tmp_path_factory.mktemp("cli") / "jobs.db"
    with open_store(f"sqlite:///{path}", upgrade=True) as store:
        store.jobs.submit(BASE)
    return path


@dataclass
class Http:
    url: str
    db_file: Path


@pytest.fixture(scope="module")
def http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Http]:
    """A daemon's HTTP API over a database holding one job, its clock at the real now."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    configure_logging(stream=io.StringIO(), level="info", fmt="json")
    clock = ManualClock(start=time.time())
    sim = Simulator(SimConfig(seed=3, scenario="small", processes=False, api_key="k"), clock=clock)
    api = make_market_api("native", httpx.Client(transport=sim.transport(), base_url="http://sim.local"), "k")
    db_file = tmp_path_factory.mktemp("http") / "daemon.db"
    store = open_store(f"sqlite:///{db_file}", upgrade=True)
    store.jobs.submit(BASE)
    config = DaemonConfig(deployment="t", tick_seconds=60.0, budget=Budget(), config_hash="h")
    registry = CollectorRegistry()
    daemon = Daemon(config, api, store, EpochClock(clock.now), metrics=Metrics(registry))
    service = DaemonService(daemon, checks=lambda: front_door_checks(None, now=daemon.clock.now()))  # as `run` does
    app_ = HttpApp(service, registry, token=SecretStr(TOKEN))
    with HttpServer(app_, "127.0.0.1", 0, poll_interval=0.02) as server:
        yield Http(server.url, db_file)
    store.close()
    structlog.reset_defaults()
    for handler in root.handlers:
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


def _submit_cli(db_file: Path, *args: str) -> Result:
    return CliRunner().invoke(app, ["jobs", "submit", *args, "--db", f"sqlite:///{db_file}"])


def _post(http: Http, body: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    return httpx.post(f"{http.url}/api/v1/jobs", json=body, headers=headers, timeout=10)


def _names_field(text: str, bad: Bad, *, flag: str | None = None) -> None:
    """The refusal names the field (``field: ...``; from flags, typer may name the flag) and says ``bad.says``."""
    if flag is not None and f"Invalid value for '{flag}'" in text:
        return
    assert f"{bad.field}:" in text, text
    assert bad.says in text, text


# --- the table -------------------------------------------------------------------------------------------------------


def test_the_table_is_large_and_its_rows_differ_from_a_good_spec_by_one_thing() -> None:
    assert len(TABLE) >= 40
    assert len({bad.id for bad in TABLE}) == len(TABLE)
    assert sum(as_flags(bad.spec()) is not None for bad in TABLE) >= 40
    good = parse_job_specs(
        [BASE, {**BASE, "filter": "gpu_name=RTX_4090 num_gpus>=1 dph<1.0"}], checks=front_door_checks(None)
    )
    assert len(good) == 2


@pytest.mark.parametrize("bad", TABLE, ids=[bad.id for bad in TABLE])
def test_flags_refuse_with_exit_2_naming_the_field_and_write_nothing(cli_db: Path, bad: Bad) -> None:
    flags = as_flags(bad.spec())
    if flags is None:
        pytest.skip("flags cannot say this")
    before = _files(cli_db)
    result = _submit_cli(cli_db, *flags)
    assert result.exit_code == 2, result.output
    _names_field(result.output, bad, flag=_FLAGS.get(bad.field))
    assert _files(cli_db) == before


@pytest.mark.parametrize("bad", TABLE, ids=[bad.id for bad in TABLE])
def test_a_file_is_refused_with_exit_2_naming_the_field_and_writes_nothing(
    cli_db: Path, tmp_path: Path, bad: Bad
) -> None:
    path = tmp_path / "job.json"
    path.write_text(json.dumps(bad.spec()))
    before = _files(cli_db)
    result = _submit_cli(cli_db, "--file", str(path))
    assert result.exit_code == 2, result.output
    _names_field(result.output, bad)
    assert _files(cli_db) == before


@pytest.mark.parametrize("bad", TABLE, ids=[bad.id for bad in TABLE])
def test_http_refuses_with_422_naming_the_field_and_writes_nothing(http: Http, bad: Bad) -> None:
    before = _files(http.db_file)
    reply = _post(http, bad.spec())
    assert reply.status_code == 422, reply.text
    body = reply.json()
    assert body["field"] == bad.field.split(".")[0] or body["field"].startswith(bad.field)
    _names_field(body["msg"], bad)
    assert _files(http.db_file) == before


def test_one_bad_job_among_good_ones_refuses_all_with_its_index(cli_db: Path, http: Http, tmp_path: Path) -> None:
    jobs = [BASE, {**BASE, "filter": "gpu_nam=RTX_4090"}]
    path = tmp_path / "jobs.toml"
    path.write_text(
        '[[jobs]]\nname = "a"\nimage = "i"\nmax_price_per_gpu = 0.5\n\n'
        '[[jobs]]\nname = "b"\nimage = "i"\nmax_price_per_gpu = 0.5\nfilter = "gpu_nam=RTX_4090"\n'
    )
    before_cli, before_http = _files(cli_db), _files(http.db_file)
    result = _submit_cli(cli_db, "--file", str(path))
    reply = _post(http, jobs)
    assert result.exit_code == 2 and reply.status_code == 422
    for text in (result.output, reply.json()["msg"]):
        assert "jobs[1].filter: no offer has a field 'gpu_nam'" in text and "did you mean 'gpu_name'" in text
    assert (_files(cli_db), _files(http.db_file)) == (before_cli, before_http)


# --- accepted ---------------------------------------------------------------------------------------------------------


def test_a_file_uses_the_flags_names_and_the_old_names_still_load(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'ok.db'}"
    new = tmp_path / "new.toml"
    new.write_text(
        'name = "new"\nimage = "i"\nmax_price_per_gpu = 0.5\nfilter = "gpu_name=RTX_4090"\n'
        'strategy = "price_threshold"\n[params]\nacquire_below = 0.3\nrelease_above = 0.6\n'
    )
    old = tmp_path / "old.json"
    old.write_text(
        json.dumps({**BASE, "name": "old", "offer_filter": "num_gpus=1", "strategy_params": {"bid_margin": 0.1}})
    )
    for path in (new, old):
        result = CliRunner().invoke(app, ["jobs", "submit", "--file", str(path), "--db", db])
        assert result.exit_code == 0, result.output
    with open_store(db) as store:
        specs = {job.spec.name: job.spec for job in store.jobs.list()}
    assert specs["new"].offer_filter == "gpu_name=RTX_4090"
    assert specs["new"].strategy_params == {"acquire_below": 0.3, "release_above": 0.6}
    assert (specs["old"].offer_filter, specs["old"].strategy_params) == ("num_gpus=1", {"bid_margin": 0.1})


def test_a_price_under_every_offer_is_only_warned(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'w.db'}"
    result = CliRunner().invoke(
        app, ["jobs", "submit", "--name", "cheap", "--image", "i", "--max-price-per-gpu", "0.001", "--db", db]
    )
    assert result.exit_code == 0, result.output
    assert "warning: max_price_per_gpu: 0.001 $/GPU/h is under every offer" in result.output
    assert "submitted job 1 (cheap)" in result.output


# --- --check ---------------------------------------------------------------------------------------------------------


def _check(tmp_path: Path, *args: str) -> Result:
    env = {"HOME": str(tmp_path), "VAST_API_KEY": None, "XDG_CONFIG_HOME": None, "VASTBID_CONFIG": None}
    db = tmp_path / "none.db"
    return CliRunner().invoke(
        app,
        [
            "jobs",
            "submit",
            "--check",
            "--simulate",
            "--seed",
            "5",
            "--name",
            "c",
            "--image",
            "i",
            *args,
            "--db",
            f"sqlite:///{db}",
        ],
        env=env,
    )


def test_check_asks_the_simulated_market_and_writes_nothing(tmp_path: Path) -> None:
    result = _check(tmp_path, "--max-price-per-gpu", "5", "--filter", "num_gpus=1", "--json")
    assert result.exit_code == 0, result.output
    [report] = json.loads(result.output)
    assert report["offers_matching"] > 0
    cheapest = report["cheapest_per_gpu"]
    assert 0 < cheapest["interruptible"] <= cheapest["on_demand"]
    assert report["strategy"] == "cheapest_per_gpu"
    assert report["would"] == "acquire"
    [act] = report["actions"]
    assert act["action"] in ("place_bid", "rent_on_demand")
    assert act["price_per_gpu"] >= cheapest["interruptible"]
    assert list(tmp_path.glob("none.db*")) == []

    shown = _check(tmp_path, "--max-price-per-gpu", "5", "--filter", "num_gpus=1")
    assert shown.exit_code == 0, shown.output
    assert "offer(s) with 1 GPU(s) match 'num_gpus=1' on the simulated market (seed 5) now" in shown.output
    assert "cheapest interruptible: $" in shown.output and "strategy cheapest_per_gpu would acquire" in shown.output


def test_check_under_every_price_says_the_job_would_wait(tmp_path: Path) -> None:
    result = _check(tmp_path, "--max-price-per-gpu", "0.001", "--json")
    assert result.exit_code == 0, result.output
    [report] = json.loads(result.output.split("\n", 1)[1] if result.output.startswith("warning") else result.output)
    assert report["offers_under_cap"] == {"interruptible": 0, "on_demand": 0}
    assert report["actions"] == []
    assert report["would"] != "acquire"


def test_check_refuses_a_bad_spec_before_asking_anything(tmp_path: Path) -> None:
    result = _check(tmp_path, "--max-price-per-gpu", "1", "--filter", "colour=red")
    assert result.exit_code == 2
    assert "filter: no offer has a field 'colour'" in result.output
    assert list(tmp_path.glob("none.db*")) == []
