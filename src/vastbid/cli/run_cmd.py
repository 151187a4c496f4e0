"""``vastbid run`` (the daemon) and ``vastbid demo`` (the daemon against the simulator on a virtual clock)."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from prometheus_client import CollectorRegistry
from pydantic import ValidationError
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from vastbid.backtest.scenario import demo_jobs, run_demo
from vastbid.cli.common import (
    CONFIG_OPTION,
    DB_OPTION,
    console,
    front_door_checks,
    print_json,
    reported_errors,
    settings_from,
)
from vastbid.cli.config_cmd import strategy_findings
from vastbid.cli.offers_cmd import SIM_BASE_URL
from vastbid.config import Settings
from vastbid.config.checks import Severity
from vastbid.config.settings import HttpSettings
from vastbid.daemon.clock import Clock, EpochClock, SteadyClock, SystemClock
from vastbid.daemon.loop import run_forever
from vastbid.daemon.service import READY_INTERVALS, DaemonService
from vastbid.daemon.tick import Daemon
from vastbid.daemon.wiring import daemon_config, market_api
from vastbid.errors import ConfigError
from vastbid.obs import notify
from vastbid.obs.http import HttpApp, HttpServer
from vastbid.obs.logging import configure_logging, redact
from vastbid.obs.metrics import Metrics
from vastbid.sim import ScaledClock, SimConfig, Simulator
from vastbid.store import open_store
from vastbid.store.store import Store
from vastbid.strategies.registry import default_registry

LOG_FORMAT_OPTION: Any = typer.Option("auto", "--log-format", help="auto (console on a TTY), json or console.")
LOG_LEVEL_OPTION: Any = typer.Option("info", "--log-level", help="debug, info, warning or error.")


def register(app: typer.Typer) -> None:
    """Add ``run`` and ``demo`` to the root ``app``."""
    app.command("run")(run)
    app.command("demo")(demo)


def run(
    *,
    config: Path | None = CONFIG_OPTION,
    db: str | None = DB_OPTION,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Decide and record, but act on nothing.")] = False,
    once: Annotated[bool, typer.Option("--once", help="Run one tick, then exit (0 if it succeeded).")] = False,
    simulate: Annotated[
        bool, typer.Option("--simulate", help="Use an embedded simulated marketplace (no account needed).")
    ] = False,
    speed: Annotated[
        float, typer.Option("--speed", min=0.001, help="--simulate: simulated seconds per second.")
    ] = 60.0,
    seed: Annotated[int, typer.Option("--seed", help="--simulate: the market's random seed.")] = 7,
    offers: Annotated[
        int | None,
        typer.Option("--offers", min=1, help="--simulate: grow the market to about this many offers."),
    ] = None,
    http: Annotated[
        str | None,
        typer.Option("--http", help="Serve metrics, health and the job API on HOST:PORT (default http.bind), or off."),
    ] = None,
    log_format: str = LOG_FORMAT_OPTION,
    log_level: str = LOG_LEVEL_OPTION,
) -> None:
    """Run the bidding daemon: tick every interval until SIGTERM/SIGINT."""
    with reported_errors():
        settings = settings_from(config)
        refused = [str(f) for f in strategy_findings(settings, default_registry()) if f.severity is Severity.ERROR]
        if refused:  # what `config check` refuses, the daemon refuses before it touches anything
            raise ConfigError("invalid settings:" + "".join(f"\n  {line}" for line in refused))
        bind = _http_bind(settings, http)
        configure_logging(level=log_level, fmt=_log_format(log_format))
        key = settings.market.api_key.get_secret_value() if settings.market.api_key else None
        redact(key, settings.http.token.get_secret_value() if settings.http.token else None)
        store = open_store(db or settings.database.url, upgrade=True)
        metrics = Metrics(CollectorRegistry())
        clock: Clock = SteadyClock(SystemClock(), time.monotonic)  # a wall-clock step is never billed
        time_scale = 1.0
        if simulate or settings.market.simulate:
            sim_key = secrets.token_hex(16)
            redact(sim_key)
            sim_clock = ScaledClock(speed=speed)
            sim = Simulator(
                SimConfig(
                    seed=seed,
                    scenario="default",
                    api_key=sim_key,
                    lowcode_token=sim_key,
                    offers=offers,
                    # a new embedded market over a database that already knows instances never reuses their ids
                    first_instance_id=max(30_000_000, (store.instances.highest_instance_id() or 0) + 1_000),
                ),
                clock=sim_clock,
            )
            clock = EpochClock(sim_clock.now)
            time_scale = speed
            # The client paces its calls on the simulator's clock: Vast's 4.5 s between creates is 4.5 simulated s.
            api = market_api(
                settings,
                transport=sim.transport(),
                base_url=SIM_BASE_URL,
                key=sim_key,
                metrics=metrics,
                monotonic=sim_clock.now,
                sleep=lambda seconds: time.sleep(seconds / speed),
            )
            _load_demo_jobs(store, clock.now())
        else:
            api = market_api(settings, metrics=metrics)
        daemon = Daemon(
            daemon_config(settings, dry_run=dry_run), api, store, clock, metrics=metrics, heartbeat=notify.watchdog
        )
        if once:
            result = daemon.tick()
            all_failed = result.failed > 0 and result.failed >= result.actions
            if not result.ok or all_failed:
                why = result.error or f"every action it tried failed ({result.failed})"
                typer.echo(f"error: the tick failed: {why}", err=True)
            raise typer.Exit(0 if result.ok and not all_failed else 1)
        # The simulator's clock runs `speed` times faster than the scheduler's intervals.
        window = timedelta(seconds=READY_INTERVALS * settings.daemon.tick_seconds * time_scale)
        service = DaemonService(
            daemon,
            caps=settings.budget,
            window=window,
            checks=lambda: front_door_checks(settings, now=clock.now()),
        )
        server = None
        if bind is not None:
            app = HttpApp(service, metrics.registry, token=settings.http.token, open_reads=settings.http.open_reads)
            server = HttpServer(app, bind.host, bind.port).start()
        try:
            code = run_forever(
                daemon,
                tick_seconds=settings.daemon.tick_seconds,
                jitter_seconds=settings.daemon.jitter_seconds,
                on_tick=service.refresh_readiness,
            )
        finally:
            if server is not None:
                server.stop()
        raise typer.Exit(code)


def demo(
    *,
    sim_hours: Annotated[float, typer.Option("--sim-hours", min=0.1, max=720, help="Simulated hours to run.")] = 24.0,
    seed: Annotated[int, typer.Option("--seed", help="The simulated market's random seed.")] = 7,
    db: Annotated[Path | None, typer.Option("--db", help="SQLite file for the record (default: a temp file).")] = None,
    tick_seconds: Annotated[
        float, typer.Option("--tick-seconds", min=10, help="Simulated seconds between ticks.")
    ] = 300.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as one JSON object.")] = False,
) -> None:
    """Run the real daemon for a simulated day against the embedded marketplace, then summarize it."""
    with reported_errors():
        configure_logging(level="error", fmt="json")
        if db is None:
            import tempfile

            db = Path(tempfile.mkdtemp(prefix="vastbid-demo-")) / "demo.db"
        store = open_store(f"sqlite:///{db}", upgrade=True)
        if as_json:
            summary = run_demo(store, sim_hours=sim_hours, seed=seed, tick_seconds=tick_seconds)
            print_json(summary.as_dict())
            return
        with Progress(
            TextColumn("simulating"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
            console=console(),
            transient=True,
        ) as bar:
            task = bar.add_task("demo", total=1.0)
            summary = run_demo(
                store,
                sim_hours=sim_hours,
                seed=seed,
                tick_seconds=tick_seconds,
                progress=lambda done: bar.update(task, completed=done),
            )
        table = Table(title=f"vastbid demo: {sim_hours:g} simulated hours, seed {seed}")
        table.add_column("")
        table.add_column("", justify="right")
        table.add_row("jobs finished", f"{summary.jobs_succeeded} of {summary.jobs_total}")
        table.add_row("spend", f"${summary.spend_usd:.2f}")
        table.add_row("on demand only would have cost", f"${summary.on_demand_equivalent_usd:.2f}")
        table.add_row("saved", f"{summary.savings_fraction:.0%}")
        table.add_row("interruptions survived", str(summary.interruptions))
        table.add_row("decisions taken", str(summary.decisions))
        table.add_row("budget violations", str(summary.budget_violations))
        out = console()
        out.print(table)
        out.print(f"The record is in {db}: try `vastbid decisions --db sqlite:///{db}`.")


def _http_bind(settings: Settings, value: str | None) -> HttpSettings | None:
    """Where to serve HTTP: ``--http HOST:PORT``, else the settings' ``http.bind``; ``None`` for ``--http off``."""
    if value is None:
        return settings.http
    if value.strip().lower() == "off":
        return None
    try:
        return HttpSettings.model_validate({"bind": value.strip()})
    except ValidationError:
        raise typer.BadParameter(
            f"{value!r} must be HOST:PORT with a port in 1-65535 (e.g. 127.0.0.1:9464), or off", param_hint="'--http'"
        ) from None


def _log_format(value: str) -> Any:
    if value not in ("auto", "json", "console"):
        raise typer.BadParameter("must be auto, json or console", param_hint="--log-format")
    return value


def _load_demo_jobs(store: Store, now: datetime) -> None:
    """Submit the demo job set once (by name) so a simulated run has work."""
    known = {job.spec.name for job in store.jobs.list()}
    missing = [spec for spec in demo_jobs(now.astimezone(UTC)) if spec["name"] not in known]
    if missing:
        store.jobs.submit_many(missing)
