"""The offline optimum: exact dynamic programming over a trace window, knowing the future.

Modes per tick: idle, on demand (the cheapest zone's on-demand price; on demand is always there), or spot in
zone z (only where ``available[z, t]``, at ``spot_price[z, t]``). Starting an instance in a mode other than
the previous tick's (from idle, a switch, a zone change, a return after preemption) spends the restart overhead
first, billed at the new mode's price. State = (progress in ticks, mode of the previous tick, overhead ticks still
to serve); the DP runs forward tick by tick with numpy over all states at once. The job must reach
``work_ticks`` of progress within ``deadline_ticks``. Cost = sum of price x tick length. This is the same model
``replay`` accounts in (see ``model``), so regret = cost / oracle cost - 1 is a fair comparison.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from vastbid.backtest.model import JobShape
from vastbid.errors import BacktestError


@dataclass(frozen=True, slots=True)
class OracleResult:
    """The optimum's cost, and the tick at which it can first be reached."""

    cost: float
    finish_tick: int
    """Ticks from the window start until the optimum's job is done (the earliest among optimal schedules)."""

    @property
    def feasible(self) -> bool:
        """Whether any schedule meets the deadline."""
        return bool(np.isfinite(self.cost))


def oracle_cost(
    available: npt.NDArray[np.bool_],
    spot_price: npt.NDArray[np.float64],
    on_demand_price: float,
    shape: JobShape,
) -> OracleResult:
    """Minimum cost to finish the job; ``available`` and ``spot_price`` are (zones, ticks) from the window start.

    Ticks beyond ``shape.deadline_ticks`` are ignored; the window must hold at least that many.
    """
    avail = np.atleast_2d(np.asarray(available, dtype=np.bool_))
    spot = np.atleast_2d(np.asarray(spot_price, dtype=np.float64))
    if avail.shape != spot.shape:
        raise BacktestError(f"availability {avail.shape} and prices {spot.shape} differ in shape")
    zones, ticks = avail.shape
    horizon = shape.deadline_ticks
    if ticks < horizon:
        raise BacktestError(f"the window holds {ticks} ticks, the deadline needs {horizon}")
    work = shape.work_ticks
    lag = shape.overhead_ticks
    slots = max(lag, 1)
    modes = 2 + zones  # 0 idle, 1 on demand, 2.. spot in zone z
    gap = shape.gap_hours
    # per-tick price of each working mode (inf where the mode is impossible)
    tick_price = np.empty((modes - 1, horizon), dtype=np.float64)
    tick_price[0, :] = on_demand_price * gap
    tick_price[1:, :] = np.where(avail[:, :horizon], spot[:, :horizon] * gap, np.inf)

    cost = np.full((modes, slots, work + 1), np.inf)
    cost[0, 0, 0] = 0.0
    best_done = np.inf
    finish_tick = -1
    mode_index = np.arange(modes)[:, None]
    columns = np.arange(work + 1)
    for t in range(horizon):
        price = tick_price[:, t]
        fresh = np.full_like(cost, np.inf)
        by_mode = cost.min(axis=1)  # (modes, work+1): best state per mode whatever its overhead
        fresh[0, 0, :] = by_mode.min(axis=0)  # go (or stay) idle
        # continue the previous tick's instance: serve one overhead tick, or progress one tick
        cont = cost[1:] + price[:, None, None]
        if slots > 1:
            fresh[1:, :-1, :] = cont[:, 1:, :]
        np.minimum(fresh[1:, 0, 1:], cont[:, 0, :-1], out=fresh[1:, 0, 1:])
        # start a new instance in mode m from the best state of any other mode
        best = by_mode.argmin(axis=0)
        first = by_mode[best, columns]
        masked = by_mode.copy()
        masked[best, columns] = np.inf
        second = masked.min(axis=0)
        other = np.where(best[None, :] == mode_index, second[None, :], first[None, :])[1:]
        start = other + price[:, None]
        if lag >= 1:
            np.minimum(fresh[1:, lag - 1, :], start, out=fresh[1:, lag - 1, :])
        else:
            np.minimum(fresh[1:, 0, 1:], start[:, :-1], out=fresh[1:, 0, 1:])
        cost = fresh
        done = float(cost[:, :, work].min())
        if done < best_done - 1e-12:
            best_done = done
            finish_tick = t + 1
    return OracleResult(cost=best_done, finish_tick=finish_tick)
