"""The JSON job API's contract: what the HTTP layer asks of the daemon, the wire shapes, and a client for it.

``JobQueue`` is what ``vastbid jobs`` needs (list, submit, show, cancel); ``ApiService`` adds what the daemon's
HTTP surface serves besides (decisions, status, readiness). Every method answers JSON-ready data, so the database
path (``vastbid.daemon.service``) and the HTTP path (``ApiClient``) print the same thing. Failures are
``vastbid.errors`` classes, mapped to and from HTTP statuses here: ``InvalidInputError`` 422 (naming the field),
``UnknownObjectError`` 404, ``StateConflictError`` 409.

Limits every request is held to (422 naming the limit): a job id is a whole number from 1 to ``MAX_JOB_ID`` (what
the database stores), one request submits at most ``MAX_JOBS_PER_REQUEST`` jobs, and a JSON body nests at most
``MAX_JSON_DEPTH`` levels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

import httpx

from vastbid.core.jobs import Job, JobSpec, JobState
from vastbid.errors import (
    ConfigError,
    DaemonError,
    InvalidInputError,
    StateConflictError,
    UnknownObjectError,
    VastbidError,
)

API_PREFIX = "/api/v1"
MAX_JOB_ID = 2**63 - 1
"""The largest id a job can have: a signed 64-bit integer, as SQLite and PostgreSQL store it."""
MAX_JOBS_PER_REQUEST = 100
"""The most jobs one request may submit (split a longer list)."""
MAX_JSON_DEPTH = 32
"""The deepest a JSON body may nest objects and lists (a job spec needs 3)."""

Json = dict[str, Any]


class JobQueue(Protocol):
    """The job queue as ``vastbid jobs`` uses it, over the database or over HTTP."""

    def list_jobs(self, states: Sequence[str] | None = None) -> list[Json]:
        """Jobs (``job_to_dict`` shape), highest priority first; only those in ``states`` when given."""
        ...

    def submit(self, specs: Sequence[Mapping[str, Any]]) -> list[Json]:
        """Validate every spec and queue them all, or none (``InvalidInputError`` naming the field)."""
        ...

    def get(self, job_id: int) -> Json:
        """One job with ``state_reason`` and its ``instances`` (``UnknownObjectError`` if there is none)."""
        ...

    def cancel(self, job_id: int) -> Json:
        """Cancel a job (``UnknownObjectError``; ``StateConflictError`` if it is already over)."""
        ...


class ApiService(JobQueue, Protocol):
    """Everything the daemon's HTTP surface serves."""

    def decisions(self, job_id: int | None, since: datetime | None, limit: int | None) -> list[Json]:
        """The decision log, oldest first (the newest ``limit`` when given)."""
        ...

    def status(self) -> Json:
        """The ``vastbid status --json`` summary."""
        ...

    def ready(self) -> tuple[bool, str]:
        """Whether the daemon is ready (a recent successful tick, the database answering), and why not."""
        ...


# --- wire shapes -----------------------------------------------------------------------------------------------


def job_to_dict(job: Job) -> Json:
    """A job as plain JSON-ready data."""
    return {
        "id": job.id,
        "state": job.state.value,
        "created_at": job.created_at.isoformat(),
        "attempt": job.attempt,
        "progress_hours": job.progress_hours,
        "spent": job.spent,
        "instance_id": job.instance_id,
        "interruptions": job.interruptions,
        "on_demand_since": job.on_demand_since.isoformat() if job.on_demand_since else None,
        "state_reason": job.state_reason,
        "spec": job.spec.model_dump(mode="json"),
    }


