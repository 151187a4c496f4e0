"""The simulator's settings: scenario, identity, market-process rates and rule switches."""

from __future__ import annotations

from dataclasses import dataclass, field

from vastbid.errors import SimError

SCENARIOS = ("default", "small", "trace")
MAX_OFFERS = 1_000_000


@dataclass(frozen=True)
class ProcessRates:
    """Rates of the other market participants (all per hour unless said)."""

    on_demand_arrivals_per_hour: float = 12.0
    on_demand_mean_hours: float = 8.0
    bidder_arrivals_per_hour: float = 12.0
    bidder_mean_hours: float = 6.0
    bid_moves_per_hour: float = 6.0
    machine_failures_per_hour: float = 0.5
    offline_mean_hours: float = 2.0
    relist_delay_mean_hours: float = 6.0
    listing_min_days: float = 3.0
    listing_max_days: float = 60.0
    initial_on_demand_fraction: float = 0.25
    initial_bid_fraction: float = 0.15


@dataclass(frozen=True)
class SimConfig:
    """What market to simulate and how.

    ``processes=False`` turns every other participant off (tests): no renters, bidders, failures or expiries.
    ``auto_resume``: an outbid interruptible restarts by itself once it is the highest again.
    ``evict_on_min_bid_raise``: a host's higher minimum bid also stops running bids under it (default: no).
    ``offers``: grow the market (``default`` or ``small``) to about this many offers, machines drawn with the default
    model mix, to try the daemon at scale (``None``: the scenario's own size).
    """

    seed: int = 0
    scenario: str = "default"
    api_key: str = "sim-key"
    lowcode_token: str = "sim-token"  # noqa: S105 - a fake for the fake market
    processes: bool = True
    auto_resume: bool = True
    evict_on_min_bid_raise: bool = False
    rates: ProcessRates = field(default_factory=ProcessRates)
    initial_credit: float = 100.0
    boot_min_seconds: float = 60.0
    boot_max_seconds: float = 180.0
    provisioning_seconds: float = 10.0
    own_machines: int = 3
    trace_files: tuple[str, ...] | list[str] = ()
    trace_pool_size: int = 4
    trace_outsider_price: float = 100.0
    offers: int | None = None
    first_instance_id: int = 30_000_000
    """Instance ids start above this: a new market over an old database must not hand out an id it knows."""
    user_id: int = 424242
    email: str = "sim@example.com"
    username: str = "simuser"

    def __post_init__(self) -> None:
        if self.scenario not in SCENARIOS:
            raise SimError(f"unknown scenario {self.scenario!r}: choose one of {', '.join(SCENARIOS)}")
        if self.scenario == "trace" and not self.trace_files:
            raise SimError("scenario 'trace' needs trace_files")
        if not self.api_key:
            raise SimError("api_key must not be empty")
        if self.boot_min_seconds < 0 or self.boot_max_seconds < self.boot_min_seconds:
            raise SimError("boot times must satisfy 0 <= boot_min_seconds <= boot_max_seconds")
        if self.trace_pool_size < 1:
            raise SimError("trace_pool_size must be at least 1")
        if self.offers is not None and not 1 <= self.offers <= MAX_OFFERS:
            raise SimError(f"offers must be from 1 to {MAX_OFFERS:,}, not {self.offers!r}")
        if self.offers is not None and self.scenario == "trace":
            raise SimError("offers cannot be set with scenario 'trace' (the trace decides the supply)")

    def __repr__(self) -> str:  # never show the secrets
        return f"SimConfig(seed={self.seed}, scenario={self.scenario!r}, processes={self.processes})"
