"""`vastbid decisions` and `vastbid status`: reading what the daemon recorded.

``decisions`` prints the decision log (newest last) as a table, ``--json`` or ``--csv``, filtered by job and by
time (``--since``/``--until`` take ISO times or ``2h``/``30m``/``1d`` back from now). ``status`` summarises the
store: jobs by state and the active ones, our live instances, the burn rate and spend against the budget caps
from the settings, and the last successful tick. Both only read the database (besides migrating its schema, as
every command that opens it does).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from vastbid.cli.common import (
    CONFIG_OPTION,
    DB_OPTION,
    JSON_OPTION,
    console,
    open_store_from,
    print_json,
    reported_errors,
    settings_from,
)
from vastbid.core.jobs import Job
from vastbid.daemon.service import decision_to_dict, status_snapshot
from vastbid.store.decisions import DecisionRecord
from vastbid.store.session import utc_now

clock: Callable[[], datetime] = utc_now
""""Now" for relative times and today's spend (tests replace it)."""

_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_DEFAULT_LIMIT = 100


# --- input ---------------------------------------------------------------------------------------------------


def parse_moment(text: str, *, option: str, now: datetime) -> datetime:
    """``2026-11-27T10:00Z`` (a time without a zone is UTC) or ``2h``/``30m``/``1d``/``90s``/``1w`` before ``now``.

    A bad value is a usage error naming ``option`` (exit 2).
    """
    relative = _RELATIVE.match(text)
    if relative:
        amount, unit = float(relative.group(1)), relative.group(2).lower()
        return now - timedelta(**{_UNITS[unit]: amount})
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is neither an ISO time (2026-11-27T10:00Z) nor a duration back from now (2h, 30m, 1d)",
            param_hint=f"'{option}'",
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# --- output: decisions ---------------------------------------------------------------------------------------


_CSV_COLUMNS = (
    "id",
    "at",
    "tick_id",
    "job_id",
    "action",
    "strategy",
    "outcome",
    "reason",
    "error",
    "config_hash",
    "facts",
    "candidates",
)


