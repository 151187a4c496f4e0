"""The registry: built-ins and third-party strategies by entry point, validated parameters, clear errors."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from strategy_factories import ctx, job, offer

from vastbid.errors import StrategyError
from vastbid.strategies.base import Strategy, Verb
from vastbid.strategies.registry import available, build_strategy


def _install_package(root: Path, dist: str, module: str, source: str, entry_points: str) -> None:
    """A package as pip would leave it: a module plus a ``*.dist-info`` with METADATA and entry_points.txt."""
    (root / f"{module}.py").write_text(textwrap.dedent(source))
    info = root / f"{dist.replace('-', '_')}-0.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.3\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))


def test_every_builtin_price_strategy_is_registered() -> None:
    names = available()
    assert {"cheapest_per_gpu", "price_threshold", "perf_per_dollar", "stable_cheapest"} <= set(names)
    assert names == sorted(names)


def test_unknown_name_lists_the_valid_names() -> None:
    with pytest.raises(StrategyError, match=r"unknown strategy 'cheapest'; valid names: .*cheapest_per_gpu"):
        build_strategy("cheapest")


def test_parameters_are_validated_into_a_frozen_model_naming_the_problem() -> None:
    built = build_strategy("cheapest_per_gpu", {"bid_margin": 0.1})
    assert built.params.model_dump() == {"bid_margin": 0.1}
    with pytest.raises(Exception, match="frozen"):
        built.params.bid_margin = 0.2  # type: ignore[attr-defined]
    with pytest.raises(StrategyError, match=r"parameter 'bid_margin' = 7 is not allowed: .*less than or equal to 1"):
        build_strategy("cheapest_per_gpu", {"bid_margin": 7})
    with pytest.raises(StrategyError, match=r"parameter 'margin' is not a parameter of 'cheapest_per_gpu'"):
        build_strategy("cheapest_per_gpu", {"margin": 0.1})


def test_a_strategy_from_another_installed_package_is_found_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _install_package(
        tmp_path,
        "acme-strategies",
        "acme_first_offer",
        """
        from vastbid.strategies.base import Choice, StrategyParams, Verb

        class FirstOffer:
            name = "first_offer"

            class Params(StrategyParams):
                note: str = "hi"

            def __init__(self, params):
                self._params = params

            @property
            def params(self):
                return self._params

            def choose(self, ctx):
                if not ctx.offers:
                    return Choice(verb=Verb.WAIT, why="nothing")
                o = ctx.offers[0]
                return Choice(verb=Verb.ACQUIRE, why="first", offer=o, rental=None, price=o.dph_total)
        """,
        "[vastbid.strategies]\nfirst_offer = acme_first_offer:FirstOffer\n",
    )
    assert "first_offer" not in available()
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "first_offer" in available()
    built = build_strategy("first_offer", {"note": "x"})
    assert isinstance(built, Strategy)
    assert built.choose(ctx(job(), [offer(3, min_bid=0.1, dph=0.2)])).verb is Verb.ACQUIRE
    with pytest.raises(StrategyError, match="parameter 'note'"):
        build_strategy("first_offer", {"note": 3})


def test_an_entry_point_that_fails_to_load_names_its_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _install_package(
        tmp_path,
        "broken-strats",
        "broken_strat",
        "import this_module_does_not_exist\n",
        "[vastbid.strategies]\nbroken = broken_strat:Broken\n",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(
        StrategyError, match=r"'broken' .*package broken-strats 0.3 failed to load: ModuleNotFoundError"
    ):
        build_strategy("broken")
