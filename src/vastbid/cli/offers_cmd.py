"""`vastbid offers QUERY`: a table of what the market offers now.

The query is the ``vastai search offers`` grammar (``gpu_name=RTX_4090 num_gpus>=2 dph<1.0``), checked before
anything is sent (a malformed one is a usage error naming the unconsumed text). The market is the settings' one
(``daemon.wiring.market_api``: the API key is required), or with ``--simulate`` an embedded simulated
marketplace, seeded, needing no account.
"""

from __future__ import annotations

import dataclasses
import secrets
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from vastbid.cli.common import CONFIG_OPTION, JSON_OPTION, console, print_json, reported_errors, settings_from
from vastbid.config import Settings
from vastbid.core.offers import Offer, RentalType
from vastbid.daemon.wiring import market_api
from vastbid.errors import QueryError
from vastbid.sim import ScaledClock, SimConfig, Simulator
from vastbid.vast.port import MarketApi
from vastbid.vast.query import parse_order, parse_query

SIM_BASE_URL = "http://sim.local"


class OfferType(StrEnum):
    """How the offers are priced: on demand, or for interruptible bids."""

    ON_DEMAND = "on-demand"
    BID = "bid"

    @property
    def rental(self) -> RentalType:
        """The rental type searched for."""
        return RentalType.INTERRUPTIBLE if self is OfferType.BID else RentalType.ON_DEMAND


def _checked_query(query: str, order: str | None) -> None:
    """Refuse a malformed query or order as a usage error naming the text left unparsed."""
    try:
        parse_query(query)
    except QueryError as exc:
        raise typer.BadParameter(str(exc), param_hint="'QUERY'") from None
    try:
        parse_order(order)
    except QueryError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--order'") from None


def simulated_market(settings: Settings, seed: int) -> MarketApi:
    """A ``MarketApi`` over an embedded simulator (default scenario, real-time clock) with a throwaway key."""
    key = secrets.token_urlsafe(16)
    sim = Simulator(
        SimConfig(seed=seed, scenario="default", api_key=key, lowcode_token=key), clock=ScaledClock(speed=1.0)
    )
    return market_api(settings, transport=sim.transport(), base_url=SIM_BASE_URL, key=key)


def offer_to_dict(offer: Offer, offer_type: OfferType) -> dict[str, Any]:
    """An offer as plain JSON-ready data, with its per-GPU price for ``offer_type``."""
    data = dataclasses.asdict(offer)
    data["type"] = offer_type.value
    data["price_per_gpu"] = offer.price_for(offer_type.rental) / offer.num_gpus if offer.num_gpus else None
    return data


def _offers_table(offers: list[Offer], offer_type: OfferType, title: str) -> Table:
    table = Table(title=title)
    price_header = "$/h on demand" if offer_type is OfferType.ON_DEMAND else "$/h (bid search)"
    columns = ("id", "machine", "GPUs", "model", price_header, "min bid", "$/GPU/h", "reliability", "location")
    for column in columns:
        table.add_column(column, justify="left" if column in ("model", "location") else "right")
    for offer in offers:
        per_gpu = offer.price_for(offer_type.rental) / offer.num_gpus if offer.num_gpus else None
        table.add_row(
            str(offer.id),
            str(offer.machine_id),
            str(offer.num_gpus),
            offer.gpu_name,
            f"{offer.dph_total:.4f}",
            f"{offer.min_bid:.4f}",
            "-" if per_gpu is None else f"{per_gpu:.4f}",
            f"{offer.reliability:.3f}",
            offer.geolocation or "-",
        )
    return table


def offers(  # noqa: PLR0917 (typer options are positional parameters)
    query: Annotated[
        str,
        typer.Argument(
            metavar="QUERY", help="Offer query, e.g. 'gpu_name=RTX_4090 num_gpus>=2 reliability>0.98 dph<1.0'."
        ),
    ] = "",
    config: Path | None = CONFIG_OPTION,
    simulate: Annotated[
        bool, typer.Option("--simulate", help="Ask an embedded simulated market instead (no account needed).")
    ] = False,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the simulated market (with --simulate).")] = 0,
    limit: Annotated[int, typer.Option("--limit", help="Show at most N offers.", min=1)] = 20,
    order: Annotated[
        str | None, typer.Option("--order", help="Sort fields, '-' for descending, e.g. 'dph_total' or 'dlperf-'.")
    ] = None,
    offer_type: Annotated[
        OfferType, typer.Option("--type", help="Price for on-demand rental or for interruptible bids.")
    ] = OfferType.ON_DEMAND,
    as_json: bool = JSON_OPTION,
) -> None:
    """What the market offers now, as the query selects it."""
    _checked_query(query, order)
    with reported_errors():
        settings = settings_from(config)
        simulate = simulate or settings.market.simulate
        api = simulated_market(settings, seed) if simulate else market_api(settings)
        found = api.search_offers(query, rental=offer_type.rental, limit=limit, order=order)[:limit]
    if as_json:
        print_json([offer_to_dict(offer, offer_type) for offer in found])
        return
    source = f"simulated market (seed {seed})" if simulate else "market"
    console().print(_offers_table(found, offer_type, f"{len(found)} {offer_type.value} offer(s) on the {source}"))


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root ``app``."""
    app.command("offers")(offers)
