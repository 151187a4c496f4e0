"""The job queue in the database: submit, read, cancel and update jobs, as core ``Job`` values; and the front door's
validation of submitted specs.

``parse_job_specs(items, checks=...)`` is the one validation of a submitted job, whichever door it came through
(flags, file, HTTP): the spec on its own (``JobSpec``), then with ``JobChecks`` the offer query (parsed with the
grammar, every field checked against the known offer fields, an unknown one refused with the closest valid name),
the strategy (looked up in the registry, its parameters validated by it) and the deadline (not past, and far
enough for ``work_hours`` plus the restart overhead even on demand). Every problem of every item is listed in one
``JobSpecError`` naming the field, the value and the fix; nothing is written. The grammar is injected
(``QueryGrammar``: the ``vastbid.vast.query`` functions and field names), as the store sits beside ``vast``.

``JobRepository.submit_many`` checks the spec on its own only (internal callers such as backtests and tests may
queue jobs the daemon must then refuse at decision time); several specs are written together or not at all. A job
in a final state (succeeded, failed, cancelled, expired) never changes state again, so a user's cancel cannot be
overwritten by a tick that read the job earlier.
"""

from __future__ import annotations

import builtins
import difflib
import enum
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from vastbid.config.validation import describe_validation_error, join_lines, show_value
from vastbid.core.jobs import (
    RENAMED_FIELDS,
    Job,
    JobSpec,
    JobState,
    SpecProblem,
    price_warnings,
    timing_problems,
)
from vastbid.errors import InvalidInputError, JobSpecError, StoreError, StrategyError
from vastbid.store.schema import JobRow
from vastbid.store.session import Clock, transaction
from vastbid.strategies.registry import Registry


class _Unset(enum.Enum):
    UNSET = enum.auto()


UNSET = _Unset.UNSET
"""Marks an ``update`` argument as "leave as it is" where ``None`` is a meaningful value."""

JobSpecInput = JobSpec | Mapping[str, Any]


# --- the front door's checks ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QueryGrammar:
    """The offer query language, as ``vastbid.vast.query`` defines it (injected: ``store`` does not import ``vast``).

    ``parse`` turns a query into its wire filters keyed by canonical field names (raising ``InvalidInputError``
    naming the problem); ``fields`` are the known canonical names and ``aliases`` the other accepted spellings.
    """

    parse: Callable[[str], Mapping[str, Any]]
    fields: Collection[str]
    aliases: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class JobChecks:
    """What a front door checks beyond the spec itself; a part left ``None`` is not checked."""

    now: datetime | None = None
    """For the deadline: not past, and far enough for the work even on demand."""
    grammar: QueryGrammar | None = None
    """For the offer query."""
    registry: Registry | None = None
    """For the strategy and its parameters."""
    default_strategy: str = "cheapest_per_gpu"
    """The strategy of jobs naming none (the daemon's ``strategy.default``)."""
    default_params: Mapping[str, Any] = field(default_factory=dict)
    """Its parameters, for jobs naming neither a strategy nor parameters (``strategy.params``)."""


def query_problems(text: str, grammar: QueryGrammar) -> list[SpecProblem]:
    """What is wrong with an offer query: a clause the grammar refuses, or a field no offer has."""
    if not text.strip():
        return []
    try:
        filters = grammar.parse(text)
    except InvalidInputError as exc:
        return [
            SpecProblem(
                "filter",
                f"{exc} (in {show_value(text)}): write clauses as FIELD OP VALUE separated by spaces, e.g. "
                "'gpu_name=RTX_4090 num_gpus>=2 dph<1.0'; operators = != > >= < <= in notin",
            )
        ]
    known = set(grammar.fields)
    problems: list[SpecProblem] = []
    for name in filters:
        if name in known:
            continue
        spellings = sorted(known | set(grammar.aliases))
        close = difflib.get_close_matches(name, spellings, n=1, cutoff=0.6)
        fix = f"did you mean {close[0]!r}?" if close else f"known fields: {', '.join(sorted(known))}"
        problems.append(SpecProblem("filter", f"no offer has a field {name!r} (in {show_value(text)}): {fix}"))
    return problems


def strategy_problems(spec: JobSpec, checks: JobChecks) -> list[SpecProblem]:
    """An unknown strategy, or parameters its strategy refuses (as the daemon will build it)."""
    registry = checks.registry
    if registry is None:
        return []
    name = spec.strategy or checks.default_strategy
    params = spec.strategy_params if spec.strategy or spec.strategy_params else checks.default_params
    if name not in registry:
        where = "strategy" if spec.strategy else "strategy (the default, from the settings' strategy.default)"
        return [SpecProblem(where, f"unknown strategy {name!r}: use one of {', '.join(registry.names())}")]
    try:
        registry.validate(name, params)
    except StrategyError as exc:
        return [SpecProblem("params", f"{exc}; fix or drop the parameters named")]
    return []


