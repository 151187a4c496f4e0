"""Every job sees the offers it could use, even when the market is larger than one search page (issue 11).

The market is the simulator's default model mix cut to a few hundred offers, and one search returns at most a few
dozen: the first look (the cheapest minimum bids of everything) holds no H100, as on a large real market.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from vastbid.core.offers import Offer
from vastbid.daemon import observe as observe_module
from vastbid.daemon.observe import BROAD_QUERY, ORDER, Need, observe

from ._world import World, job_spec

PAGE = 40
H100 = "gpu_name=H100_SXM"
RTX_3090 = "gpu_name=RTX_3090"
RTX_4090 = "gpu_name=RTX_4090 reliability>0.9"


def every_offer(world: World, query: str) -> list[Offer]:
    """Every offer of the market matching ``query`` (a search larger than the market)."""
    return world.other_client().search_offers(query, limit=10_000, order=ORDER)


def cheapest_page(world: World) -> list[Offer]:
    """What one broad search of ``PAGE`` offers shows (the first look)."""
    return world.other_client().search_offers(BROAD_QUERY, limit=PAGE, order=ORDER)


@pytest.fixture
def big(make_world: Callable[..., World]) -> World:
    world = make_world(scenario="default", offers=400)
    assert len(world.sim.state.offers) > 5 * PAGE
    assert not [o for o in cheapest_page(world) if o.gpu_name == "H100 SXM"], "the first look must miss the H100s"
    return world


def test_a_rare_gpus_job_still_sees_every_offer_under_its_cap(big: World) -> None:
    usable = [o for o in every_offer(big, H100) if o.num_gpus == 1 and o.min_bid <= 3.0]
    assert usable, "the market must hold an H100 the job can afford"
    needs = {H100: {Need(1, 3.0)}, RTX_3090: {Need(1, 0.3), Need(2, 0.6)}, RTX_4090: {Need(4, 2.4)}}

    seen = observe(big.api, set(needs), big.now(), needs=needs, page=PAGE)

    assert {o.id for o in usable} <= {o.id for o in seen.offers[H100]}
    for text, wanted in needs.items():
        for need in wanted:
            whole = {o.id for o in every_offer(big, text) if o.num_gpus == need.num_gpus and o.min_bid <= need.max_dph}
            assert whole <= {o.id for o in seen.offers[text]}, f"{text} x{need.num_gpus} missed offers"
    assert seen.cut == {}
    assert seen.searches <= observe_module.MAX_SEARCHES


def test_a_view_cut_by_the_page_keeps_the_cheapest_and_says_so(big: World) -> None:
    usable = sorted((o for o in every_offer(big, RTX_3090) if o.num_gpus == 1), key=lambda o: (o.min_bid, o.id))
    assert len(usable) > 5

    seen = observe(big.api, {RTX_3090}, big.now(), needs={RTX_3090: {Need(1, 100.0)}}, page=5)

    view = {o.id for o in seen.offers[RTX_3090]}
    assert usable[0].id in view, "the cheapest offer the job could use is seen"
    assert not {o.id for o in usable} <= view
    assert seen.cut == {RTX_3090: len(seen.offers[RTX_3090])}


def test_a_market_within_one_page_costs_one_search(make_world: Callable[..., World]) -> None:
    world = make_world()
    filters = {H100, RTX_3090, RTX_4090}
    seen = observe(world.api, filters, world.now(), needs={f: {Need(1, 10.0)} for f in filters})
    assert seen.searches == 1
    assert seen.cut == {}
    assert [p for _, p in world.requests if p.endswith("/bundles/")] == ["/api/v0/bundles/"]


def test_the_daemon_rents_a_rare_gpu_beyond_the_first_page(big: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(observe_module, "PAGE", PAGE)
    store = big.store
    store.jobs.submit_many(
        [
            job_spec("h100", 100, offer_filter=H100, max_price_per_gpu=3.0, rental="interruptible"),
            job_spec("cheap", 100, offer_filter=RTX_3090, max_price_per_gpu=0.3, rental="interruptible"),
        ]
    )
    daemon = big.daemon()

    result = daemon.tick()

    assert result.ok, result.error
    assert "H100 SXM" in {i.gpu_name for i in big.ours()}


def test_a_search_quota_reached_mid_tick_cuts_views_but_the_tick_still_sees(big: World) -> None:
    big.sim.faults.search_quota = 1  # the first look passes, every follow-up is refused for the day
    needs = {H100: {Need(1, 3.0)}, RTX_3090: {Need(1, 0.3)}}

    seen = observe(big.api, set(needs), big.now(), needs=needs, page=PAGE)

    assert H100 in seen.cut and seen.offers[H100] == []
    assert seen.account.balance > 0
    assert sum(1 for _, p in big.requests if p.endswith("/bundles/")) == 2, "no search after the refusal"


def test_the_decision_log_says_when_a_job_s_view_was_cut(big: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(observe_module, "PAGE", PAGE)
    big.sim.faults.search_quota = 1  # only the first look, one page of a broad search: the job's view is cut
    job = big.store.jobs.submit(job_spec("any", 100, offer_filter="", max_price_per_gpu=3.0))

    assert big.daemon().tick().ok

    rows = big.store.decisions.query(job_id=job.id)
    assert rows and all(row.facts.get("view_cut") == PAGE for row in rows), [row.facts for row in rows]
