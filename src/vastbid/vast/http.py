"""The one HTTP request core both adapters share: timeouts, pacing, retries, error translation, secret hygiene.

Every call goes through ``HttpCore.call`` with a ``Call`` describing it. The core

- paces each rate class (``asks``, ``bid_price``, ``destroy``, ``show_instance``, ``v1_instances``...) to a minimum
  interval measured on an injected monotonic clock, waiting with an injected sleep function;
- sets a timeout on every request;
- translates every failure into a ``vastbid.errors.MarketError`` subclass (this is the only place that does);
- retries only what is safe: a 429 always (the request was not processed), 5xx, timeouts, transport errors and
  malformed bodies only for idempotent calls. A create is never retried on anything but a 429: an ambiguous create is
  settled by label by the daemon, never by a blind retry;
- never lets a secret reach a log line, an exception message or a repr. The native key travels in a header (httpx does
  not log headers). A secret that must travel in the URL (LowCodeAPI's ``api_token``) is added by
  ``SecretQueryTransport`` to a copy of the request just before it is handed to the wire, so the URL httpx logs and
  keeps on the response is the one without it.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar, overload

import httpx

from vastbid.errors import (
    AuthError,
    BidTooLowError,
    MalformedResponseError,
    MarketError,
    NetworkError,
    NotFoundError,
    OfferGoneError,
    RateLimitedError,
    RequestRejectedError,
    SearchQuotaExceededError,
    ServerError,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_MIN_INTERVALS: Final[Mapping[str, float]] = {
    "asks": 4.5,
    "bid_price": 5.5,
    "destroy": 3.0,
    "show_instance": 2.0,
    "v1_instances": 1.0,
    "minbid": 1.5,
}
"""Seconds between two calls of one rate class: Vast's published thresholds (openapi examples)."""

REDACTED: Final = "***"
_THRESHOLD = re.compile(r"threshold\s*=\s*([0-9]+(?:\.[0-9]+)?)")
_OFFER_GONE_CODES = frozenset({"no_such_ask"})
_NOT_FOUND_CODES = frozenset({"not_found", "no_such_instance", "no_such_bid", "no_such_template"})
_AUTH_CODES = frozenset({"auth_error"})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently the core retries what is safe to retry."""

    max_attempts: int = 4
    """Attempts in all (the first included)."""
    backoff_initial: float = 0.5
    backoff_factor: float = 2.0
    backoff_max: float = 30.0
    retry_after_max: float = 60.0
    """A 429 asking to wait longer than this is not retried: it is raised for the next tick to handle."""

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before attempt ``attempt + 1`` when the server gave no hint (``attempt`` counts from 1)."""
        return min(self.backoff_initial * self.backoff_factor ** (attempt - 1), self.backoff_max)


@dataclass(frozen=True, slots=True)
class HttpSettings:
    """Tunables of the request core; every field has a safe default."""

    timeout: float = 30.0
    """Seconds for connect, read, write and pool waits, on every call."""
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    min_intervals: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_MIN_INTERVALS))


@dataclass(frozen=True, slots=True)
class Call:
    """One logical API call.

    ``endpoint`` names it in errors and logs; ``rate_class`` picks the pacing interval (``None``: unpaced).
    ``idempotent`` calls are retried on 5xx, timeouts and malformed bodies; others only on 429.
    ``rental_create`` marks a create of a rental: a 404/410 or ``no_such_ask`` then means the offer is gone.
    ``routing_404_ok`` makes a 404 that is not an application reply return ``ROUTE_NOT_FOUND`` instead of raising.
    ``decode`` reads a 2xx body straight from its bytes (a typed fast path); it answers ``None`` to leave the body
    to the generic path (``json.loads``, the success check, ``parse``), which must then give the same result.
    """

    method: str
    path: str
    endpoint: str
    idempotent: bool
    params: Mapping[str, Any] | None = None
    json_body: Any = None
    rate_class: str | None = None
    rental_create: bool = False
    routing_404_ok: bool = False
    decode: Callable[[bytes], Any] | None = None


