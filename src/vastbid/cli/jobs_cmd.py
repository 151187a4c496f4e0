"""`vastbid jobs submit|list|show|cancel`: the job queue from the command line.

Each command turns its options into a request, runs it against a ``JobQueue`` (``_queue``: the database, or with
``--url`` a running daemon's JSON API, the token from ``--token`` or ``VASTBID_HTTP_TOKEN``) and renders the
answer: a rich table for people, ``--json`` for machines. Both paths answer the same JSON shapes, so the output is
the same.

``submit`` is a front door: flags and files go through the one validation of a job (``parse_job_specs`` with
``front_door_checks``: the spec, the offer query against the grammar and the offer fields, the strategy and its
parameters, the deadline against now); a refusal lists every problem naming the field, exits 2 and writes nothing.
A spec accepted but probably not meant (a price cap under every offer) is warned about on stderr.
``submit --check`` validates, then asks the market once (``--simulate``: an embedded simulated one) and prints how
many offers match now, the cheapest interruptible and on-demand $/GPU/h and what the job's strategy would do
(the pure ``decide()`` over that one search, the job alone, the budgets' caps with nothing spent); it writes nothing.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from vastbid.cli.common import (
    CONFIG_OPTION,
    DB_OPTION,
    JSON_OPTION,
    console,
    front_door_checks,
    open_store_from,
    print_json,
    reported_errors,
    settings_from,
)
from vastbid.cli.offers_cmd import simulated_market
from vastbid.config import Settings
from vastbid.core.actions import PlaceBid, RentOnDemand
from vastbid.core.budget import Budget
from vastbid.core.decide import decide
from vastbid.core.jobs import Job, JobSpec, JobState, Rental
from vastbid.core.policy import DecidePolicy
from vastbid.core.snapshot import MarketSnapshot
from vastbid.daemon.service import StoreJobQueue
from vastbid.daemon.strategy_book import StrategyBook
from vastbid.daemon.wiring import market_api
from vastbid.errors import ConfigError, JobSpecError
from vastbid.obs.api import ApiClient, JobQueue, job_from_dict
from vastbid.obs.api import job_to_dict as job_to_dict  # noqa: PLC0414 - re-exported (record_cmd)
from vastbid.store import parse_job_specs
from vastbid.store.jobs import spec_warnings
from vastbid.strategies.registry import default_registry
from vastbid.vast.port import MarketApi

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
    columns = ("id", "name", "state", "prio", "gpus", "max $/GPU/h", "rental", "progress h", "spent", "instance")
    for column in columns:
        table.add_column(column, justify="right" if column not in ("name", "state", "rental") else "left")
    table.add_column("reason", overflow="fold")
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
            job.state_reason or "",
        )
    return table


# --- --check: what the market says of a job now ----------------------------------------------------------------

CHECK_LIMIT = 1_000
"""The most offers ``--check`` asks for (cheapest first), as the daemon's search of one filter."""
CHECK_BALANCE = 1e9
"""The balance ``--check`` plans with: it reads no account, so only the budgets' caps limit what it shows."""


def _per_gpu(prices: Sequence[float]) -> float | None:
    return round(min(prices), 6) if prices else None


def market_check(spec: JobSpec, api: MarketApi, settings: Settings, now: datetime) -> dict[str, Any]:
    """One search for ``spec``'s filter; what matches, the cheapest prices per GPU, and what its strategy would do.

    The decision is the pure ``decide()`` over that search with this job alone, no instances, the budgets' caps
    with nothing spent yet and a balance that does not limit (no account is read).
    """
    offers = api.search_offers(spec.offer_filter, limit=CHECK_LIMIT, order="dph_total")
    pool = [offer for offer in offers if offer.num_gpus == spec.num_gpus and offer.rentable]
    job = Job(id=0, spec=spec, state=JobState.QUEUED, created_at=now)
    strategy = settings.strategy
    book = StrategyBook(default_registry(), strategy.default, strategy.params)
    policy = DecidePolicy(
        deployment=settings.deployment,
        default_strategy=strategy.default,
        min_migration_gain=settings.daemon.min_migration_gain,
        hours_to_next_tick=settings.daemon.tick_seconds / 3600,
    )
    snapshot = MarketSnapshot(taken_at=now, offers={spec.offer_filter: offers}, instances=(), balance=CHECK_BALANCE)
    plan = decide(
        snapshot, [job], budget=Budget.from_settings(settings.budget), strategies=book.for_jobs([job]), policy=policy
    )
    decision = plan.decisions.get(job.id)
    acts = []
    for action in plan.actions_for(job.id):
        if isinstance(action, PlaceBid | RentOnDemand):
            acts.append(
                {
                    "action": action.kind,
                    "offer_id": action.offer.id,
                    "machine_id": action.offer.machine_id,
                    "gpu_name": action.offer.gpu_name,
                    "price": round(action.price, 6),
                    "price_per_gpu": round(action.price / max(action.offer.num_gpus, 1), 6),
                }
            )
        else:
            acts.append({"action": action.kind})
    return {
        "name": spec.name,
        "filter": spec.offer_filter,
        "num_gpus": spec.num_gpus,
        "max_price_per_gpu": spec.max_price_per_gpu,
        "offers_matching": len(pool),
        "offers_under_cap": {
            "interruptible": sum(1 for o in pool if o.min_bid / o.num_gpus <= spec.max_price_per_gpu),
            "on_demand": sum(1 for o in pool if o.dph_total / o.num_gpus <= spec.max_price_per_gpu),
        },
        "cheapest_per_gpu": {
            "interruptible": _per_gpu([o.min_bid / o.num_gpus for o in pool]),
            "on_demand": _per_gpu([o.dph_total / o.num_gpus for o in pool]),
        },
        "strategy": decision.strategy if decision else (spec.strategy or strategy.default),
        "would": decision.outcome.value if decision else "nothing",
        "why": decision.why if decision else "",
        "actions": acts,
    }