def spec_problems(spec: JobSpec, checks: JobChecks) -> list[SpecProblem]:
    """Every problem the front door finds in a spec that is valid on its own."""
    problems: list[SpecProblem] = []
    if checks.grammar is not None:
        problems += query_problems(spec.offer_filter, checks.grammar)
    problems += strategy_problems(spec, checks)
    if checks.now is not None:
        problems += timing_problems(spec, checks.now)
    return problems


def spec_warnings(specs: Sequence[JobSpec]) -> list[str]:
    """What is accepted but probably not meant (``jobs[1].max_price_per_gpu: ...``)."""
    lines: list[str] = []
    for index, spec in enumerate(specs):
        prefix = f"jobs[{index}]." if len(specs) > 1 else ""
        lines += [f"{prefix}{warning}" for warning in price_warnings(spec)]
    return lines


def parse_job_specs(
    items: Sequence[JobSpecInput], *, label: str = "jobs", checks: JobChecks | None = None
) -> list[JobSpec]:
    """Validate every item; raise one ``JobSpecError`` listing every problem (``jobs[1].num_gpus: ...``).

    With a single item the paths carry no index (``num_gpus: ...``). With ``checks``, the offer query, the strategy
    and the deadline are checked too (the front door); without, the spec on its own only.
    """
    specs: list[JobSpec] = []
    problems: list[str] = []
    first_field: str | None = None
    for index, item in enumerate(items):
        prefix: tuple[str | int, ...] = (label, index) if len(items) > 1 else ()
        where = f"{label}[{index}]." if len(items) > 1 else ""
        if isinstance(item, JobSpec):
            spec = item
        else:
            twice = [
                SpecProblem(new, f"give {new} or {old} (its old name), not both")
                for new, old in RENAMED_FIELDS.items()
                if new in item and old in item
            ]
            if twice:
                problems.extend(f"{where}{problem}" for problem in twice)
                first_field = first_field or twice[0].field
                continue
            try:
                spec = JobSpec.model_validate(dict(item))
            except ValidationError as exc:
                problems.extend(describe_validation_error(exc, prefix=prefix, model=JobSpec, unknown="unknown field"))
                if first_field is None and exc.errors():
                    first_field = ".".join(str(part) for part in exc.errors()[0]["loc"]) or None
                continue
        found = spec_problems(spec, checks) if checks is not None else []
        problems.extend(f"{where}{problem}" for problem in found)
        if found and first_field is None:
            first_field = found[0].field.split(" ", 1)[0]
        specs.append(spec)
    if problems:
        header = "invalid job spec:" if len(items) <= 1 else "invalid job specs (none were submitted):"
        raise JobSpecError(join_lines(header, problems), field=first_field)
    return specs


# --- the queue -------------------------------------------------------------------------------------------------------


def row_to_job(row: JobRow) -> Job:
    """The core value of a stored job."""
    return Job(
        id=row.id,
        spec=JobSpec.model_validate(row.spec),
        state=JobState(row.state),
        created_at=row.created_at,
        attempt=row.attempt,
        progress_hours=row.progress_hours,
        spent=row.spent,
        instance_id=row.instance_id,
        interruptions=row.interruptions,
        on_demand_since=row.on_demand_since,
        state_reason=row.state_reason,
        extra=dict(row.extra or {}),
    )


