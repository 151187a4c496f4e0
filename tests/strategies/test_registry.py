"""The registry: built-ins and third-party strategies by entry point, validated parameters, clear errors."""

from __future__ import annotations

import textwrap
from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest
from strategy_factories import ctx, job, offer

from vastbid.errors import StrategyError
from vastbid.strategies.base import Strategy, Verb
from vastbid.strategies.cheapest_per_gpu import CheapestPerGpu
from vastbid.strategies.registry import Registry, strategy_params


def _install_package(root: Path, dist: str, module: str, source: str, entry_points: str) -> None:
    """A package as pip would leave it: a module plus a ``*.dist-info`` with METADATA and entry_points.txt."""
    (root / f"{module}.py").write_text(textwrap.dedent(source))
    info = root / f"{dist.replace('-', '_')}-0.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.3\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))


def test_every_builtin_strategy_is_registered() -> None:
    registry = Registry.from_entry_points()
    names = registry.names()
    assert {"cheapest_per_gpu", "price_threshold", "perf_per_dollar", "stable_cheapest"} <= set(names)
    assert {"on_demand", "greedy", "uniform_progress", "deadline_aware"} <= set(names)
    assert names == sorted(names)
    assert "deadline_aware" in registry and "cheapest" not in registry


def test_unknown_name_lists_the_valid_names() -> None:
    registry = Registry({"cheapest_per_gpu": CheapestPerGpu})
    with pytest.raises(StrategyError, match=r"unknown strategy 'cheapest'; valid names: cheapest_per_gpu$"):
        registry.build("cheapest")


def test_parameters_are_validated_into_a_frozen_strategy_naming_each_problem() -> None:
    registry = Registry({"cheapest_per_gpu": CheapestPerGpu})
    built = registry.build("cheapest_per_gpu", {"bid_margin": 0.1})
    assert built == CheapestPerGpu(bid_margin=0.1)
    assert strategy_params(built) == {"bid_margin": 0.1}
    assert registry.build("cheapest_per_gpu") == CheapestPerGpu()
    with pytest.raises(FrozenInstanceError):
        built.bid_margin = 0.2  # type: ignore[attr-defined]
    with pytest.raises(StrategyError, match=r"parameter 'bid_margin' = 7 is not allowed: .*less than or equal to 1"):
        registry.build("cheapest_per_gpu", {"bid_margin": 7})
    with pytest.raises(StrategyError, match=r"parameter 'bid_margin' = 'cheap' is not allowed: .*valid number"):
        registry.validate("cheapest_per_gpu", {"bid_margin": "cheap"})
    with pytest.raises(
        StrategyError,
        match=r"parameter 'margin' is not a parameter of 'cheapest_per_gpu'.*\(its parameters: bid_margin\)",
    ):
        registry.validate("cheapest_per_gpu", {"margin": 0.1})
    registry.validate("cheapest_per_gpu", {"bid_margin": 0.2})


def test_every_problem_is_named_at_once() -> None:
    registry = Registry.from_entry_points()
    with pytest.raises(StrategyError) as caught:
        registry.build("deadline_aware", {"od_exit_slack": 1.0, "min_samples": 0, "speed": 2})
    message = str(caught.value)
    for problem in ("'speed' is not a parameter", "'od_exit_slack' = 1.0", "'min_samples' = 0"):
        assert problem in message
    assert "leave_min_age" in message  # the parameters it does have


def test_a_strategy_from_another_installed_package_is_found_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _install_package(
        tmp_path,
        "acme-strategies",
        "acme_first_offer",
        """
        from dataclasses import dataclass
        from typing import ClassVar

        from vastbid.strategies.base import Choice, Verb

        @dataclass(frozen=True, kw_only=True)
        class FirstOffer:
            name: ClassVar[str] = "first_offer"
            note: str = "hi"

            def choose(self, ctx):
                if not ctx.offers:
                    return Choice(verb=Verb.WAIT, why="nothing")
                o = ctx.offers[0]
                return Choice(verb=Verb.ACQUIRE, why="first", offer=o, rental=None, price=o.dph_total)
        """,
        "[vastbid.strategies]\nfirst_offer = acme_first_offer:FirstOffer\n",
    )
    assert "first_offer" not in Registry.from_entry_points()
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = Registry.from_entry_points()
    assert "first_offer" in registry.names()
    built = registry.build("first_offer", {"note": "x"})
    assert isinstance(built, Strategy)
    assert built.choose(ctx(job(), [offer(3, min_bid=0.1, dph_total=0.2)])).verb is Verb.ACQUIRE
    with pytest.raises(StrategyError, match="parameter 'note'"):
        registry.build("first_offer", {"note": 3})


def test_an_entry_point_that_fails_to_load_names_its_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _install_package(
        tmp_path,
        "broken-strats",
        "broken_strat",
        "import this_module_does_not_exist\n",
        "[vastbid.strategies]\nbroken = broken_strat:Broken\n",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = Registry.from_entry_points()
    assert "broken" in registry.names()
    with pytest.raises(
        StrategyError, match=r"'broken' .*package broken-strats 0.3 failed to load: ModuleNotFoundError"
    ):
        registry.build("broken")
    assert registry.build("greedy") is not None  # one broken package fails only its own strategies


def test_a_class_that_is_no_strategy_is_refused_by_name() -> None:
    class Loose:
        name = "loose"

        def choose(self, ctx: object) -> None:
            return None

    with pytest.raises(StrategyError, match=r"'loose' .* is not a strategy class"):
        Registry({"loose": Loose}).build("loose")
