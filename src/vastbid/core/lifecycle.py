"""Job life facts ``decide()`` reads: exit codes, slack, the order jobs are served and shed in, hysteresis.

Serving order: priority (highest first), then least slack first (slack = hours to the deadline minus the work
left; no deadline = unbounded), then job id. Shedding order is its reverse: lowest priority, most slack, newest.

Hysteresis (a running job, i.e. its instance running or loading, asked to move):
- a move that saves money must save at least ``min_migration_gain`` of the current $/h, and the saving over the
  work left (or ``unknown_work_horizon_hours`` when the job has no estimate) must pay for the restart:
  ``restart_overhead_hours`` (plus the progress made, for a job that cannot resume) at the new price;
- a move that does not save money is a strategy's non-price decision (a deadline safety net going on demand, or
  leaving on demand): allowed only when it changes the rental type, refused otherwise.
"""

from __future__ import annotations

import math
import re
from datetime import datetime

from vastbid.core.jobs import Job

_EXIT_CODE = re.compile(r"exit(?:ed)?\s*(?:with\s+)?(?:code|status)?\s*[:=]?\s*\(?\s*(-?\d+)", re.IGNORECASE)


def exit_code(status_msg: str | None) -> int | None:
    """The container's exit code when ``status_msg`` shows one ("Exited (1)", "exit code: 137"), else ``None``."""
    if not status_msg:
        return None
    match = _EXIT_CODE.search(status_msg)
    return int(match.group(1)) if match else None


def slack_hours(job: Job, now: datetime) -> float:
    """Hours to spare before the deadline once the remaining work is done (``inf`` without a deadline)."""
    if job.spec.deadline is None:
        return math.inf
    left = (job.spec.deadline - now).total_seconds() / 3600.0
    return left - (job.remaining_hours or 0.0)


def serve_key(job: Job, now: datetime) -> tuple[int, float, int]:
    """Sort key: the job to serve first sorts first."""
    return (-job.spec.priority, slack_hours(job, now), job.id)


def shed_key(job: Job, now: datetime) -> tuple[int, float, int]:
    """Sort key: the spend to give up first sorts first."""
    return (job.spec.priority, -slack_hours(job, now), -job.id)


def migration_refusal(
    job: Job,
    current_dph: float,
    new_dph: float,
    *,
    changes_rental: bool,
    min_gain: float,
    unknown_work_horizon_hours: float,
) -> str | None:
    """Why moving a running job from ``current_dph`` to ``new_dph`` is refused, or ``None`` (see module doc)."""
    gain = current_dph - new_dph
    if gain <= 0:
        if changes_rental:
            return None
        return f"moving would not save money (${current_dph:.4f}/h now, ${new_dph:.4f}/h there)"
    if gain < min_gain * current_dph:
        return (
            f"saving ${gain:.4f}/h is under the minimum gain of {min_gain:.0%} of ${current_dph:.4f}/h "
            f"(${min_gain * current_dph:.4f}/h)"
        )
    horizon = job.remaining_hours if job.remaining_hours is not None else unknown_work_horizon_hours
    lost_hours = job.spec.restart_overhead_hours + (0.0 if job.spec.resumable else job.progress_hours)
    restart_cost = lost_hours * new_dph
    if gain * horizon < restart_cost:
        return (
            f"saving ${gain:.4f}/h over {horizon:.2f} h (${gain * horizon:.4f}) does not pay for the restart "
            f"({lost_hours:.2f} h at ${new_dph:.4f}/h = ${restart_cost:.4f})"
        )
    return None
