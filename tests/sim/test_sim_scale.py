"""A market of about N offers on demand (``SimConfig(offers=N)``, ``vastbid sim serve --offers N``), and searches
that pin a GPU model or count answering exactly as a plain scan does."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import httpx
import pytest
from sim_helpers import START, offers
from typer.testing import CliRunner

from vastbid.cli.main import app
from vastbid.errors import SimError
from vastbid.sim import ManualClock, SimConfig, Simulator
from vastbid.sim.scenarios import GPU_MODELS
from vastbid.sim.search import search


def market(offers_wanted: int | None, scenario: str = "default", seed: int = 5) -> Simulator:
    config = SimConfig(seed=seed, scenario=scenario, processes=False, offers=offers_wanted)
    return Simulator(config, clock=ManualClock(start=START))


def client_for(sim: Simulator) -> httpx.Client:
    headers = {"Authorization": "Bearer sim-key"}
    return httpx.Client(transport=sim.transport(), base_url="http://sim.local", headers=headers)


@pytest.mark.parametrize(("wanted", "scenario"), [(12_000, "default"), (300, "default"), (500, "small")])
def test_the_market_lists_about_the_offers_asked_for(wanted: int, scenario: str) -> None:
    sim = market(wanted, scenario)
    listed = len(sim.state.offers)
    assert wanted <= listed <= wanted + 8, "at most one machine's chunks more"
    with client_for(sim) as client:
        found = offers(client, limit=100_000, verified={"eq": True})
    assert found and all(o["rentable"] for o in found)


def test_a_large_market_keeps_the_default_model_mix() -> None:
    sim = market(20_000)
    gpus = Counter(m.gpu_name for m in sim.state.machines.values() if m.listed)
    total = sum(gpus.values())
    weights = {m.name: m.weight for m in GPU_MODELS}
    share = {name: weight / sum(weights.values()) for name, weight in weights.items()}
    assert set(gpus) == set(weights)
    assert all(abs(gpus[name] / total - share[name]) < 0.03 for name in weights), gpus


def test_the_same_seed_and_size_give_the_same_market() -> None:
    first = sorted(market(3_000).state.offers)
    assert first == sorted(market(3_000).state.offers)
    assert first != sorted(market(3_000, seed=6).state.offers)


def test_offers_cannot_be_nonsense() -> None:
    with pytest.raises(SimError, match="offers"):
        SimConfig(offers=0)


PINNED_QUERIES: list[dict[str, Any]] = [
    {"gpu_name": {"eq": "H100 SXM"}},
    {"gpu_name": {"in": ["RTX 4090", "L40S"]}, "num_gpus": {"eq": "2"}},
    {"gpu_name": "RTX 3090", "num_gpus": {"eq": 4, "gte": 2}},
    {"num_gpus": {"eq": 1.5}},
    {"gpu_name": {"eq": "RTX 4090", "in": ["RTX 4090", "H100 SXM"]}, "min_bid": {"lte": 1.0}},
]


@pytest.mark.parametrize("query", PINNED_QUERIES)
def test_a_search_pinning_the_model_or_count_answers_as_a_scan_does(query: dict[str, Any]) -> None:
    sim = market(2_000)
    body = {**query, "verified": {"eq": True}, "order": [["min_bid", "asc"]], "limit": 100_000}
    with sim.lock:
        fast = search(sim.state, body)
        plain = {k: v for k, v in body.items() if k not in ("gpu_name", "num_gpus")}
        scanned = [o for o in search(sim.state, plain) if _matches(o, query)]
    assert [o["id"] for o in fast] == [o["id"] for o in scanned]


def _matches(offer: dict[str, Any], query: dict[str, Any]) -> bool:
    """The query's model and count clauses, checked by hand on a rendered offer."""
    name = query.get("gpu_name")
    ops = name if isinstance(name, dict) else {"eq": name} if name else {}
    if "eq" in ops and offer["gpu_name"] != ops["eq"]:
        return False
    if "in" in ops and offer["gpu_name"] not in ops["in"]:
        return False
    count = query.get("num_gpus", {})
    if "eq" in count and offer["num_gpus"] != float(count["eq"]):
        return False
    if "gte" in count and offer["num_gpus"] < float(count["gte"]):
        return False
    return "min_bid" not in query or offer["min_bid"] <= query["min_bid"]["lte"]


def test_sim_serve_grows_the_market_on_demand() -> None:
    result = CliRunner().invoke(app, ["sim", "serve", "--port", "0", "--offers", "5000", "--duration", "0.1"])
    assert result.exit_code == 0, result.output
    match = re.search(r"([\d,]+) offers", result.output)
    assert match and 5000 <= int(match.group(1).replace(",", "")) <= 5008