def _decisions_csv(decisions: list[DecisionRecord]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=_CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for decision in decisions:
        row = decision_to_dict(decision)
        row["facts"] = json.dumps(row["facts"], sort_keys=True, default=str)
        row["candidates"] = json.dumps(row["candidates"], sort_keys=True, default=str)
        writer.writerow({key: "" if value is None else value for key, value in row.items()})
    return out.getvalue()


def _time(moment: datetime | None) -> str:
    return "-" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _decisions_table(decisions: list[DecisionRecord]) -> Table:
    table = Table(title=f"{len(decisions)} decision(s), newest last")
    table.add_column("time", no_wrap=True)
    table.add_column("tick", justify="right")
    table.add_column("job", justify="right")
    table.add_column("action", no_wrap=True)
    table.add_column("strategy")
    table.add_column("outcome", no_wrap=True)
    table.add_column("reason", overflow="fold", ratio=1)
    for decision in decisions:
        reason = decision.reason + (f" (error: {decision.error})" if decision.error else "")
        table.add_row(
            _time(decision.at),
            str(decision.tick_id or "-"),
            str(decision.job_id or "-"),
            decision.action,
            decision.strategy or "-",
            decision.outcome.value,
            reason,
        )
    return table


# --- output: status ------------------------------------------------------------------------------------------


def _money(value: float | None) -> str:
    return "-" if value is None else f"${value:,.2f}"


def _against(value: float | None, cap: float | None, caps_known: bool, unit: str = "") -> str:
    shown = _money(value) + unit
    if not caps_known:
        return f"{shown} (cap unknown: --db without --config)"
    if cap is None:
        return f"{shown} (no cap)"
    share = f", {value / cap:.0%}" if value is not None and cap > 0 else ""
    return f"{shown} of {_money(cap)}{unit}{share}"


def _active_table(jobs: list[Job]) -> Table:
    table = Table(title=f"{len(jobs)} active job(s)")
    for column in ("id", "name", "state", "instance", "progress h", "spent"):
        table.add_column(column, justify="left" if column in ("name", "state") else "right")
    for job in jobs:
        work = job.spec.work_hours
        table.add_row(
            str(job.id),
            job.spec.name,
            job.state.value,
            str(job.instance_id or "-"),
            f"{job.progress_hours:.2f}" + (f"/{work:g}" if work else ""),
            _money(job.spent),
        )
    return table


def _instances_table(records: list[dict[str, Any]]) -> Table:
    table = Table(title=f"{len(records)} live instance(s) of ours")
    for column in ("instance", "job", "rental", "$/h", "machine", "since", "label"):
        table.add_column(column, justify="left" if column in ("rental", "since", "label") else "right")
    for record in records:
        created = record["created_at"]
        table.add_row(
            str(record["instance_id"] or "-"),
            str(record["job_id"] or "-"),
            record["rental"],
            _money(record["price"]),
            str(record["machine_id"] or "-"),
            _time(datetime.fromisoformat(created)) if created else "-",
            record["label"],
        )
    return table


def _print_status(data: dict[str, Any], active: list[Job]) -> None:
    out = console()
    by_state = data["jobs"]["by_state"]
    counts = ", ".join(f"{state} {count}" for state, count in by_state.items()) or "none"
    out.print(f"jobs: {counts}")
    if active:
        out.print(_active_table(active))
    out.print(_instances_table(data["instances"]))
    budget = data["budget"]
    known = budget["caps_known"]
    committed = budget["committed_dph"]
    burn = "unknown (no successful tick yet)" if committed is None else None
    out.print(f"burn rate: {burn or _against(committed, budget['max_burn_per_hour'], known, '/h')}")
    out.print(f"spent today: {_against(budget['spent_today'], budget['daily_cap'], known)}")
    out.print(f"spent this month: {_against(budget['spent_this_month'], budget['monthly_cap'], known)}")
    last_ok = data["last_successful_tick_at"]
    if last_ok is None:
        out.print("last successful tick: never")
    else:
        age = datetime.fromisoformat(data["now"]) - datetime.fromisoformat(last_ok)
        out.print(f"last successful tick: {_time(datetime.fromisoformat(last_ok))} ({_age(age)} ago)")
    last = data["last_tick"]
    if last is not None and last["ok"] is False:
        out.print(f"last tick {last['id']} failed: {last['error'] or 'unknown error'}")


def _age(delta: timedelta) -> str:
    seconds = max(int(delta.total_seconds()), 0)
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    if seconds < 172_800:
        return f"{seconds // 3600}h"
    return f"{seconds // 86_400}d"


# --- commands ------------------------------------------------------------------------------------------------


def decisions(
    *,
    job_id: Annotated[int | None, typer.Option("--job", help="Only this job's decisions.", min=1)] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="From this time: ISO (2026-11-27T10:00Z; UTC if no zone) or 2h/30m/1d."),
    ] = None,
    until: Annotated[str | None, typer.Option("--until", help="Before this time (same forms as --since).")] = None,
    limit: Annotated[int, typer.Option("--limit", help="Show the newest N (0 = all).", min=0)] = _DEFAULT_LIMIT,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV (facts and candidates as JSON strings).")] = False,
    config: Path | None = CONFIG_OPTION,
    db: str | None = DB_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """The decision log, newest last: what the daemon did, why, and what came of it."""
    if as_json and as_csv:
        raise typer.BadParameter("give --json or --csv, not both", param_hint="'--csv'")
    now = clock()
    start = parse_moment(since, option="--since", now=now) if since else None
    end = parse_moment(until, option="--until", now=now) if until else None
    with reported_errors(), open_store_from(config, db) as store:
        found = store.decisions.query(job_id=job_id, since=start, until=end, limit=limit or None)
    if as_json:
        print_json([decision_to_dict(decision) for decision in found])
    elif as_csv:
        typer.echo(_decisions_csv(found), nl=False)
    else:
        console().print(_decisions_table(found))


def status(
    config: Path | None = CONFIG_OPTION,
    db: str | None = DB_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Jobs, our live instances, burn rate and spend against the budget, and the last successful tick."""
    now = clock()
    with reported_errors():
        caps = settings_from(config).budget if config is not None or db is None else None
        with open_store_from(config, db) as store:
            data = status_snapshot(store, caps, now)
            active = [job for job in store.jobs.list() if not job.state.is_final]
    if as_json:
        print_json(data)
    else:
        _print_status(data, active)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root ``app``."""
    app.command("decisions")(decisions)
    app.command("status")(status)
