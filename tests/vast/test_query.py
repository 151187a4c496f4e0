"""The offer query language: the CLI's wire JSON, its errors, and the local evaluator over offers."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from factories import offer
from vastbid.core.offers import RentalType
from vastbid.errors import QueryError
from vastbid.vast.query import compile_query, parse_order, parse_query, search_body

DEFAULTS = {"verified": {"eq": True}, "external": {"eq": False}, "rentable": {"eq": True}}


MATCH = offer(
    1,
    machine_id=10,
    host_id=100,
    gpu_name="RTX 4090",
    num_gpus=2,
    gpu_ram_gb=24.564,
    dph_total=0.8,
    min_bid=0.4,
    dlperf=80.0,
    reliability=0.99,
    verified=True,
    geolocation="Texas, US",
    end_date=2_000_000_000.0,
)
"""Two RTX 4090s in Texas, verified and rentable: the evaluator tests' queries match it unless a field changes."""


def test_the_cli_reference_example_gives_the_captured_wire_body() -> None:
    body = search_body(
        "gpu_name=RTX_4090 num_gpus>=1 reliability>0.98 dph<1.0 gpu_ram>=20 geolocation in [US,CA]",
        order="dph_total,dlperf-",
        limit=5,
    )
    assert body == {
        **DEFAULTS,
        "gpu_name": {"eq": "RTX 4090"},
        "num_gpus": {"gte": "1"},
        "reliability": {"gt": "0.98"},
        "dph_total": {"lt": "1.0"},
        "gpu_ram": {"gte": 20000.0},
        "geolocation": {"in": ["US", "CA"]},
        "order": [["dph_total", "asc"], ["dlperf", "desc"]],
        "type": "on-demand",
        "limit": 5,
        "allocated_storage": 5.0,
    }


def test_interruptible_search_asks_for_bid_prices_and_default_order() -> None:
    body = search_body("", rental=RentalType.INTERRUPTIBLE)
    assert body["type"] == "bid"
    assert body["order"] == [["score", "desc"]]
    assert "limit" not in body


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("num_gpus = 2", {"num_gpus": {"eq": "2"}}),
        ("num_gpus == 2", {"num_gpus": {"eq": "2"}}),
        ("num_gpus != 2", {"num_gpus": {"neq": "2"}}),
        ("num_gpus noteq 2", {"num_gpus": {"neq": "2"}}),
        ("num_gpus not eq 2", {"num_gpus": {"neq": "2"}}),
        ("num_gpus gt 2", {"num_gpus": {"gt": "2"}}),
        ("num_gpus gte 2", {"num_gpus": {"gte": "2"}}),
        ("num_gpus lt 2", {"num_gpus": {"lt": "2"}}),
        ("num_gpus<=2", {"num_gpus": {"lte": "2"}}),
        ("geolocation nin [US,CA]", {"geolocation": {"notin": ["US", "CA"]}}),
        ("geolocation notin [US]", {"geolocation": {"notin": ["US"]}}),
        ("geolocation not in [US, CA]", {"geolocation": {"notin": ["US", "CA"]}}),
        ('gpu_name="RTX 4090"', {"gpu_name": {"eq": "RTX 4090"}}),
        ("static_ip=True", {"static_ip": {"eq": True}}),
        ("static_ip=false", {"static_ip": {"eq": False}}),
        ("cluster_id=None", {"cluster_id": {"eq": None}}),
        ("cluster_id=null", {"cluster_id": {"eq": None}}),
        ("cuda_vers>=12.1", {"cuda_max_good": {"gte": "12.1"}}),
        ("dlperf_usd>10", {"dlperf_per_dphtotal": {"gt": "10"}}),
        ("flops_usd>10", {"flops_per_dphtotal": {"gt": "10"}}),
        ("display_active=false", {"gpu_display_active": {"eq": False}}),
        ("cpu_ram>=64", {"cpu_ram": {"gte": 64000.0}}),
        ("gpu_total_ram>48", {"gpu_total_ram": {"gt": 48000.0}}),
        ("duration>3", {"duration": {"gt": 259200.0}}),
        ("driver_version>=535.86.05", {"driver_version": {"gte": 535086005}}),
        ("num_gpus>=2 num_gpus<=4", {"num_gpus": {"gte": "2", "lte": "4"}}),
    ],
)
def test_operators_values_aliases_and_multipliers(text: str, expected: dict[str, object]) -> None:
    assert parse_query(text, defaults=False) == expected


def test_defaults_can_be_overridden_or_removed() -> None:
    assert parse_query("verified=false")["verified"] == {"eq": False}
    filters = parse_query("verified=any rentable=* external=?")
    assert filters == {}
    assert parse_query("", defaults=False) == {}


@pytest.mark.parametrize(
    ("text", "unconsumed"),
    [
        ("gpu_name", "gpu_name"),
        ("num_gpus>=", "num_gpus>="),
        ("num_gpus>=2 reliability", "reliability"),
        ("num_gpus>=2 ,,,", ",,,"),
    ],
)
def test_malformed_query_names_the_unconsumed_text(text: str, unconsumed: str) -> None:
    with pytest.raises(QueryError, match="unconsumed") as info:
        parse_query(text)
    assert repr(unconsumed) in str(info.value)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("num_gpus=>2", "num_gpus"),
        ("gpu_ram>=lots", "gpu_ram"),
        ("driver_version=535.86", "driver_version"),
        ("num_gpus>any", "num_gpus"),
        ("geolocation=[US,CA]", "geolocation"),
    ],
)
def test_bad_clauses_name_their_field(text: str, field: str) -> None:
    with pytest.raises(QueryError) as info:
        parse_query(text)
    assert info.value.field == field