class JobRepository:
    """Jobs: the queue users fill and the daemon works through."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    def submit(self, spec: JobSpecInput) -> Job:
        """Validate and queue one job."""
        return self.submit_many([spec])[0]

    def submit_many(self, specs: Sequence[JobSpecInput]) -> list[Job]:
        """Validate every spec, then queue them all in one transaction (all or none)."""
        valid = parse_job_specs(specs)
        now = self._clock()
        with transaction(self._sessions) as session:
            rows = [
                JobRow(
                    name=spec.name,
                    spec=spec.model_dump(mode="json"),
                    state=JobState.QUEUED.value,
                    priority=spec.priority,
                    deadline=spec.deadline,
                    created_at=now,
                    updated_at=now,
                    attempt=0,
                    progress_hours=0.0,
                    spent=0.0,
                    interruptions=0,
                    extra={},
                )
                for spec in valid
            ]
            session.add_all(rows)
            session.flush()
            return [row_to_job(row) for row in rows]

    def find(self, job_id: int) -> Job | None:
        """The job, or ``None`` if there is no such id."""
        with transaction(self._sessions) as session:
            row = session.get(JobRow, job_id)
            return row_to_job(row) if row is not None else None

    def get(self, job_id: int) -> Job:
        """The job; ``InvalidInputError`` (field ``job_id``) if there is no such id."""
        job = self.find(job_id)
        if job is None:
            raise InvalidInputError(f"there is no job {job_id}", field="job_id")
        return job

    def list(self, states: Collection[JobState] | None = None, *, limit: int | None = None) -> list[Job]:
        """Jobs, highest priority first, then oldest first; only those in ``states`` when given."""
        query = select(JobRow).order_by(JobRow.priority.desc(), JobRow.id)
        if states is not None:
            query = query.where(JobRow.state.in_([JobState(state).value for state in states]))
        if limit is not None:
            query = query.limit(limit)
        with transaction(self._sessions) as session:
            return [row_to_job(row) for row in session.scalars(query)]

    def active(self) -> builtins.list[Job]:
        """Jobs not yet over (queued, acquiring, running, interrupted)."""
        return self.list([state for state in JobState if not state.is_final])

    def for_tick(self) -> builtins.list[Job]:
        """The live work of a tick, in one query: jobs not yet over, and finished ones still holding an instance
        (the tick destroys it). Finished jobs without an instance are never read."""
        final = [state.value for state in JobState if state.is_final]
        query = (
            select(JobRow)
            .where(or_(JobRow.state.not_in(final), JobRow.instance_id.is_not(None)))
            .order_by(JobRow.priority.desc(), JobRow.id)
        )
        with transaction(self._sessions) as session:
            return [row_to_job(row) for row in session.scalars(query)]

    def count_by_state(self) -> dict[str, int]:
        """How many jobs are in each state (one aggregate query)."""
        query = select(JobRow.state, func.count()).group_by(JobRow.state)
        with transaction(self._sessions) as session:
            return {str(state): int(count) for state, count in session.execute(query)}

    def set_reason(self, job_id: int, reason: str | None) -> None:
        """Record why the job waits (or clear it), whatever its state."""
        with transaction(self._sessions) as session:
            row = session.get(JobRow, job_id)
            if row is not None:
                row.state_reason = reason

    def reason(self, job_id: int) -> str | None:
        """Why the job is in its state, when recorded (e.g. the cancel reason)."""
        with transaction(self._sessions) as session:
            row = session.get(JobRow, job_id)
            return row.state_reason if row is not None else None

    def cancel(self, job_id: int, *, reason: str = "cancelled by the user") -> Job:
        """Mark the job cancelled. A job holding an instance keeps its ``instance_id``: the daemon destroys the
        instance on its next tick. A job already over is refused (``InvalidInputError``)."""
        now = self._clock()
        with transaction(self._sessions) as session:
            row = self._row_for_update(session, job_id)
            state = JobState(row.state)
            if state.is_final:
                raise InvalidInputError(
                    f"job {job_id} is already {state.value}: only queued, acquiring, running or interrupted jobs "
                    "can be cancelled",
                    field="job_id",
                )
            row.state = JobState.CANCELLED.value
            row.state_reason = reason
            row.updated_at = now
            row.finished_at = now
            session.flush()
            return row_to_job(row)

    def update(
        self,
        job_id: int,
        *,
        state: JobState | None = None,
        reason: str | None = None,
        attempt: int | None = None,
        progress_hours: float | None = None,
        spent: float | None = None,
        instance_id: int | _Unset | None = UNSET,
        interruptions: int | None = None,
        on_demand_since: datetime | _Unset | None = UNSET,
        extra: Mapping[str, Any] | None = None,
    ) -> Job:
        """Change what the daemon tracks about a job; arguments left out stay as they are.

        A job in a final state cannot move to another state (``StoreError``): the caller read it before a
        cancel landed and must re-read.
        """
        now = self._clock()
        with transaction(self._sessions) as session:
            row = self._row_for_update(session, job_id)
            current = JobState(row.state)
            if state is not None and state is not current:
                if current.is_final:
                    raise StoreError(f"job {job_id} is already {current.value}: it cannot become {state.value}")
                row.state = state.value
                if state.is_final:
                    row.finished_at = now
            if reason is not None:
                row.state_reason = reason
            if attempt is not None:
                row.attempt = attempt
            if progress_hours is not None:
                row.progress_hours = progress_hours
            if spent is not None:
                row.spent = spent
            if not isinstance(instance_id, _Unset):
                row.instance_id = instance_id
            if interruptions is not None:
                row.interruptions = interruptions
            if not isinstance(on_demand_since, _Unset):
                row.on_demand_since = on_demand_since
            if extra is not None:
                row.extra = dict(extra)
            row.updated_at = now
            session.flush()
            return row_to_job(row)

    @staticmethod
    def _row_for_update(session: Session, job_id: int) -> JobRow:
        row = session.get(JobRow, job_id, with_for_update=True)
        if row is None:
            raise InvalidInputError(f"there is no job {job_id}", field="job_id")
        return row
