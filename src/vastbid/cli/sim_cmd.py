"""The simulated marketplace: `vastbid sim serve` serves both surfaces over a real socket until Ctrl-C."""

from __future__ import annotations

import secrets
import threading

import typer

from vastbid.errors import SimError
from vastbid.sim import ScaledClock, SimConfig, Simulator


def serve(  # noqa: PLR0917 (typer options are positional parameters)
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (keep it local)."),
    port: int = typer.Option(8088, "--port", help="Port to bind (0 picks a free one)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the market and its participants."),
    speed: float = typer.Option(1.0, "--speed", help="Simulated seconds per real second."),
    scenario: str = typer.Option("default", "--scenario", help="default (2,000+ offers) or small (about 40)."),
    api_key: str | None = typer.Option(None, "--api-key", help="The key clients must send; generated if not given."),
    lowcode_token: str | None = typer.Option(None, "--lowcode-token", help="The LowCodeAPI api_token to accept."),
    rate_limits: bool = typer.Option(False, "--rate-limits", help="Turn on Vast's per-route rate limits."),
    offers: int | None = typer.Option(
        None, "--offers", min=1, help="Grow the market to about this many offers (the default model mix)."
    ),
    duration: float | None = typer.Option(None, "--duration", hidden=True, help="Stop after this many seconds."),
) -> None:
    """Serve the simulated Vast.ai marketplace (native API and LowCodeAPI) until Ctrl-C."""
    if scenario not in ("default", "small"):
        raise SimError(f"--scenario must be default or small, not {scenario!r}")
    if speed <= 0:
        raise SimError("--speed must be positive")
    generated = api_key is None
    key = api_key or secrets.token_urlsafe(24)
    token = lowcode_token or secrets.token_urlsafe(24)
    sim = Simulator(
        SimConfig(seed=seed, scenario=scenario, api_key=key, lowcode_token=token, offers=offers),
        clock=ScaledClock(speed=speed),
    )
    if rate_limits:
        sim.faults.use_vast_rate_limits()
    with sim.serve(host=host, port=port) as url:
        about = f"scenario {scenario}, {len(sim.state.offers):,} offers, seed {seed}, speed x{speed:g}"
        typer.echo(f"simulated Vast.ai marketplace on {url} ({about})")
        if generated:
            typer.echo(f"API key (shown once): {key}")
        typer.echo(f"LowCodeAPI: {url}/vastai/ with the api_token query parameter")
        if lowcode_token is None:
            typer.echo(f"LowCodeAPI api_token (shown once): {token}")
        typer.echo(f"official CLI: VAST_URL={url} VAST_API_KEY=<key> VASTAI_NO_UPDATE_CHECK=1 vastai search offers")
        typer.echo("Ctrl-C stops it.")
        try:
            threading.Event().wait(timeout=duration)
        except KeyboardInterrupt:
            typer.echo("stopped")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root ``app``."""
    group = typer.Typer(name="sim", help="The simulated Vast.ai marketplace.", no_args_is_help=True)
    group.command("serve")(serve)
    app.add_typer(group)
