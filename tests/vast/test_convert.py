"""Parsing the real API's shapes (golden fixtures) into core values and typed models."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from vastbid.core.instances import InstanceStatus
from vastbid.errors import MalformedResponseError
from vastbid.vast.convert import instances_from_json, offer_from_json, offers_from_json, parse_env
from vastbid.vast.models import Charge, SshKey, User, parse_model

FIXTURES = Path(__file__).parent / "fixtures"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def test_search_reply_becomes_offers_including_the_sparse_row() -> None:
    full, sparse = offers_from_json(load("search_offers.json")["offers"])
    assert (full.id, full.machine_id, full.host_id, full.num_gpus) == (12345678, 88888, 55555, 4)
    assert full.gpu_name == "RTX 4090"
    assert full.gpu_ram_gb == pytest.approx(24.564)
    assert (full.dph_total, full.min_bid) == (1.602074, 0.888888)
    assert full.verified and full.rentable and full.country == "US"
    assert full.end_date == 1893456000.0
    # numbers as strings, nulls and missing fields
    assert (sparse.num_gpus, sparse.dph_total, sparse.host_id) == (1, 0.25, 0)
    assert sparse.min_bid == 0.25, "no min_bid: never assume cheaper than the on-demand price"
    assert sparse.reliability == 0.91 and not sparse.verified
    assert sparse.geolocation == "" and sparse.end_date is None and sparse.dlperf == 0.0


def test_v1_instance_page_with_awkward_rows() -> None:
    running, provisioning, outbid = instances_from_json(load("v1_instances_page.json")["instances"])
    assert running.status is InstanceStatus.RUNNING
    assert running.label == "vastbid:prod:job-1:0"
    assert running.is_bid and running.bid_price == 0.6, "an interruptible's bid is its dph_base"
    assert running.min_bid == 0.45 and running.storage_dph == 0.0069
    assert running.started_at == datetime.fromtimestamp(1800000000.5, tz=UTC)
    assert running.offer_id == 12345678

    assert provisioning.status is InstanceStatus.PROVISIONING, "actual_status null = still provisioning"
    assert provisioning.label is None and not provisioning.is_bid and provisioning.bid_price is None
    assert provisioning.gpu_dph == pytest.approx(0.25)

    assert outbid.status is InstanceStatus.OUTBID
    assert outbid.bid_price == pytest.approx(0.5), "without dph_base: dph_total minus storage"
    assert outbid.started_at is not None and outbid.started_at.tzinfo is UTC
    assert outbid.status_msg == "Instance outbid, paused"


def test_extra_env_in_every_shape() -> None:
    rows = load("v1_instances_page.json")["instances"]
    assert parse_env(rows[0]["extra_env"]) == {"SIM_WORK_HOURS": "2", "-p 8080:8080": "1"}
    assert parse_env(rows[1]["extra_env"]) == {}
    assert parse_env(rows[2]["extra_env"]) == {"FOO": "bar"}
    assert parse_env(None) == {}


def test_users_current_never_keeps_the_api_key() -> None:
    raw = load("users_current.json")
    user = parse_model(User, raw, "users/current")
    assert (user.id, user.credit, user.email) == (424242, 87.654321, "owner@example.com")
    assert raw["api_key"] not in repr(user) and raw["api_key"] not in user.model_dump_json()


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ({"machine_id": 1, "num_gpus": 1, "dph_total": 1.0}, "ask_contract_id"),
        ({"id": 1, "num_gpus": 1, "dph_total": 1.0}, "machine_id"),
        ({"id": 1, "machine_id": 1, "num_gpus": "two", "dph_total": 1.0}, "num_gpus"),
        ({"id": 1, "machine_id": 1, "num_gpus": 1, "dph_total": None}, "dph_total"),
    ],
)
def test_an_offer_missing_a_required_field_is_malformed(row: dict[str, Any], field: str) -> None:
    with pytest.raises(MalformedResponseError, match=field):
        offer_from_json(row)


def test_non_object_rows_are_malformed() -> None:
    with pytest.raises(MalformedResponseError):
        offers_from_json({"offers": []})
    with pytest.raises(MalformedResponseError):
        instances_from_json([["id", 1]])


def test_models_read_alternative_field_names() -> None:
    assert parse_model(SshKey, {"id": 3, "key": "ssh-ed25519 AAA"}, "k").public_key == "ssh-ed25519 AAA"
    charge = parse_model(Charge, {"source": "instance-77", "amount": "1.5", "items": [{"type": "gpu"}]}, "c")
    assert charge.instance_id == 77 and charge.amount == 1.5
    with pytest.raises(MalformedResponseError, match="id"):
        parse_model(SshKey, {"key": "x"}, "ssh key")
