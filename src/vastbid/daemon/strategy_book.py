"""The strategies a tick's jobs need, built from the injected ``Registry`` once per distinct (name, parameters).

A strategy that cannot be built (its name is not installed, its parameters no longer validate) is not an error of
the tick: it stands as a ``StrategyUnavailable`` value in the mapping given to ``decide()``, which fails that job's
decision only. Failures are not cached: a later tick tries again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from vastbid.core.choice import Strategy
from vastbid.core.jobs import Job
from vastbid.core.plan import ErrorCause, StrategyUnavailable
from vastbid.core.policy import strategy_key
from vastbid.errors import StrategyError
from vastbid.strategies.registry import Registry


class StrategyBook:
    """Built strategies by ``strategy_key``; the jobs without parameters take the configured defaults."""

    def __init__(self, registry: Registry, default_strategy: str, default_params: Mapping[str, Any]) -> None:
        self._registry = registry
        self._default = default_strategy
        self._default_params = dict(default_params)
        self._built: dict[str, Strategy] = {}

    def for_jobs(self, jobs: Sequence[Job]) -> dict[str, Strategy | StrategyUnavailable]:
        """The strategy (or why there is none) of every job's key."""
        out: dict[str, Strategy | StrategyUnavailable] = {}
        for job in jobs:
            key = strategy_key(job, self._default)
            if key in out:
                continue
            built = self._built.get(key)
            if built is None:
                name = job.spec.strategy or self._default
                params = job.spec.strategy_params
                if not job.spec.strategy and not params:
                    params = dict(self._default_params)
                try:
                    built = self._registry.build(name, params)
                except StrategyError as exc:
                    cause = ErrorCause.STRATEGY_PARAMS if name in self._registry else ErrorCause.STRATEGY_UNKNOWN
                    out[key] = StrategyUnavailable(cause, str(exc))
                    continue
                self._built[key] = built
            out[key] = built
        return out
