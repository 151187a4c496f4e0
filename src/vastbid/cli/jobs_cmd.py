"""`vastbid jobs submit|list|show|cancel`: the job queue from the command line.

Each command turns its options into a request, runs it against a ``JobQueue`` (``_queue``: the database, or with
``--url`` a running daemon's JSON API, the token from ``--token`` or ``VASTBID_HTTP_TOKEN``) and renders the
answer: a rich table for people, ``--json`` for machines. Both paths answer the same JSON shapes, so the output is
the same. Bad specs are refused with the field named and nothing written.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
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
)
from vastbid.core.jobs import Job, JobState, Rental
from vastbid.daemon.service import StoreJobQueue
from vastbid.errors import ConfigError, JobSpecError
from vastbid.obs.api import ApiClient, JobQueue, job_from_dict
from vastbid.obs.api import job_to_dict as job_to_dict  # noqa: PLC0414 - re-exported (record_cmd)
from vastbid.store import parse_job_specs

_FILE_OPTION: Any = typer.Option(None, "--file", "-f", help="JOB.toml or JOB.json: one job, or a [[jobs]] list.")
_ID_ARGUMENT: Any = typer.Argument(..., help="The job id.", min=1)


# --- where requests go: the database or a running daemon ------------------------------------------------------

_URL_OPTION: Any = typer.Option(
    None, "--url", help="A running daemon's HTTP address (e.g. http://127.0.0.1:9464) instead of the database."
)
_TOKEN_OPTION: Any = typer.Option(
    None,
    "--token",
    envvar=["VASTBID_HTTP_TOKEN", "VASTBID_HTTP__TOKEN"],
    show_envvar=True,
    help="--url: the daemon's http.token (prefer the VASTBID_HTTP_TOKEN environment variable).",
)


@contextmanager
def _queue(config: Path | None, db: str | None, url: str | None, token: str | None) -> Iterator[JobQueue]:
    """The job queue the options name: the daemon at ``url``, else the database."""
    if url is not None:
        if db is not None:
            raise ConfigError("give --url (a running daemon) or --db (the database), not both")
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"--url must start with http:// or https:// (got {url!r})")
        with ApiClient(url, token=token) as client:
            yield client
        return
    with open_store_from(config, db) as store:
        yield StoreJobQueue(store)


# --- input ---------------------------------------------------------------------------------------------------


def _pairs(values: list[str] | None, flag: str, *, parse_json: bool) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise JobSpecError(f"{flag}: must be KEY=VALUE (got {item!r})", field=flag.lstrip("-"))
        if parse_json:
            try:
                result[key] = json.loads(value)
            except json.JSONDecodeError:
                result[key] = value
        else:
            result[key] = value
    return result


def _read_job_file(path: Path) -> list[Mapping[str, Any]]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise JobSpecError(f"{path}: cannot be read ({exc.strerror})", field="file") from None
    try:
        data: Any = json.loads(raw) if path.suffix.lower() == ".json" else tomllib.loads(raw.decode("utf-8"))
    except (json.JSONDecodeError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        kind = "JSON" if path.suffix.lower() == ".json" else "TOML"
        raise JobSpecError(f"{path}: not valid {kind}: {exc}", field="file") from None
    if isinstance(data, Mapping) and set(data) == {"jobs"}:
        data = data["jobs"]
    if isinstance(data, Mapping):
        return [data]
    if isinstance(data, list) and data and all(isinstance(item, Mapping) for item in data):
        return list(data)
    raise JobSpecError(f"{path}: must hold one job (a table/object) or a non-empty `jobs` list", field="file")


# --- output --------------------------------------------------------------------------------------------------


def _money(value: float | None) -> str:
    return "-" if value is None else f"${value:,.2f}"


def _jobs_table(jobs: list[Job]) -> Table:
    table = Table(title=f"{len(jobs)} job(s)")
    for column in ("id", "name", "state", "prio", "gpus", "max $/GPU/h", "rental", "progress h", "spent", "instance"):
        table.add_column(column, justify="right" if column not in ("name", "state", "rental") else "left")
    for job in jobs:
        spec = job.spec
        table.add_row(
            str(job.id),
            spec.name,
            job.state.value,
            str(spec.priority),
            str(spec.num_gpus),
            f"{spec.max_price_per_gpu:.3f}",
            spec.rental.value,
            f"{job.progress_hours:.2f}" + (f"/{spec.work_hours:g}" if spec.work_hours else ""),
            _money(job.spent),
            str(job.instance_id or "-"),
        )
    return table


# --- commands ------------------------------------------------------------------------------------------------


def submit(
    *,
    file: Path | None = _FILE_OPTION,
    name: Annotated[str | None, typer.Option("--name", help="A name for people.")] = None,
    image: Annotated[str | None, typer.Option("--image", help="Docker image to run.")] = None,
    onstart: Annotated[str | None, typer.Option("--onstart", help="Shell commands run at start.")] = None,
    args: Annotated[list[str] | None, typer.Option("--arg", help="Container argument (repeatable).")] = None,
    env: Annotated[list[str] | None, typer.Option("--env", help="KEY=VALUE environment variable (repeatable).")] = None,
    disk_gb: Annotated[float | None, typer.Option("--disk-gb", help="Disk to rent, GB.")] = None,
    num_gpus: Annotated[int | None, typer.Option("--num-gpus", help="GPUs per instance.")] = None,
    offer_filter: Annotated[str | None, typer.Option("--filter", help="Offer query, e.g. 'gpu_name=RTX_4090'.")] = None,
    max_price_per_gpu: Annotated[float | None, typer.Option("--max-price-per-gpu", help="Most $/GPU/h to pay.")] = None,
    rental: Annotated[Rental | None, typer.Option("--rental", help="interruptible, on_demand or auto.")] = None,
    work_hours: Annotated[float | None, typer.Option("--work-hours", help="Estimated hours of work.")] = None,
    deadline: Annotated[
        str | None, typer.Option("--deadline", help="ISO time with zone, e.g. 2026-12-01T18:00Z.")
    ] = None,
    restart_overhead_hours: Annotated[float | None, typer.Option("--restart-overhead-hours")] = None,
    resumable: Annotated[
        bool | None, typer.Option("--resumable/--not-resumable", help="Checkpoints survive moves.")
    ] = None,
    priority: Annotated[int | None, typer.Option("--priority", help="Higher runs first (-1000..1000).")] = None,
    max_cost: Annotated[float | None, typer.Option("--max-cost", help="Most the job may cost in all, $.")] = None,
    strategy: Annotated[str | None, typer.Option("--strategy", help="Strategy name (default from settings).")] = None,
    params: Annotated[
        list[str] | None, typer.Option("--param", help="KEY=VALUE strategy parameter (repeatable).")
    ] = None,
    config: Path | None = CONFIG_OPTION,
    db: str | None = DB_OPTION,
    url: str | None = _URL_OPTION,
    token: str | None = _TOKEN_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Queue one job from flags, or every job in --file (all or none)."""
    with reported_errors():
        flags: dict[str, Any] = {
            "name": name,
            "image": image,
            "onstart": onstart,
            "args": args or None,
            "disk_gb": disk_gb,
            "num_gpus": num_gpus,
            "offer_filter": offer_filter,
            "max_price_per_gpu": max_price_per_gpu,
            "rental": rental.value if rental else None,
            "work_hours": work_hours,
            "deadline": deadline,
            "restart_overhead_hours": restart_overhead_hours,
            "resumable": resumable,
            "priority": priority,
            "max_cost": max_cost,
            "strategy": strategy,
        }
        given = {key: value for key, value in flags.items() if value is not None}
        if env:
            given["env"] = _pairs(env, "--env", parse_json=False)
        if params:
            given["strategy_params"] = _pairs(params, "--param", parse_json=True)
        if file is not None and given:
            raise JobSpecError(f"give either --file or job flags, not both (got {', '.join(sorted(given))})")
        items = _read_job_file(file) if file is not None else [given]
        parse_job_specs(items)  # refuse bad specs before touching the database or the daemon
        with _queue(config, db, url, token) as queue:
            submitted = queue.submit(items)
    if as_json:
        print_json(submitted)
        return
    for job in map(job_from_dict, submitted):
        typer.echo(f"submitted job {job.id} ({job.spec.name}): {job.state.value}")


