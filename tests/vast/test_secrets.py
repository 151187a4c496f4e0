"""The key (native) and token (LowCodeAPI) never reach a log line, an exception message or a repr."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from vastbid.errors import MarketError
from vastbid.vast.http import HttpCore, HttpSettings, RetryPolicy, SecretQueryTransport
from vastbid.vast.port import CreateRequest

from .conftest import Market


def run_with_faults(m: Market) -> list[str]:
    """A session touching most calls, with every fault kind on the way; returns the texts it produced."""
    texts: list[str] = []
    api = m.api(settings=HttpSettings(timeout=5.0, retry=RetryPolicy(max_attempts=6)))
    texts += [repr(api), str(api), repr(m.client)]
    faults = m.sim.faults
    faults.add("rate_limit", "*", count=1)
    faults.add("server_error", "*", count=1)
    faults.add("html", "*", count=1)
    faults.add("truncated_json", "*", count=1)
    offers = api.search_offers("num_gpus=1", order="dph_total")
    texts += [repr(offers)]
    faults.add("slow", "*", count=2)
    for action in (
        api.account,
        lambda: api.create_instance(offers[0].id, CreateRequest("vastai/base-image", 10.0, "vastbid:t:j:0")),
        lambda: api.create_instance(99_999_999, CreateRequest("vastai/base-image", 10.0, "vastbid:t:j:1")),
        lambda: api.create_instance(
            offers[1].id, CreateRequest("vastai/base-image", 10.0, "vastbid:t:j:2", price=0.001)
        ),
        api.list_instances,
        lambda: api.change_bid(123456, 0.5),
        lambda: api.destroy_instance(123456),
        lambda: api.get_instance(123456),
    ):
        try:
            texts.append(repr(action()))
        except MarketError as exc:
            texts += [str(exc), repr(exc), repr(exc.args)]
    faults.add("server_error", "*", count=None)
    with pytest.raises(MarketError) as info:
        api.account()
    texts += [str(info.value), repr(info.value)]
    faults.clear()
    faults.rules.clear()
    wrong = m.api()  # fine key again, to prove the key was really used
    assert wrong.account().user_id == 424242
    return texts


@pytest.mark.parametrize("wire", ["inprocess", "socket"])
def test_no_secret_in_logs_errors_or_reprs(market: Market, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "vastbid", "werkzeug", ""):
        logging.getLogger(name).setLevel(logging.DEBUG)
    texts = run_with_faults(market)
    logged = [record.getMessage() for record in caplog.records] + [caplog.text]
    assert any("HTTP Request" in line for line in logged), "httpx's request log was captured"
    assert any("vast_retry" in line for line in logged), "our retry log was captured"
    for text in [*logged, *texts]:
        assert market.key not in text


def test_the_token_reaches_the_server_only_on_the_wire() -> None:
    seen: list[str] = []

    def server(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json={"success": True, "balance": 1.0, "credit": 1.0, "user_id": 1})

    client = httpx.Client(transport=httpx.MockTransport(server), base_url="http://lowcode.local")
    logged: list[str] = []
    client.event_hooks["response"] = [lambda r: logged.append(str(r.request.url))]
    from vastbid.vast.lowcode import LowCodeApi

    api = LowCodeApi(client, "tok-SECRET-123")
    assert api.account().balance == 1.0
    assert seen == ["http://lowcode.local/vastai/balance?api_token=tok-SECRET-123"]
    assert logged == ["http://lowcode.local/vastai/balance"]
    assert "tok-SECRET" not in repr(api) + repr(client._transport)
    assert isinstance(client._transport, SecretQueryTransport)


def test_other_requests_on_a_shared_client_do_not_get_the_token() -> None:
    seen: list[str] = []

    def server(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json={"id": 1, "credit": 2.0})

    client = httpx.Client(transport=httpx.MockTransport(server), base_url="http://x.local")
    from vastbid.vast.lowcode import LowCodeApi
    from vastbid.vast.native import NativeVastApi

    LowCodeApi(client, "tok-SECRET-123")
    NativeVastApi(client, "key-SECRET-456").account()
    client.get("/other")
    assert all("tok-SECRET" not in url for url in seen)


def test_error_messages_are_redacted() -> None:
    core: Any = HttpCore(httpx.Client(), secrets=("s3cr3t",))
    assert core.redact("GET /x?api_token=s3cr3t&y=1") == "GET /x?api_token=***&y=1"
    assert "s3cr3t" not in repr(core)