def _money_per_gpu(value: float | None) -> str:
    return "none" if value is None else f"${value:.4f}/GPU/h"


def _print_check(report: dict[str, Any], source: str) -> None:
    out = console()
    cheapest, under = report["cheapest_per_gpu"], report["offers_under_cap"]
    out.print(f"job {report['name']!r}: valid; nothing was written")
    out.print(
        f"  {report['offers_matching']} offer(s) with {report['num_gpus']} GPU(s) match {report['filter']!r} "
        f"on the {source} now"
    )
    out.print(
        f"  cheapest interruptible: {_money_per_gpu(cheapest['interruptible'])} "
        f"({under['interruptible']} at or under the cap of ${report['max_price_per_gpu']:g}/GPU/h)"
    )
    out.print(f"  cheapest on demand: {_money_per_gpu(cheapest['on_demand'])} ({under['on_demand']} under the cap)")
    out.print(f"  strategy {report['strategy']} would {report['would']}: {report['why']}")
    for act in report["actions"]:
        if "offer_id" in act:
            out.print(
                f"    {act['action']} offer {act['offer_id']} ({act['gpu_name']}, machine {act['machine_id']}) "
                f"at ${act['price']:.4f}/h (${act['price_per_gpu']:.4f}/GPU/h)"
            )
        else:
            out.print(f"    {act['action']}")


def _check_market(
    specs: list[JobSpec], settings: Settings, now: datetime, *, simulate: bool, seed: int, as_json: bool
) -> None:
    simulate = simulate or settings.market.simulate
    api = simulated_market(settings, seed) if simulate else market_api(settings)
    reports = [market_check(spec, api, settings, now) for spec in specs]
    if as_json:
        print_json(reports)
        return
    source = f"simulated market (seed {seed})" if simulate else "market"
    for report in reports:
        _print_check(report, source)


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
    check: Annotated[
        bool,
        typer.Option("--check", help="Validate, ask the market once and show what would happen; write nothing."),
    ] = False,
    simulate: Annotated[
        bool, typer.Option("--simulate", help="--check: ask an embedded simulated market (no account needed).")
    ] = False,
    seed: Annotated[int, typer.Option("--seed", help="--check --simulate: the simulated market's seed.")] = 0,
    config: Path | None = CONFIG_OPTION,
    db: str | None = DB_OPTION,
    url: str | None = _URL_OPTION,
    token: str | None = _TOKEN_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Queue one job from flags, or every job in --file (all or none); --check only shows what would happen."""
    with reported_errors():
        flags: dict[str, Any] = {
            "name": name,
            "image": image,
            "onstart": onstart,
            "args": args or None,
            "disk_gb": disk_gb,
            "num_gpus": num_gpus,
            "filter": offer_filter,
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
            given["params"] = _pairs(params, "--param", parse_json=True)
        if file is not None and given:
            raise JobSpecError(f"give either --file or job flags, not both (got {', '.join(sorted(given))})")
        items = _read_job_file(file) if file is not None else [given]
        # The settings name the default strategy; with --db or --url alone the built-in default is assumed here
        # (a daemon at --url checks again with its own).
        settings = settings_from(config) if check or config is not None or (db is None and url is None) else None
        now = datetime.now(UTC)
        specs = parse_job_specs(items, checks=front_door_checks(settings, now=now))  # before touching anything
        for warning in spec_warnings(specs):
            typer.echo(f"warning: {warning}", err=True)
        if check:
            _check_market(specs, settings or settings_from(config), now, simulate=simulate, seed=seed, as_json=as_json)
            return
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
