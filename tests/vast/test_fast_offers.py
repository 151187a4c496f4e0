"""The typed search-reply decoder gives exactly the offers of the tolerant reader, or steps aside for it.

The replies are the simulator's (every wire field of an offer), then bent into the awkward shapes the real API sends
(numbers as strings, nulls, missing fields, padded text, huge numbers): whatever the shape, ``decode_offers`` either
answers what ``offers_from_json`` answers or answers ``None`` (the adapter then reads the body the tolerant way).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vastbid.core.offers import Offer
from vastbid.errors import MalformedResponseError
from vastbid.vast.convert import decode_offers, offers_from_json
from vastbid.vast.native import NativeVastApi
from vastbid.vast.query import search_body

from .conftest import API_KEY, make_sim

FIXTURES = Path(__file__).parent / "fixtures"
OFFER_FIELDS = (
    *("id", "ask_contract_id", "machine_id", "host_id", "gpu_name", "num_gpus", "gpu_ram", "dph_total", "min_bid"),
    *("dlperf", "reliability", "reliability2", "verified", "verification", "geolocation", "inet_down"),
    *("disk_space", "cuda_max_good", "rentable", "end_date", "storage_cost", "storage_total_cost"),
)


def sim_reply() -> dict[str, Any]:
    """One broad search reply of the small simulated market, as the wire carries it."""
    sim = make_sim()
    body = search_body("verified=any external=any rentable=true", limit=100, order="min_bid")
    with httpx.Client(transport=sim.transport(), base_url="http://sim.local") as client:
        reply = client.post("/api/v0/bundles/", json=body, headers={"Authorization": f"Bearer {API_KEY}"})
    reply.raise_for_status()
    data: dict[str, Any] = reply.json()
    return data


REPLY = sim_reply()


def tolerant(content: bytes) -> list[Offer] | None:
    """What the tolerant path reads, or ``None`` when it finds the reply malformed."""
    try:
        return offers_from_json(json.loads(content)["offers"])
    except MalformedResponseError:
        return None


def test_the_simulators_reply_is_decoded_the_fast_way_to_the_same_offers() -> None:
    content = json.dumps(REPLY).encode()
    fast = decode_offers(content)
    assert fast is not None and len(fast) == len(REPLY["offers"]) > 10
    assert fast == tolerant(content)
    assert all(o.storage_cost > 0 and o.storage_total_cost > 0 for o in fast)


def test_the_golden_reply_with_awkward_rows_is_left_to_the_tolerant_path() -> None:
    content = (FIXTURES / "search_offers.json").read_bytes()
    assert decode_offers(content) is None, "numbers as strings: not the fast path's to read"
    assert decode_offers(b'{"success": false, "error": "invalid_args", "offers": []}') is None
    assert decode_offers(b"not json") is None


def _bend(value: Any, how: int) -> Any:
    """One awkward shape of a field's value."""
    shapes = [
        None,
        str(value),
        f" {value} ",
        True,
        1e308 if isinstance(value, float) else value,
        [value],
        float(value) if isinstance(value, int) and not isinstance(value, bool) else value,
        "1e3",
        "nan",
    ]
    return shapes[how % len(shapes)]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    row=st.integers(min_value=0, max_value=len(REPLY["offers"]) - 1),
    changes=st.lists(
        st.tuples(st.sampled_from(OFFER_FIELDS), st.integers(min_value=0, max_value=9)), min_size=1, max_size=4
    ),
)
def test_any_bent_reply_is_read_the_same_or_left_to_the_tolerant_path(row: int, changes: list[tuple[str, int]]) -> None:
    offers = [dict(o) for o in REPLY["offers"]]
    target = offers[row]
    for name, how in changes:
        if how == 9:
            target.pop(name, None)
        else:
            target[name] = _bend(target.get(name, 1.5), how)
    content = json.dumps({**REPLY, "offers": offers}).encode()
    fast = decode_offers(content)
    if fast is not None:
        assert fast == tolerant(content)


def test_the_adapter_reads_an_awkward_reply_the_tolerant_way() -> None:
    golden = (FIXTURES / "search_offers.json").read_bytes()

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=golden, headers={"Content-Type": "application/json"})

    client = httpx.Client(transport=httpx.MockTransport(answer), base_url="http://vast.local")
    api = NativeVastApi(client, API_KEY)
    assert api.search_offers("gpu_name=RTX_4090") == offers_from_json(json.loads(golden)["offers"])
