"""The ``Simulator``: one market behind one lock, served as a WSGI app (both surfaces), through an in-process
httpx transport or a real threaded socket; requests first bring the market up to the clock, then pass the faults.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from vastbid.errors import SimError
from vastbid.sim import lowcode, native
from vastbid.sim.clock import Clock, ManualClock
from vastbid.sim.config import SimConfig
from vastbid.sim.faults import FaultConfig, FaultRule
from vastbid.sim.market import Market
from vastbid.sim.processes import Participants
from vastbid.sim.scenarios import build_market_machines
from vastbid.sim.trace import TraceDriver
from vastbid.sim.wire import BadRequestError, Reply, error

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

_log = logging.getLogger(__name__)
INPROCESS_HEADER = "X-Sim-Inprocess"
TIMEOUT_MARKER = "X-Sim-Timeout"
_SECRET_IN_URL = re.compile(r"(api_key|api_token)=[^&\s\"]+")


def redact(text: str) -> str:
    """Hide ``api_key``/``api_token`` query values."""
    return _SECRET_IN_URL.sub(r"\1=REDACTED", text)


class Simulator:
    """The simulated marketplace. See the package docstring for the public API."""

    def __init__(
        self, config: SimConfig | None = None, clock: Clock | None = None, faults: FaultConfig | None = None
    ) -> None:
        self.config = config or SimConfig()
        self.clock: Clock = clock or ManualClock()
        self.faults = faults or FaultConfig(seed=self.config.seed)
        self.lock = threading.RLock()
        self.state = Market(self.config, self.clock.now())
        self._last_ok: dict[tuple[str, str], float] = {}
        self._searches: dict[tuple[str, str], int] = {}
        self.trace: TraceDriver | None = None
        self._build()
        self.lowcode = lowcode.LowCodeBook(self.state)

    def _build(self) -> None:
        market = self.state
        if self.config.scenario == "trace":
            self.trace = TraceDriver(market, list(self.config.trace_files), market.epoch)
            own = build_market_machines(
                "small",
                self.config.seed,
                start=market.epoch,
                own=self.config.own_machines,
                account_host_id=self.config.user_id,
            )
            for machine in own[-self.config.own_machines :] if self.config.own_machines else []:
                market.add_machine(machine)
            return
        rates = self.config.rates
        for machine in build_market_machines(
            self.config.scenario,
            self.config.seed,
            start=market.epoch,
            own=self.config.own_machines,
            account_host_id=self.config.user_id,
            listing_days=(rates.listing_min_days, rates.listing_max_days)
            if self.config.processes
            else (3650.0, 3650.0),
            offers=self.config.offers,
        ):
            market.add_machine(machine)
        if self.config.processes:
            Participants(market).start()

    # --- time ---------------------------------------------------------------------------------------------------

    def advance(self, seconds: float) -> None:
        """Advance the manual clock and run the market up to the new time."""
        if not isinstance(self.clock, ManualClock):
            raise SimError("advance() needs a ManualClock")
        self.clock.advance(seconds)
        self.sync()

    def sync(self) -> None:
        """Bring the market up to ``clock.now()``."""
        with self.lock:
            self.state.advance_to(self.clock.now())

    # --- WSGI ---------------------------------------------------------------------------------------------------

    def wsgi_app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        reply, delay = self._handle(request)
        response = self._to_response(reply)
        if delay > 0:
            if request.headers.get(INPROCESS_HEADER):
                response.headers[TIMEOUT_MARKER] = "1"
            else:
                time.sleep(delay)
        return response(environ, start_response)

    @staticmethod
    def _to_response(reply: Reply) -> Response:
        if reply.text is not None:
            response = Response(reply.text, status=reply.status)
        else:
            response = Response(json.dumps(reply.body), status=reply.status)
        response.headers["Content-Type"] = reply.content_type
        for key, value in reply.headers.items():
            response.headers[key] = value
        return response

    def _handle(self, request: Request) -> tuple[Reply, float]:
        path = request.path
        surface: Any = lowcode if path.startswith(lowcode.PREFIX) else native
        if surface is lowcode:
            path = lowcode.rewrite_query_style(path, request)
        try:
            endpoint, args = surface.URL_MAP.bind("sim.local").match(path, method=request.method)
        except NotFound:
            return error(404, "not_found", f"No route for {request.method} {request.path}."), 0.0
        except MethodNotAllowed:
            return error(405, "method_not_allowed", f"{request.method} is not allowed on {request.path}."), 0.0
        identity = surface.authenticate(request, self.config) if endpoint not in surface.UNAUTHENTICATED else "anon"
        if isinstance(identity, Reply):
            return identity, 0.0
        with self.lock:
            self.state.advance_to(self.clock.now())
            refused = self._refuse(endpoint, identity, request)
            if refused is not None:
                return refused, 0.0
            ctx = native.Ctx(self.state, self.config, self.faults, request, endpoint)
            try:
                reply = (
                    surface.HANDLERS[endpoint](ctx, **args)
                    if surface is native
                    else surface.HANDLERS[endpoint](ctx, self.lowcode, **args)
                )
            except BadRequestError as exc:
                reply = exc.reply
            except Exception:  # a simulator bug must look like Vast's 500, not crash the client's transport
                _log.exception("simulator handler %s failed", endpoint)
                reply = error(500, "server_error", "Internal server error.")
            self.state.advance_to(self.state.now)
        return self._after(endpoint, request, reply)

    def _refuse(self, endpoint: str, identity: str, request: Request) -> Reply | None:
        """Rate limits, quota and faults that answer instead of the handler."""
        now = self.state.now
        faults = self.faults
        limit = faults.rate_limits.get(endpoint)
        key = (identity, endpoint)
        rule = faults.pick(endpoint, request.method, request.path, ("server_error", "rate_limit", "search_quota"))
        if (
            rule is None
            and endpoint == "v1_instances"
            and (request.args.get("after_token") or request.args.get("next_token"))
        ):
            rule = faults.pick(endpoint, request.method, request.path, ("next_page_error",))
        if rule is not None:
            return self._fault_reply(rule, limit or 1.0)
        if limit:
            last = self._last_ok.get(key)
            if last is not None and now - last < limit:
                return self._too_frequent(limit, limit - (now - last))
            self._last_ok[key] = now
        if endpoint in ("bundles", "bundles_get", "search_asks", "lc_offers") and faults.search_quota is not None:
            day = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d")
            used = self._searches.get((identity, day), 0)
            if used >= faults.search_quota:
                return self._quota_reply()
            self._searches[(identity, day)] = used + 1
        return None

    def _too_frequent(self, threshold: float, wait: float) -> Reply:
        if self.faults.rate_limit_json:
            return Reply(
                {"detail": f"API requests too frequent endpoint threshold={threshold}"},
                429,
                {"Retry-After": str(max(1, round(wait)))},
            )
        return Reply(
            None, 429, text=f"API requests too frequent: endpoint threshold={threshold}", content_type="text/plain"
        )

    def _quota_reply(self) -> Reply:
        now = datetime.fromtimestamp(self.state.now, UTC)
        reset = datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)
        return Reply(
            {
                "success": False,
                "error": "search_quota_exceeded",
                "msg": "Daily search quota exceeded; it resets at 00:00 UTC.",
            },
            429,
            {"X-RateLimit-Reset": str(int(reset.timestamp()))},
        )

    def _fault_reply(self, rule: FaultRule, threshold: float) -> Reply:
        if rule.kind == "rate_limit":
            return self._too_frequent(threshold, threshold)
        if rule.kind == "search_quota":
            return self._quota_reply()
        status = rule.status if rule.kind == "server_error" else 500
        return Reply(None, status, text="Internal Server Error", content_type="text/plain")

    def _after(self, endpoint: str, request: Request, reply: Reply) -> tuple[Reply, float]:
        rule = self.faults.pick(endpoint, request.method, request.path, ("slow", "truncated_json", "html"))
        if rule is None:
            return reply, 0.0
        if rule.kind == "slow":
            return reply, rule.delay_seconds
        if rule.kind == "html":
            page = "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>Bad gateway</body></html>"
            return Reply(None, 200, text=page, content_type="text/html"), 0.0
        text = reply.text if reply.text is not None else json.dumps(reply.body)
        return Reply(None, 200, text=text[: max(1, len(text) // 2)]), 0.0

    # --- clients ------------------------------------------------------------------------------------------------

    def transport(self) -> httpx.BaseTransport:
        """An httpx transport into this simulator (``base_url="http://sim.local"``)."""
        return _SimTransport(self)

    @contextmanager
    def serve(self, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
        """Serve over a real threaded socket in a background thread; yields the base URL."""
        server = make_server(host, port, self.wsgi_app, threaded=True, request_handler=_QuietHandler)
        thread = threading.Thread(target=server.serve_forever, name="vastbid-sim", daemon=True)
        thread.start()
        try:
            yield f"http://{host}:{server.port}"
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)


class _SimTransport(httpx.BaseTransport):
    def __init__(self, sim: Simulator) -> None:
        self._inner = httpx.WSGITransport(app=sim.wsgi_app)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.headers[INPROCESS_HEADER] = "1"
        response = self._inner.handle_request(request)
        if response.headers.get(TIMEOUT_MARKER):
            response.close()
            raise httpx.ReadTimeout("simulated slow response", request=request)
        return response


class _QuietHandler(WSGIRequestHandler):
    """Werkzeug's request log, with secrets in query strings redacted."""

    def log(self, type: str, message: str, *args: Any) -> None:
        super().log(type, "%s", redact(message % args if args else message))
