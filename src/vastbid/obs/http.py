"""The daemon's HTTP surface: ``/metrics``, ``/healthz``, ``/readyz`` and the JSON API under ``/api/v1/``.

``HttpApp`` is a WSGI application on werkzeug (routing ``Map``, ``Request``/``Response``) over an injected
``ApiService`` (``vastbid.obs.api``) and the metrics registry; ``HttpServer`` serves it with
``vastbid.obs.serving.BoundedWSGIServer`` (a bounded worker pool, header, body and write timeouts: no client can
exhaust the daemon's threads) on a daemon thread, one ``http_request`` log event a request.

Limits: ids, batch sizes and JSON depth are held to ``vastbid.obs.api``'s limits (422 naming the limit); a body is
at most ``MAX_BODY_BYTES``. No request reaches a 500 but a bug, and then its handler's thread survives it.

Access: ``/metrics``, ``/healthz`` and ``/readyz`` are open (scrapers, health checks). The API's writes need
``Authorization: Bearer <http.token>`` (compared in constant time): no or a wrong token is 401 and nothing
changes; with no token configured, writes are refused (403) with the setting that enables them. Reads need the
token too unless ``http.open_reads``. The token is never logged: refusals log the route and client only.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from pydantic import SecretStr
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import BaseConverter, Map, Rule
from werkzeug.wrappers import Request, Response

from vastbid.core.jobs import JobState
from vastbid.errors import ConfigError, InvalidInputError, StoreError, VastbidError
from vastbid.obs.api import (
    API_PREFIX,
    MAX_JSON_DEPTH,
    ApiService,
    Json,
    check_batch,
    error_body,
    error_reply,
    json_depth,
    parse_job_id,
)
from vastbid.obs.serving import BoundedWSGIServer, BufferedRequestHandler, ServerLimits

log = structlog.get_logger("vastbid.http")
request_log = structlog.get_logger("vastbid.http.access")

MAX_BODY_BYTES = 1_048_576
DEFAULT_DECISIONS_LIMIT = 100
MAX_DECISIONS_LIMIT = 10_000
_ENABLE_WRITES = "set http.token_file (or VASTBID_HTTP__TOKEN) in the daemon's settings and restart it"

StartResponse = Callable[..., Any]
_STATE_NAMES = frozenset(state.value for state in JobState)


class _Request(Request):
    max_content_length = MAX_BODY_BYTES


class _Digits(BaseConverter):
    """A path segment of digits, kept as text: the handler checks its range (422 with the limit)."""

    regex = r"\d+"


def _json(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(json.dumps(data, default=str), status=status, mimetype="application/json", headers=headers)


class HttpApp:
    """The WSGI application: health, metrics and the JSON job API over ``service``."""

    def __init__(
        self,
        service: ApiService,
        registry: CollectorRegistry,
        *,
        token: SecretStr | None = None,
        open_reads: bool = False,
    ) -> None:
        self._service = service
        self._registry = registry
        self._token = token.get_secret_value().encode() if token is not None and token.get_secret_value() else None
        self._open_reads = open_reads
        api = API_PREFIX
        self._routes = Map(
            converters={"digits": _Digits},
            rules=[
                Rule("/metrics", endpoint="metrics", methods=["GET"]),
                Rule("/healthz", endpoint="healthz", methods=["GET"]),
                Rule("/readyz", endpoint="readyz", methods=["GET"]),
                Rule(f"{api}/jobs", endpoint="list_jobs", methods=["GET"]),
                Rule(f"{api}/jobs", endpoint="submit", methods=["POST"]),
                Rule(f"{api}/jobs/<digits:job_id>", endpoint="show", methods=["GET"]),
                Rule(f"{api}/jobs/<digits:job_id>", endpoint="cancel", methods=["DELETE"]),
                Rule(f"{api}/jobs/<digits:job_id>/cancel", endpoint="cancel", methods=["POST"]),
                Rule(f"{api}/decisions", endpoint="decisions", methods=["GET"]),
                Rule(f"{api}/status", endpoint="status", methods=["GET"]),
            ],
        )
        self._open = {"metrics", "healthz", "readyz"}
        self._writes = {"submit", "cancel"}

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        request = _Request(environ)
        response = self._dispatch(request)
        return response(environ, start_response)

    # --- dispatch ------------------------------------------------------------------------------------------

    def _dispatch(self, request: Request) -> Response:
        adapter = self._routes.bind_to_environ(request.environ)
        try:
            endpoint, args = adapter.match()
        except MethodNotAllowed as exc:
            allowed = ", ".join(exc.valid_methods or [])
            return _json(error_body("method_not_allowed", f"use {allowed}"), 405, {"Allow": allowed})
        except NotFound:
            return _json(error_body("not_found", f"no such route: {request.path}"), 404)
        except HTTPException as exc:
            return _json(error_body("bad_request", exc.description or exc.name), exc.code or 400)
        if endpoint not in self._open:
            refused = self._authorize(request, write=endpoint in self._writes)
            if refused is not None:
                return refused
        handler: Callable[..., Response] = getattr(self, f"_{endpoint}")
        try:
            return handler(request, **args)
        except StoreError as exc:
            log.warning("http_store_error", route=endpoint, error=str(exc))
            return _json(error_body("unavailable", f"the database could not be read or written: {exc}"), 503)
        except VastbidError as exc:
            status, body = error_reply(exc)
            return _json(body, status)
        except HTTPException as exc:  # e.g. a body over the size limit
            return _json(error_body("bad_request", exc.description or exc.name), exc.code or 400)
        except Exception as exc:  # one bad request never takes the server down
            log.exception("http_handler_crashed", route=endpoint, error_class=type(exc).__name__)
            return _json(error_body("internal", "internal error (see the daemon's log)"), 500)

    def _authorize(self, request: Request, *, write: bool) -> Response | None:
        if not write and self._open_reads:
            return None
        if self._token is None:
            what = "writes are disabled" if write else "reads are closed"
            fix = _ENABLE_WRITES if write else f"{_ENABLE_WRITES}, or set http.open_reads = true"
            return _json(error_body("forbidden", f"{what}: no HTTP token is configured; {fix}"), 403)
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), self._token):
            return None
        log.warning(
            "http_unauthorized",
            method=request.method,
            path=request.path,
            client=request.remote_addr,
            token_given=bool(given),
        )
        body = error_body("unauthorized", "a valid bearer token is needed: Authorization: Bearer <http.token>")
        return _json(body, 401, {"WWW-Authenticate": 'Bearer realm="vastbid"'})

    # --- open endpoints ------------------------------------------------------------------------------------

    def _metrics(self, _request: Request) -> Response:
        return Response(generate_latest(self._registry), status=200, headers={"Content-Type": CONTENT_TYPE_LATEST})

    def _healthz(self, _request: Request) -> Response:
        return _json({"status": "ok"})

    def _readyz(self, _request: Request) -> Response:
        ready, reason = self._service.ready()
        if ready:
            return _json({"status": "ready", "reason": reason})
        return _json({"status": "not_ready", "reason": reason}, 503)

    # --- the JSON API --------------------------------------------------------------------------------------

    def _list_jobs(self, request: Request) -> Response:
        return _json(self._service.list_jobs(_states(request.args.getlist("state")) or None))

    def _submit(self, request: Request) -> Response:
        specs, as_list = _job_specs(request.get_data(cache=False))
        jobs = self._service.submit(specs)
        log.info("jobs_submitted_via_api", job_ids=[job["id"] for job in jobs], client=request.remote_addr)
        return _json(jobs if as_list else jobs[0], 201)

    def _show(self, _request: Request, job_id: str) -> Response:
        return _json(self._service.get(parse_job_id(job_id)))

    def _cancel(self, request: Request, job_id: str) -> Response:
        number = parse_job_id(job_id)
        job = self._service.cancel(number)
        log.info("job_cancelled_via_api", job_id=number, client=request.remote_addr)
        return _json(job)

    def _decisions(self, request: Request) -> Response:
        args = request.args
        given = args.get("job_id")
        job_id = parse_job_id(given) if given else None
        limit = _int_arg(args.get("limit"), "limit", low=1, high=MAX_DECISIONS_LIMIT) or DEFAULT_DECISIONS_LIMIT
        since = _time_arg(args.get("since"), "since")
        return _json(self._service.decisions(job_id, since, limit))

    def _status(self, _request: Request) -> Response:
        return _json(self._service.status())


# --- request parsing ---------------------------------------------------------------------------------------------


def _job_specs(raw: bytes) -> tuple[list[Json], bool]:
    """The submitted specs (one JSON object, or a non-empty list of them) and whether a list was sent."""
    too_deep = f"the body nests deeper than {MAX_JSON_DEPTH} levels of objects and lists"
    try:
        data: Any = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInputError("the body is not JSON: send a job spec object", field="body") from None
    except RecursionError:  # far deeper than the limit
        raise InvalidInputError(too_deep, field="body") from None
    if json_depth(data) > MAX_JSON_DEPTH:
        raise InvalidInputError(too_deep, field="body")
    if isinstance(data, dict):
        return [data], False
    if isinstance(data, list) and data and all(isinstance(item, dict) for item in data):
        check_batch(data)
        return list(data), True
    raise InvalidInputError("the body must be a job spec object or a non-empty list of them", field="body")


def _states(values: list[str]) -> list[str]:
    states: list[str] = []
    for value in values:
        for part in filter(None, (p.strip() for p in value.split(","))):
            if part not in _STATE_NAMES:
                valid = ", ".join(s.value for s in JobState)
                raise InvalidInputError(f"unknown state {part!r}: use one of {valid}", field="state")
            states.append(part)
    return states


def _int_arg(value: str | None, name: str, *, low: int, high: int | None = None) -> int | None:
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except ValueError:
        raise InvalidInputError(f"{name} must be a whole number (got {value!r})", field=name) from None
    if number < low or (high is not None and number > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise InvalidInputError(f"{name} must be {bound} (got {number})", field=name)
    return number


def _time_arg(value: str | None, name: str) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInputError(
            f"{name} must be an ISO time such as 2026-11-27T10:00Z (got {value!r})", field=name
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# --- serving -----------------------------------------------------------------------------------------------------


_PROBES = frozenset({"/metrics", "/healthz", "/readyz"})
_LOGGED_PATH_CHARS = 200


class _RequestLog(BufferedRequestHandler):
    """werkzeug's request handler, its access log as one structured ``http_request`` event per request.

    werkzeug's own line carries terminal colour codes; ours carries method, path (no query string), status and
    client. Probes (metrics, health, readiness) log at DEBUG so scrapes do not flood the log.
    """

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        path = getattr(self, "path", "").split("?", 1)[0]
        level = logging.DEBUG if path in _PROBES else logging.INFO
        request_log.log(
            level,
            "http_request",
            method=getattr(self, "command", None),
            path=path[:_LOGGED_PATH_CHARS].translate(self._control_char_table),
            status=int(code) if str(code).isdigit() else None,
            size=int(size) if str(size).isdigit() else None,
            client=self.address_string(),
        )


class HttpServer:
    """``app`` served by a ``BoundedWSGIServer`` (``limits``: its pool, timeouts and sizes) on a daemon thread."""

    def __init__(
        self,
        app: Callable[..., Iterable[bytes]],
        host: str,
        port: int,
        *,
        poll_interval: float = 0.5,
        limits: ServerLimits | None = None,
    ) -> None:
        self._poll_interval = poll_interval
        limits = limits or ServerLimits(max_body_bytes=MAX_BODY_BYTES)
        try:
            self._server = BoundedWSGIServer(host, port, app, handler=_RequestLog, limits=limits)
        except (OSError, SystemExit) as exc:  # werkzeug exits when the port is taken
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "address in use or not allowed"
            raise ConfigError(
                f"cannot serve HTTP on {host}:{port} ({reason}): choose another with --http HOST:PORT "
                "(or http.bind), or --http off"
            ) from None
        self._thread = threading.Thread(target=self._serve, name="vastbid-http", daemon=True)

    def _serve(self) -> None:
        self._server.serve_forever(poll_interval=self._poll_interval)

    @property
    def host(self) -> str:
        """The address served."""
        return str(self._server.host)

    @property
    def port(self) -> int:
        """The port served (the real one when asked for port 0)."""
        return int(self._server.port)

    @property
    def url(self) -> str:
        """``http://host:port`` of this server."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> HttpServer:
        """Start serving in the background; returns ``self``."""
        self._thread.start()
        log.info("http_serving", url=self.url)
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()

    def __enter__(self) -> HttpServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