class _RouteNotFound:
    def __repr__(self) -> str:
        return "ROUTE_NOT_FOUND"


ROUTE_NOT_FOUND: Final = _RouteNotFound()
"""Returned (never raised) for a 404 that came from routing, when the call asked for it."""


class _Failure:
    """A translated failure and whether the call may be tried again."""

    __slots__ = ("error", "retryable", "wait")

    def __init__(self, error: MarketError, *, retryable: bool, wait: float | None = None) -> None:
        self.error = error
        self.retryable = retryable
        self.wait = wait


class HttpCore:
    """Sends ``Call``s over an injected ``httpx.Client`` and returns their parsed JSON, or raises a ``MarketError``."""

    def __init__(
        self,
        client: httpx.Client,
        *,
        settings: HttpSettings | None = None,
        headers: Mapping[str, str] | None = None,
        extensions: Mapping[str, Any] | None = None,
        secrets: tuple[str, ...] = (),
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self.settings = settings or HttpSettings()
        self._headers = dict(headers or {})
        self._extensions = dict(extensions or {})
        self._secrets = tuple(s for s in secrets if s)
        self._monotonic = monotonic
        self._sleep = sleep
        self._last_sent: dict[str, float] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"HttpCore(base_url={str(self._client.base_url)!r}, timeout={self.settings.timeout})"

    # --- secrets ---------------------------------------------------------------------------------------------------

    def redact(self, text: str) -> str:
        """``text`` with every secret this core knows replaced by ``***``."""
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text

    # --- the call ------------------------------------------------------------------------------------------------

    @overload
    def call(self, call: Call) -> Any: ...

    @overload
    def call(self, call: Call, parse: Callable[[Any], T]) -> T: ...

    def call(self, call: Call, parse: Callable[[Any], T] | None = None) -> T | Any:
        """Send ``call`` (retrying what is safe) and return ``parse(body)`` or the JSON body itself.

        ``parse`` checks the body's shape; it raises ``MalformedResponseError`` for a body that is not the JSON the
        endpoint promises (retried like a 5xx for idempotent calls).
        """
        policy = self.settings.retry
        attempt = 0
        while True:
            attempt += 1
            outcome = self._attempt(call, parse)
            if not isinstance(outcome, _Failure):
                return outcome
            retry_left = attempt < max(policy.max_attempts, 1)
            if not (outcome.retryable and retry_left):
                raise outcome.error
            wait = outcome.wait if outcome.wait is not None else policy.backoff(attempt)
            log.debug(
                "vast_retry endpoint=%s attempt=%d error=%s wait_s=%.2f",
                call.endpoint,
                attempt,
                type(outcome.error).__name__,
                wait,
            )
            if wait > 0:
                self._sleep(wait)

    def _attempt(self, call: Call, parse: Callable[[Any], T] | None) -> T | Any | _Failure:
        self._pace(call.rate_class)
        timeout = httpx.Timeout(self.settings.timeout)
        try:
            request = self._client.build_request(
                call.method,
                call.path,
                params=_query_params(call.params),
                json=call.json_body,
                headers=self._headers,
                timeout=timeout,
                extensions=self._extensions,
            )
            response = self._client.send(request)
            content = response.read()
        except httpx.TimeoutException as exc:
            return _Failure(
                NetworkError(self._msg(call, f"timed out ({type(exc).__name__})"), endpoint=call.endpoint),
                retryable=call.idempotent,
            )
        except httpx.TransportError as exc:
            return _Failure(
                NetworkError(self._msg(call, f"transport error ({type(exc).__name__}: {exc})"), endpoint=call.endpoint),
                retryable=call.idempotent,
            )
        return self._translate(call, response.status_code, response.headers, content, parse)

    def _pace(self, rate_class: str | None) -> None:
        if rate_class is None:
            return
        interval = self.settings.min_intervals.get(rate_class, 0.0)
        with self._lock:
            last = self._last_sent.get(rate_class)
            if last is not None and interval > 0:
                wait = last + interval - self._monotonic()
                if wait > 0:
                    log.debug("vast_pacing rate_class=%s wait_s=%.2f", rate_class, wait)
                    self._sleep(wait)
            self._last_sent[rate_class] = self._monotonic()

    # --- error translation -------------------------------------------------------------------------------------

    def _msg(self, call: Call, detail: str) -> str:
        return self.redact(f"{call.endpoint} ({call.method} {call.path}): {detail}")

    def _translate(
        self,
        call: Call,
        status: int,
        headers: httpx.Headers,
        content: bytes,
        parse: Callable[[Any], T] | None,
    ) -> T | Any | _Failure:
        if call.decode is not None and 200 <= status < 300:
            fast = call.decode(content)
            if fast is not None:
                return fast
        body, is_json = _decode(content)
        code, message = _error_fields(body) if is_json else (None, _text(content))
        endpoint = call.endpoint
        if status == 429:
            return self._rate_limited(call, headers, code, message)
        if status >= 500:
            return _Failure(
                ServerError(self._msg(call, f"HTTP {status}: {message}"), status=status, endpoint=endpoint),
                retryable=call.idempotent,
            )
        if status >= 400:
            if call.routing_404_ok and status == 404 and _is_routing_404(is_json, code, message):
                return ROUTE_NOT_FOUND
            return _Failure(self._client_error(call, status, body, code, message), retryable=False)
        if status >= 300:
            return _Failure(
                RequestRejectedError(self._msg(call, f"unexpected HTTP {status}"), status=status, endpoint=endpoint),
                retryable=False,
            )
        if not is_json:
            return _Failure(
                MalformedResponseError(
                    self._msg(call, f"HTTP {status} body is not JSON: {_text(content)[:80]!r}"),
                    status=status,
                    endpoint=endpoint,
                ),
                retryable=call.idempotent,
            )
        if isinstance(body, dict) and body.get("success") is False:
            return _Failure(self._client_error(call, status, body, code, message), retryable=False)
        if parse is None:
            return body
        try:
            return parse(body)
        except MalformedResponseError as exc:
            return _Failure(
                MalformedResponseError(self._msg(call, str(exc)), status=status, endpoint=endpoint),
                retryable=call.idempotent,
            )

    def _rate_limited(self, call: Call, headers: httpx.Headers, code: str | None, message: str) -> _Failure:
        endpoint = call.endpoint
        if code == "search_quota_exceeded" or "search_quota_exceeded" in message:
            reset_at = _float_or_none(headers.get("X-RateLimit-Reset"))
            quota = SearchQuotaExceededError(
                self._msg(call, f"daily search quota exceeded: {message}"), reset_at=reset_at, endpoint=endpoint
            )
            return _Failure(quota, retryable=False)
        hint = _float_or_none(headers.get("Retry-After"))
        if hint is None:
            match = _THRESHOLD.search(message)
            hint = float(match.group(1)) if match else None
        error = RateLimitedError(self._msg(call, f"rate limited: {message}"), retry_after=hint, endpoint=endpoint)
        too_long = hint is not None and hint > self.settings.retry.retry_after_max
        return _Failure(error, retryable=not too_long, wait=hint)

    def _client_error(self, call: Call, status: int, body: Any, code: str | None, message: str) -> MarketError:
        endpoint = call.endpoint
        detail = self._msg(call, f"HTTP {status} {code or ''}: {message}".replace("  ", " "))
        new_contract = body.get("new_contract") if isinstance(body, dict) else None
        if call.rental_create and isinstance(new_contract, int) and not isinstance(new_contract, bool):
            return BidTooLowError(detail, new_contract=new_contract, status=status, endpoint=endpoint)
        if status in (401, 403) or code in _AUTH_CODES:
            return AuthError(detail, status=status, endpoint=endpoint)
        gone = code in _OFFER_GONE_CODES or "no_such_ask" in message
        if call.rental_create and (gone or status in (404, 410)):
            return OfferGoneError(detail, status=status, endpoint=endpoint)
        if status == 404 or code in _NOT_FOUND_CODES:
            return NotFoundError(detail, status=status, endpoint=endpoint)
        return RequestRejectedError(detail, status=status, endpoint=endpoint)


# --- helpers -------------------------------------------------------------------------------------------------------


def _query_params(params: Mapping[str, Any] | None) -> dict[str, str] | None:
    """Query values as Vast's clients send them: strings as they are, everything else as JSON."""
    if not params:
        return None
    out: dict[str, str] = {}
    for key, value in params.items():
        if value is None:
            continue
        out[key] = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return out


def _decode(content: bytes) -> tuple[Any, bool]:
    if not content.strip():
        return None, False
    try:
        return json.loads(content), True
    except ValueError:
        return None, False


def _text(content: bytes) -> str:
    return content.decode("utf-8", errors="replace").strip()[:300] or "(no detail message supplied)"


def _error_fields(body: Any) -> tuple[str | None, str]:
    if not isinstance(body, dict):
        return None, json.dumps(body)[:300]
    code = body.get("error")
    message = body.get("msg") or body.get("message") or body.get("detail") or ""
    return (code if isinstance(code, str) else None), str(message)[:300]


_ROUTING_404 = re.compile(
    r"no route|route not found|cannot (get|post|put|delete|patch) |unknown (route|endpoint|path)", re.I
)


def _is_routing_404(is_json: bool, code: str | None, message: str) -> bool:
    """A 404 from the router (no such path), not an application's "this object does not exist"."""
    return not is_json or not code or bool(_ROUTING_404.search(message))


def _float_or_none(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


# --- secrets in URLs -----------------------------------------------------------------------------------------------


class _SecretSlot:
    """The marker object a request carries to ask for one installed secret (its repr shows nothing)."""

    def __repr__(self) -> str:
        return "<secret slot>"


class SecretQueryTransport(httpx.BaseTransport):
    """Wraps a transport; adds ``param=secret`` to the query of a copy of the requests marked with ``slot``.

    Only requests whose extensions carry this transport's slot get the secret, so one client can be shared by
    adapters with different secrets (or none). The copy goes to the wire; httpx logs, and keeps on the response,
    the original URL without the secret.
    """

    MARK: Final = "vastbid_secret_query"

    def __init__(self, inner: httpx.BaseTransport, param: str, secret: str, slot: _SecretSlot) -> None:
        self._inner = inner
        self._param = param
        self._secret = secret
        self._slot = slot

    def __repr__(self) -> str:
        return f"SecretQueryTransport(param={self._param!r}, inner={self._inner!r})"

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.extensions.get(self.MARK) is self._slot:
            extensions = {k: v for k, v in request.extensions.items() if k != self.MARK}
            request = httpx.Request(
                request.method,
                request.url.copy_merge_params({self._param: self._secret}),
                headers=request.headers,
                stream=request.stream,
                extensions=extensions,
            )
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


def install_secret_query(client: httpx.Client, param: str, secret: str) -> dict[str, Any]:
    """Wrap every transport of ``client`` so requests carrying the returned extensions get ``param=secret``.

    httpx offers no public hook between its URL logging and the wire, so this replaces the client's transports
    (``_transport`` and the proxy ``_mounts``) with ``SecretQueryTransport`` wrappers sharing one slot.
    """
    slot = _SecretSlot()
    client._transport = SecretQueryTransport(client._transport, param, secret, slot)
    client._mounts = {
        pattern: (SecretQueryTransport(t, param, secret, slot) if t is not None else None)
        for pattern, t in client._mounts.items()
    }
    return {SecretQueryTransport.MARK: slot}