def job_from_dict(data: Mapping[str, Any]) -> Job:
    """The job ``job_to_dict`` described; a reply of another shape is a ``DaemonError``."""
    try:
        since = data.get("on_demand_since")
        return Job(
            id=int(data["id"]),
            spec=JobSpec.model_validate(data["spec"]),
            state=JobState(data["state"]),
            created_at=datetime.fromisoformat(data["created_at"]),
            attempt=int(data["attempt"]),
            progress_hours=float(data["progress_hours"]),
            spent=float(data["spent"]),
            instance_id=data.get("instance_id"),
            interruptions=int(data["interruptions"]),
            on_demand_since=datetime.fromisoformat(since) if since else None,
            state_reason=data.get("state_reason"),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise DaemonError(f"the daemon answered a job this client does not understand ({type(exc).__name__})") from None


def error_body(kind: str, message: str, *, field: str | None = None) -> Json:
    """The JSON body of every error reply: ``{"error", "msg"}`` and ``field`` when one is named."""
    body: Json = {"error": kind, "msg": message}
    if field is not None:
        body["field"] = field
    return body


def error_reply(exc: VastbidError) -> tuple[int, Json]:
    """The HTTP status and body a refused request answers."""
    field = getattr(exc, "field", None)
    if isinstance(exc, UnknownObjectError):
        return 404, error_body("not_found", str(exc), field=field)
    if isinstance(exc, StateConflictError):
        return 409, error_body("conflict", str(exc), field=field)
    if isinstance(exc, InvalidInputError):
        return 422, error_body("invalid", str(exc), field=field or "body")
    return 500, error_body("internal", f"{type(exc).__name__}: {exc}")


# --- limits ----------------------------------------------------------------------------------------------------


def parse_job_id(text: str, field: str = "job_id") -> int:
    """A job id from a path or query string: a whole number in 1..``MAX_JOB_ID``, else ``InvalidInputError``."""
    digits = text.strip()
    if not digits.isascii() or not digits.isdigit():
        raise InvalidInputError(f"{field} must be a whole number from 1 to {MAX_JOB_ID}", field=field)
    significant = digits.lstrip("0") or "0"
    if len(significant) > len(str(MAX_JOB_ID)) or not 1 <= int(significant) <= MAX_JOB_ID:
        raise InvalidInputError(f"{field} must be from 1 to {MAX_JOB_ID}", field=field)
    return int(significant)


def check_job_id(job_id: int, field: str = "job_id") -> int:
    """``job_id`` if it is in 1..``MAX_JOB_ID`` (what the database can hold), else ``InvalidInputError``."""
    if not 1 <= job_id <= MAX_JOB_ID:
        raise InvalidInputError(f"{field} must be from 1 to {MAX_JOB_ID}", field=field)
    return job_id


def json_depth(data: Any) -> int:
    """How deep ``data`` nests lists and objects (a scalar is 0), counted without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth + 1)
        stack.extend((child, depth + 1) for child in children)
    return deepest


def check_batch(specs: Sequence[Any]) -> None:
    """Refuse a submission of more than ``MAX_JOBS_PER_REQUEST`` jobs."""
    if len(specs) > MAX_JOBS_PER_REQUEST:
        raise InvalidInputError(
            f"at most {MAX_JOBS_PER_REQUEST} jobs may be submitted in one request (got {len(specs)}): split the list",
            field="body",
        )


# --- the client ------------------------------------------------------------------------------------------------


class ApiClient:
    """``JobQueue`` (and decisions, status) over a running daemon's JSON API."""

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 10.0,
    ) -> None:
        self._url = url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._client = httpx.Client(
            base_url=self._url + API_PREFIX, headers=headers, transport=transport, timeout=timeout
        )

    def list_jobs(self, states: Sequence[str] | None = None) -> list[Json]:
        """Jobs, highest priority first; only those in ``states`` when given."""
        params = [("state", state) for state in states or ()]
        return list(self._call("GET", "/jobs", params=params))

    def submit(self, specs: Sequence[Mapping[str, Any]]) -> list[Json]:
        """Queue every spec, or none."""
        return list(self._call("POST", "/jobs", json=[dict(spec) for spec in specs]))

    def get(self, job_id: int) -> Json:
        """One job with its state reason and instances."""
        return dict(self._call("GET", f"/jobs/{job_id}"))

    def cancel(self, job_id: int) -> Json:
        """Cancel a job."""
        return dict(self._call("POST", f"/jobs/{job_id}/cancel"))

    def decisions(
        self, job_id: int | None = None, since: datetime | None = None, limit: int | None = None
    ) -> list[Json]:
        """The decision log, oldest first."""
        params: list[tuple[str, str]] = []
        if job_id is not None:
            params.append(("job_id", str(job_id)))
        if since is not None:
            params.append(("since", since.isoformat()))
        if limit is not None:
            params.append(("limit", str(limit)))
        return list(self._call("GET", "/decisions", params=params))

    def status(self) -> Json:
        """The daemon's status summary."""
        return dict(self._call("GET", "/status"))

    def close(self) -> None:
        """Release the connection pool."""
        self._client.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._client.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise DaemonError(
                f"cannot reach the daemon at {self._url} ({type(exc).__name__}): is `vastbid run` serving HTTP there?"
            ) from None
        try:
            body: Any = response.json()
        except ValueError:
            body = None
        if response.is_success and body is not None:
            return body
        raise self._refusal(response.status_code, body if isinstance(body, dict) else {})

    def _refusal(self, status: int, body: Mapping[str, Any]) -> VastbidError:
        message = str(body.get("msg") or f"HTTP {status}")
        field = body.get("field")
        field = str(field) if field is not None else None
        if status == 401:
            return ConfigError(
                f"the daemon at {self._url} refused the token: pass the daemon's http.token with --token "
                "or VASTBID_HTTP_TOKEN"
            )
        if status == 403:
            return ConfigError(f"the daemon at {self._url} refused the request: {message}")
        if status == 404 and field is not None:
            return UnknownObjectError(message, field=field)
        if status == 409:
            return StateConflictError(message, field=field)
        if status == 422:
            return InvalidInputError(message, field=field)
        return DaemonError(f"the daemon at {self._url} answered HTTP {status}: {message}")
