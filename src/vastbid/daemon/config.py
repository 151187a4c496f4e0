"""``DaemonConfig``: what the tick needs of the settings (built from them by ``wiring.daemon_config``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from vastbid.config.settings import OrphanPolicy
from vastbid.core.budget import Budget
from vastbid.core.policy import DecidePolicy
from vastbid.vast.http import DEFAULT_MIN_INTERVALS


@dataclass(frozen=True, slots=True)
class DaemonConfig:
    """What the tick needs of the settings."""

    deployment: str
    tick_seconds: float
    budget: Budget
    config_hash: str
    default_strategy: str = "cheapest_per_gpu"
    default_params: Mapping[str, Any] = field(default_factory=dict)
    orphan_policy: OrphanPolicy = OrphanPolicy.ADOPT_OR_DESTROY
    orphan_grace_seconds: float = 600.0
    min_migration_gain: float = 0.2
    dry_run: bool = False
    record_market_samples: bool = False
    decision_retention_days: int = 90
    sample_retention_days: int = 30
    job_retention_days: int = 30
    jitter_seconds: float = 0.0
    """The scheduler's random delay: the next tick may start this much later (priced into the budget horizon)."""
    create_interval_seconds: float = 4.5
    """Vast's pace between two creates: a tick starts no more creates than fit in most of its interval."""

    def decide_policy(self) -> DecidePolicy:
        """The knobs of ``decide()`` these settings give."""
        return DecidePolicy(
            deployment=self.deployment,
            default_strategy=self.default_strategy,
            min_migration_gain=self.min_migration_gain,
            hours_to_next_tick=(self.tick_seconds + self.jitter_seconds) / 3600.0,
            create_seconds=DEFAULT_MIN_INTERVALS["asks"],
            rebid_seconds=DEFAULT_MIN_INTERVALS["bid_price"],
            destroy_seconds=DEFAULT_MIN_INTERVALS["destroy"],
        )