def test_order_strings() -> None:
    assert parse_order("dph_total,dlperf-") == [["dph_total", "asc"], ["dlperf", "desc"]]
    assert parse_order("-dph,+score") == [["dph_total", "desc"], ["score", "asc"]]
    assert parse_order("") == []
    with pytest.raises(QueryError):
        parse_order("dph total")


# --- the local evaluator -------------------------------------------------------------------------------------------


def test_evaluator_matches_the_clauses() -> None:
    query = compile_query("gpu_name=RTX_4090 num_gpus>=2 dph<1.0 gpu_ram>=24 geolocation in [US,CA] reliability>0.98")
    assert query(MATCH)
    assert not query(replace(MATCH, gpu_name="RTX 3090"))
    assert not query(replace(MATCH, num_gpus=1))
    assert not query(replace(MATCH, dph_total=1.0))
    assert not query(replace(MATCH, gpu_ram_gb=16.0))
    assert not query(replace(MATCH, geolocation="Berlin, DE"))
    assert query(replace(MATCH, geolocation="Quebec, CA"))
    assert not query(replace(MATCH, reliability=0.9))
    assert not query(replace(MATCH, verified=False)), "the CLI default verified=true applies"
    assert query.unevaluated == frozenset({"external"})


def test_evaluator_handles_nulls_lists_and_negations() -> None:
    assert compile_query("end_date=None", defaults=False)(replace(MATCH, end_date=None))
    assert not compile_query("end_date>1", defaults=False)(replace(MATCH, end_date=None))
    assert compile_query("gpu_name notin [RTX_3090,A100]", defaults=False)(MATCH)
    assert not compile_query("gpu_name!=RTX_4090", defaults=False)(MATCH)
    assert compile_query("geolocation=US", defaults=False)(MATCH)
    assert compile_query("verified=any rentable=false")(replace(MATCH, verified=False, rentable=False))
    assert compile_query("dlperf_usd>50", defaults=False)(replace(MATCH, dlperf=80.0, dph_total=1.0))


def test_duration_needs_now() -> None:
    text = "duration>3"
    assert "duration" in compile_query(text, defaults=False).unevaluated
    query = compile_query(text, defaults=False, now=2_000_000_000.0 - 4 * 86400)
    assert query(MATCH)
    assert not query(replace(MATCH, end_date=2_000_000_000.0 - 4 * 86400 + 3600))


@pytest.mark.parametrize("text", ["gpu_name>RTX", "verified=7", "num_gpus=lots"])
def test_evaluator_refuses_what_it_cannot_compare(text: str) -> None:
    with pytest.raises(QueryError):
        compile_query(text, defaults=False)


def test_evaluator_keeps_exactly_the_matching_offers_of_twenty_thousand() -> None:
    # Its speed is measured by bench/decide.py (a ratio in one run), not timed here.
    offers = [
        replace(MATCH, id=i, num_gpus=1 + i % 8, dph_total=(i % 300) / 100, reliability=(i % 100) / 100)
        for i in range(20_000)
    ]
    query = compile_query("gpu_name=RTX_4090 num_gpus>=2 reliability>0.9 dph<1.0 geolocation in [US,CA]")
    kept = query.filter(offers)
    wanted = [o for o in offers if o.num_gpus >= 2 and o.reliability > 0.9 and o.dph_total < 1.0]
    assert kept and [o.id for o in kept] == [o.id for o in wanted]  # every one is an RTX 4090 in the US


# --- properties ----------------------------------------------------------------------------------------------------

_NUMERIC = ["num_gpus", "dph_total", "reliability", "dlperf", "inet_down", "disk_space", "cuda_max_good", "min_bid"]
_OPS = {">": lambda a, b: a > b, ">=": lambda a, b: a >= b, "<": lambda a, b: a < b, "<=": lambda a, b: a <= b}


@given(
    field=st.sampled_from(_NUMERIC),
    op=st.sampled_from(sorted(_OPS)),
    threshold=st.decimals(min_value=0, max_value=100, places=3).map(str),
    value=st.floats(min_value=0, max_value=100, allow_nan=False),
)
def test_numeric_clause_agrees_with_python(field: str, op: str, threshold: str, value: float) -> None:
    query = compile_query(f"{field}{op}{threshold}", defaults=False)
    attr = {"num_gpus": int(value)} if field == "num_gpus" else {field: value}
    candidate = replace(MATCH, **attr)
    assert query(candidate) == _OPS[op](getattr(candidate, field), float(threshold))


_WORD = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1, max_size=8)


@given(
    # a lone TRUE or FALSE is the grammar's boolean (as in the vastai CLI), not a name
    words=st.lists(_WORD, min_size=1, max_size=3).filter(lambda ws: " ".join(ws).lower() not in ("true", "false"))
)
def test_underscores_become_spaces_in_any_name(words: list[str]) -> None:
    assert parse_query("gpu_name=" + "_".join(words), defaults=False) == {"gpu_name": {"eq": " ".join(words)}}


@given(st.text(max_size=30))
def test_any_text_parses_to_a_sendable_body_or_raises_query_error(text: str) -> None:
    try:
        filters = parse_query(text)
    except QueryError as exc:
        assert exc.field
    else:
        assert json.loads(json.dumps(filters, allow_nan=False)) == filters  # plain JSON, as the wire needs it
