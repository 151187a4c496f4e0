"""The key (native) and token (LowCodeAPI) never reach a log line, an exception message or a repr."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from vastbid.errors import MarketError
from vastbid.vast.http import HttpCore, HttpSettings, RetryPolicy
from vastbid.vast.lowcode import LowCodeApi
from vastbid.vast.native import NativeVastApi
from vastbid.vast.port import CreateRequest

from .conftest import API_KEY, LOWCODE_TOKEN, Market, make_sim


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


class Recorder(httpx.BaseTransport):
    """Sits on the wire side of the adapter: records the URLs that really leave, then hands them to the sim."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.urls: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.urls.append(str(request.url))
        return self.inner.handle_request(request)


def test_the_token_reaches_the_server_only_on_the_wire() -> None:
    wire = Recorder(make_sim().transport())
    logged: list[str] = []
    client = httpx.Client(
        transport=wire,
        base_url="http://sim.local",
        event_hooks={"response": [lambda r: logged.append(str(r.request.url))]},
    )
    api = LowCodeApi(client, LOWCODE_TOKEN)
    assert api.account().balance == pytest.approx(100.0)
    assert wire.urls == [f"http://sim.local/vastai/balance?api_token={LOWCODE_TOKEN}"]
    assert logged == ["http://sim.local/vastai/balance"]
    assert LOWCODE_TOKEN not in repr(api) + repr(client._transport)


def test_other_requests_on_a_shared_client_do_not_get_the_token() -> None:
    wire = Recorder(make_sim().transport())
    client = httpx.Client(transport=wire, base_url="http://sim.local")
    lowcode = LowCodeApi(client, LOWCODE_TOKEN)
    assert NativeVastApi(client, API_KEY).account().user_id == 424242
    assert lowcode.account().balance == pytest.approx(100.0)  # the token is added to the LowCodeAPI's requests only
    assert wire.urls == [
        "http://sim.local/api/v0/users/current",
        f"http://sim.local/vastai/balance?api_token={LOWCODE_TOKEN}",
    ]


def test_error_messages_are_redacted() -> None:
    core: Any = HttpCore(httpx.Client(), secrets=("s3cr3t",))
    assert core.redact("GET /x?api_token=s3cr3t&y=1") == "GET /x?api_token=***&y=1"
    assert "s3cr3t" not in repr(core)
