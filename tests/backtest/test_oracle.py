"""The oracle is the true optimum: checked against brute force on tiny hand-made traces."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from vastbid.backtest.model import JobShape
from vastbid.backtest.oracle import oracle_cost


def brute_force(available: np.ndarray, spot: np.ndarray, on_demand: float, shape: JobShape) -> float:
    """Enumerate every schedule: per tick idle (0), on demand (1) or spot in zone z (2 + z)."""
    zones = available.shape[0]
    best = math.inf
    for plan in itertools.product(range(2 + zones), repeat=shape.deadline_ticks):
        mode, overhead, progress, cost = 0, 0, 0, 0.0
        for t, choice in enumerate(plan):
            if progress >= shape.work_ticks:
                break
            if choice == 0:
                mode, overhead = 0, 0
                continue
            if choice >= 2 and not available[choice - 2, t]:
                break  # impossible schedule
            price = on_demand if choice == 1 else spot[choice - 2, t]
            cost += price * shape.gap_hours
            if choice != mode:
                mode, overhead = choice, shape.overhead_ticks
            if overhead > 0:
                overhead -= 1
            else:
                progress += 1
        if progress >= shape.work_ticks:
            best = min(best, cost)
    return best


CASES = [
    # (available per zone, spot per zone, work, deadline, overhead)
    ([[1, 1, 0, 1, 1, 1]], [[1.0] * 6], 3, 6, 1),
    ([[0, 1, 1, 0, 1, 1, 1]], [[1.0, 1.0, 2.0, 1.0, 0.5, 0.5, 0.5]], 4, 7, 1),
    ([[1, 0, 1, 0, 1, 0, 1]], [[1.0] * 7], 3, 7, 0),
    ([[1, 1, 1, 0, 0, 1, 1]], [[1.2] * 7], 3, 7, 2),
    ([[1, 0, 1, 1, 0, 0], [0, 1, 1, 0, 1, 1]], [[1.0] * 6, [0.8] * 6], 3, 6, 1),
    ([[1, 1, 0, 0, 1], [0, 0, 1, 1, 1]], [[2.5] * 5, [1.0] * 5], 2, 5, 1),
]


@pytest.mark.parametrize(("avail", "spot", "work", "deadline", "overhead"), CASES)
def test_oracle_matches_brute_force(
    avail: list[list[int]], spot: list[list[float]], work: int, deadline: int, overhead: int
) -> None:
    available = np.array(avail, dtype=bool)
    prices = np.array(spot, dtype=float)
    shape = JobShape(work_ticks=work, deadline_ticks=deadline, overhead_ticks=overhead, gap_hours=1.0)
    expected = brute_force(available, prices, 3.0, shape)
    assert oracle_cost(available, prices, 3.0, shape).cost == pytest.approx(expected)


def test_random_tiny_traces_match_brute_force() -> None:
    rng = np.random.default_rng(5)
    for _ in range(12):
        zones = int(rng.integers(1, 3))
        available = rng.random((zones, 6)) < 0.6
        prices = rng.uniform(0.5, 2.0, size=(zones, 6)).round(2)
        shape = JobShape(work_ticks=3, deadline_ticks=6, overhead_ticks=int(rng.integers(0, 3)), gap_hours=0.5)
        expected = brute_force(available, prices, 3.0, shape)
        assert oracle_cost(available, prices, 3.0, shape).cost == pytest.approx(expected)


def test_an_infeasible_deadline_has_no_finite_optimum() -> None:
    shape = JobShape(work_ticks=4, deadline_ticks=4, overhead_ticks=1, gap_hours=1.0)
    result = oracle_cost(np.ones((1, 4), dtype=bool), np.ones((1, 4)), 3.0, shape)
    assert not result.feasible


def test_without_spot_the_optimum_is_on_demand_from_the_start() -> None:
    shape = JobShape(work_ticks=3, deadline_ticks=8, overhead_ticks=1, gap_hours=1.0)
    result = oracle_cost(np.zeros((1, 8), dtype=bool), np.ones((1, 8)), 3.0, shape)
    assert result.cost == pytest.approx(4 * 3.0)  # one overhead tick + three working ticks
