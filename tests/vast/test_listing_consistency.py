"""Listings we can trust: an instance listing is returned only when its pages agree with each other (ids once and in
order, one total equal to the rows read), otherwise it is read again and finally refused; and ``get_instance`` tells
"gone" from "could not tell"."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from vastbid.errors import (
    IncompleteListingError,
    OfferGoneError,
    RequestRejectedError,
    ServerError,
)
from vastbid.vast.http import HttpSettings, RetryPolicy
from vastbid.vast.port import CreateRequest

from .conftest import Market

NO_PACING = HttpSettings(timeout=5.0, retry=RetryPolicy(max_attempts=3, backoff_initial=0.5), min_intervals={})
LISTING = {"native": "v1_instances", "lowcode": "lc_instances"}
SHOW = {"native": "show_instance", "lowcode": "lc_instance"}
PAGE = 3


def populate(api: Any, n: int) -> list[int]:
    """``n`` on-demand instances, alternately ours and another deployment's, in id order."""
    made: list[int] = []
    for offer in api.search_offers("", order="dph_total"):
        label = f"vastbid:test:job-{offer.id}:0" if len(made) % 2 else f"vastbid:other:job-{offer.id}:0"
        try:
            made.append(
                api.create_instance(offer.id, CreateRequest(image="img", disk_gb=10.0, label=label)).instance_id
            )
        except OfferGoneError:
            continue
        if len(made) == n:
            return sorted(made)
    raise AssertionError(f"the simulated market has fewer than {n} rentable offers")


def live(m: Market) -> list[int]:
    return sorted(i.id for i in m.sim.state.account_instances())


def listed(api: Any) -> list[int]:
    found = [i.id for i in api.list_instances()]
    assert len(found) == len(set(found)), f"an instance listed twice: {found}"
    return sorted(found)


def listing_requests(m: Market) -> int:
    return m.count("/api/v1/instances" if m.surface == "native" else "/vastai/instances")


@pytest.fixture
def m(inprocess_market: Market) -> Market:
    return inprocess_market


def test_another_deployment_destroying_an_instance_between_pages_changes_nothing_else(market: Market) -> None:
    api = market.api(settings=NO_PACING, page_size=PAGE)
    made = populate(api, 8)
    other = made[0]  # another deployment's, served on page 1
    market.sim.faults.add("listing_race", LISTING[market.surface], instance_id=other)
    assert listed(api) == live(market) == made[1:], "complete and current: every live instance, once"


@pytest.mark.parametrize("page", [1, 2])
def test_a_destroy_and_a_create_between_pages_are_caught_although_the_total_holds(m: Market, page: int) -> None:
    api = m.api(settings=NO_PACING, page_size=PAGE)
    made = populate(api, 8)
    m.sim.faults.add("listing_race", LISTING[m.surface], page=page)
    m.sim.faults.add("listing_race", LISTING[m.surface], page=page, action="create")
    result = listed(api)
    assert result == live(m) and len(result) == len(made)
    first_served = (page - 1) * (PAGE - 1 if m.surface == "lowcode" else PAGE)  # LowCode pages overlap by a row
    assert set(made) - set(result) == {made[first_served]}


def test_the_old_offset_race_is_caught_by_the_changed_total(m: Market) -> None:
    if m.surface != "native":
        pytest.skip("the LowCodeAPI listing always pages by offset: the race test above is its offset race")
    api = m.api(settings=NO_PACING, page_size=PAGE)
    made = populate(api, 8)
    m.sim.faults.offset_paging = True
    m.sim.faults.add("listing_race", LISTING[m.surface])
    assert listed(api) == live(m) == made[1:]