def list_jobs(
    *,
    states: Annotated[
        list[JobState] | None, typer.Option("--state", help="Only jobs in this state (repeatable).")
    ] = None,
    config: Path | None = CONFIG_OPTION,
    db: str | None = DB_OPTION,
    url: str | None = _URL_OPTION,
    token: str | None = _TOKEN_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """List jobs, highest priority first."""
    with reported_errors():
        with _queue(config, db, url, token) as queue:
            jobs = queue.list_jobs([state.value for state in states or ()] or None)
        if as_json:
            print_json(jobs)
        else:
            console().print(_jobs_table([job_from_dict(job) for job in jobs]))


def show(
    job_id: int = _ID_ARGUMENT,
    *,
    config: Path | None = CONFIG_OPTION,
    db: str | None = DB_OPTION,
    url: str | None = _URL_OPTION,
    token: str | None = _TOKEN_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Show one job: its spec, state, progress, spend and instances."""
    with reported_errors():
        with _queue(config, db, url, token) as queue:
            detail = queue.get(job_id)
        if as_json:
            print_json(detail)
            return
        job = job_from_dict(detail)
    reason = detail.get("state_reason")
    instances: list[dict[str, Any]] = list(detail.get("instances") or [])
    table = Table(title=f"job {job.id}: {job.spec.name}", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    data = job_to_dict(job)
    spec = data.pop("spec")
    for key, value in data.items():
        table.add_row(key, "-" if value is None else str(value))
    if reason:
        table.add_row("state_reason", reason)
    for key, value in spec.items():
        table.add_row(
            f"spec.{key}", "-" if value is None else json.dumps(value) if isinstance(value, dict | list) else str(value)
        )
    for record in instances:
        table.add_row(
            f"instance {record['attempt']}",
            f"{record['instance_id'] or '-'} {record['rental']} at {_money(record['price'])}/h, {record['state']}",
        )
    console().print(table)


def cancel(
    job_id: int = _ID_ARGUMENT,
    *,
    config: Path | None = CONFIG_OPTION,
    db: str | None = DB_OPTION,
    url: str | None = _URL_OPTION,
    token: str | None = _TOKEN_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Cancel a job; an instance it holds is destroyed by the daemon on its next tick."""
    with reported_errors():
        with _queue(config, db, url, token) as queue:
            cancelled = queue.cancel(job_id)
        job = job_from_dict(cancelled)
    if as_json:
        print_json(cancelled)
    elif job.instance_id is not None:
        typer.echo(f"job {job.id} cancelled; the daemon destroys instance {job.instance_id} on its next tick")
    else:
        typer.echo(f"job {job.id} cancelled")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root ``app``."""
    group = typer.Typer(name="jobs", help="The job queue.", no_args_is_help=True)
    group.command("submit")(submit)
    group.command("list")(list_jobs)
    group.command("show")(show)
    group.command("cancel")(cancel)
    app.add_typer(group)