def test_a_duplicated_row_is_read_again_then_refused(m: Market) -> None:
    api = m.api(settings=NO_PACING, page_size=PAGE)
    made = populate(api, 7)
    m.sim.faults.add("duplicate_row", LISTING[m.surface], page=2)
    m.sent.clear()
    assert listed(api) == made
    assert listing_requests(m) == 5, "a pass stopped at the inconsistent page 2, then a good pass of three pages"
    m.sim.faults.add("duplicate_row", LISTING[m.surface], page=2, count=None)
    m.sent.clear()
    with pytest.raises(IncompleteListingError, match="listed twice") as info:
        api.list_instances()
    assert info.value.transient
    assert listing_requests(m) == 6, "three attempts of two pages each, then no partial list"


def test_a_changed_total_is_read_again_then_refused(m: Market) -> None:
    api = m.api(settings=NO_PACING, page_size=PAGE)
    made = populate(api, 7)
    m.sim.faults.add("wrong_total", LISTING[m.surface], page=3)
    assert listed(api) == made
    m.sim.faults.add("wrong_total", LISTING[m.surface], page=2, count=None)
    with pytest.raises(IncompleteListingError, match=r"total(_instances)? changed"):
        api.list_instances()


def test_a_total_that_the_rows_do_not_reach_is_refused(m: Market) -> None:
    api = m.api(settings=NO_PACING, page_size=25)
    populate(api, 4)
    m.sim.faults.add("wrong_total", LISTING[m.surface], count=None)
    with pytest.raises(IncompleteListingError):
        api.list_instances()


def test_without_a_total_the_order_and_overlap_checks_still_run(m: Market) -> None:
    api = m.api(settings=NO_PACING, page_size=PAGE)
    made = populate(api, 7)
    m.sim.faults.add("no_total", LISTING[m.surface], count=None)
    assert listed(api) == made
    m.sim.faults.add("listing_race", LISTING[m.surface], instance_id=made[1])
    assert set(listed(api)) >= set(live(m)), "no live instance missing"
    m.sim.faults.add("duplicate_row", LISTING[m.surface], page=2, count=None)
    with pytest.raises(IncompleteListingError, match="listed twice"):
        api.list_instances()


def test_the_number_of_attempts_is_configurable(m: Market) -> None:
    api = m.api(settings=NO_PACING, page_size=PAGE, listing_attempts=1)
    populate(api, 4)
    m.sim.faults.add("duplicate_row", LISTING[m.surface], count=1)
    with pytest.raises(IncompleteListingError, match="1 times"):
        api.list_instances()
    assert len(api.list_instances()) == 4


# --- one instance -----------------------------------------------------------------------------------------------


def test_a_destroyed_instance_is_gone(market: Market) -> None:
    api = market.api(settings=NO_PACING)
    made = populate(api, 2)
    api.destroy_instance(made[0])
    assert api.get_instance(made[0]) is None
    assert api.get_instance(made[1]) is not None


def test_a_5xx_is_could_not_tell_not_gone(m: Market) -> None:
    api = m.api(settings=NO_PACING)
    made = populate(api, 1)
    m.sim.faults.add("server_error", SHOW[m.surface], count=1, status=503)
    found = api.get_instance(made[0])
    assert found is not None and found.id == made[0], "one 503 is retried"
    m.sim.faults.add("server_error", SHOW[m.surface], count=None, status=502)
    with pytest.raises(ServerError) as info:
        api.get_instance(made[0])
    assert info.value.transient


def test_a_404_that_names_nothing_is_could_not_tell(m: Market) -> None:
    api = m.api(settings=NO_PACING)
    made = populate(api, 1)
    if m.surface == "native":
        with httpx.Client(transport=m.sim.transport(), base_url="http://sim.local/elsewhere") as client:
            astray = type(api)(client, m.key, settings=NO_PACING)
            with pytest.raises(RequestRejectedError):
                astray.get_instance(made[0])
    else:
        astray = type(api)(m.client, m.key, prefix="/not-vastai", settings=NO_PACING)
        with pytest.raises(RequestRejectedError):
            astray.get_instance(made[0])
