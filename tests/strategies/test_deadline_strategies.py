"""The four deadline strategies on hand-made contexts: what each does when spot is there, when behind, when late."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

import factories
from vastbid.core.instances import Instance, InstanceStatus
from vastbid.core.jobs import Job, JobSpec, JobState
from vastbid.core.offers import Offer, RentalType
from vastbid.core.spot_runs import SpotStats
from vastbid.strategies.base import Choice, StrategyContext, Verb
from vastbid.strategies.deadline_aware import DeadlineAware, expected_remaining_lifetime
from vastbid.strategies.greedy import Greedy
from vastbid.strategies.on_demand import OnDemand
from vastbid.strategies.uniform_progress import UniformProgress

T0 = datetime(2026, 1, 1, tzinfo=UTC)
ALL = [OnDemand(), Greedy(), UniformProgress(), DeadlineAware()]


def offer(zone: int, min_bid: float, dph: float = 3.0) -> Offer:
    """Zone ``zone``'s single-V100 place (offer, machine and host ids are the zone's number)."""
    return factories.offer(
        zone,
        machine_id=zone,
        host_id=zone,
        gpu_name="V100",
        gpu_ram_gb=16,
        dph_total=dph,
        min_bid=min_bid,
        reliability=1.0,
    )


def ctx(
    *,
    elapsed: float,
    done: float,
    offers: list[Offer],
    instance: Instance | None = None,
    work: float = 8.0,
    horizon: float = 10.0,
    overhead: float = 0.5,
) -> StrategyContext:
    spec = JobSpec(
        name="j",
        image="i",
        max_price_per_gpu=3.5,
        work_hours=work,
        deadline=T0 + timedelta(hours=horizon),
        restart_overhead_hours=overhead,
    )
    job = Job(id=1, spec=spec, state=JobState.RUNNING, created_at=T0, progress_hours=done)
    return StrategyContext(job=job, offers=offers, now=T0 + timedelta(hours=elapsed), instance=instance)


def held(zone: int, *, spot: bool, status: InstanceStatus = InstanceStatus.RUNNING) -> Instance:
    """Our instance in zone ``zone``: a spot bid at $1/h, or on demand at $3/h."""
    return factories.instance(
        9, machine_id=zone, bid=1.0 if spot else None, dph=3.0, gpu_name="V100", started_at=T0, status=status
    )


SPOT_THERE = [offer(1, 1.2), offer(2, 0.9, dph=3.2)]
NO_SPOT = [offer(1, 100.0), offer(2, 100.0, dph=3.2)]


def is_spot(choice: Choice) -> bool:
    return choice.verb in (Verb.ACQUIRE, Verb.MIGRATE) and choice.rental is RentalType.INTERRUPTIBLE


def is_on_demand(choice: Choice) -> bool:
    return choice.verb in (Verb.ACQUIRE, Verb.MIGRATE) and choice.rental is RentalType.ON_DEMAND


def test_greedy_takes_the_cheapest_spot_when_there() -> None:
    choice = Greedy().choose(ctx(elapsed=0, done=0, offers=SPOT_THERE))
    assert is_spot(choice)
    assert choice.offer is not None and choice.offer.machine_id == 2
    assert choice.price is not None and 0.9 <= choice.price <= 3.5


def test_greedy_waits_without_spot_while_slack_lasts() -> None:
    choice = Greedy().choose(ctx(elapsed=0, done=0, offers=NO_SPOT))
    assert choice.verb is Verb.WAIT


@pytest.mark.parametrize("strategy", [Greedy(), UniformProgress()])
def test_safety_net_fires_when_slack_is_under_two_overheads(strategy: Greedy | UniformProgress) -> None:
    # 8 h of work, 1 h done, 7.9 h left: slack 0.9 h < 2 * 0.5 h, spot available or not
    for offers in (NO_SPOT, SPOT_THERE):
        choice = strategy.choose(ctx(elapsed=2.1, done=1.0, offers=offers))
        assert is_on_demand(choice), choice
        assert choice.offer is not None and choice.offer.machine_id == 1  # the cheapest on-demand place


@pytest.mark.parametrize("strategy", [Greedy(), UniformProgress()])
def test_a_preempted_job_with_thin_slack_goes_on_demand(strategy: Greedy | UniformProgress) -> None:
    outbid = held(1, spot=True, status=InstanceStatus.OUTBID)
    choice = strategy.choose(ctx(elapsed=2.1, done=1.0, offers=SPOT_THERE, instance=outbid))
    assert choice.verb is Verb.MIGRATE and choice.rental is RentalType.ON_DEMAND


def test_uniform_progress_goes_on_demand_when_idle_and_behind() -> None:
    # ep(2) = 1.6 h, done 1.0: behind; slack 2 h is ample
    choice = UniformProgress().choose(ctx(elapsed=2.0, done=1.0, offers=NO_SPOT))
    assert is_on_demand(choice)


def test_uniform_progress_waits_when_ahead_and_takes_spot_even_when_behind() -> None:
    up = UniformProgress()
    assert up.choose(ctx(elapsed=2.0, done=1.7, offers=NO_SPOT)).verb is Verb.WAIT
    assert is_spot(up.choose(ctx(elapsed=2.0, done=1.0, offers=SPOT_THERE)))


def test_uniform_progress_stays_on_demand_until_ahead_of_ep_t_plus_2d() -> None:
    up = UniformProgress()
    on_demand = held(1, spot=False)
    # ep(2) = 1.6, ep(2 + 2 * 0.5) = 2.4
    stay = up.choose(ctx(elapsed=2.0, done=2.0, offers=SPOT_THERE, instance=on_demand))
    assert stay.verb is Verb.KEEP
    leave = up.choose(ctx(elapsed=2.0, done=2.45, offers=SPOT_THERE, instance=on_demand))
    assert leave.verb is Verb.MIGRATE and leave.rental is RentalType.INTERRUPTIBLE


@pytest.mark.parametrize("strategy", ALL[1:])
def test_spot_strategies_stay_on_spot_until_preempted(strategy: Greedy) -> None:
    choice = strategy.choose(ctx(elapsed=2.0, done=1.0, offers=SPOT_THERE, instance=held(1, spot=True)))
    assert choice.verb is Verb.KEEP


def test_on_demand_rents_the_cheapest_on_demand_place_and_keeps_it() -> None:
    od = OnDemand()
    first = od.choose(ctx(elapsed=0, done=0, offers=SPOT_THERE))
    assert is_on_demand(first)
    assert first.offer is not None and first.offer.machine_id == 1
    assert od.choose(ctx(elapsed=1, done=0.5, offers=SPOT_THERE, instance=held(1, spot=False))).verb is Verb.KEEP


@pytest.mark.parametrize("strategy", ALL)
def test_done_work_releases_the_instance(strategy: Greedy) -> None:
    choice = strategy.choose(ctx(elapsed=9.0, done=8.0, offers=SPOT_THERE, instance=held(1, spot=False)))
    assert choice.verb is Verb.RELEASE


@pytest.mark.parametrize("strategy", ALL)
def test_no_offers_and_no_instance_is_a_wait(strategy: Greedy) -> None:
    choice = strategy.choose(ctx(elapsed=0, done=0, offers=[]))
    assert choice.verb is Verb.WAIT and choice.offer is None


@pytest.mark.parametrize("strategy", ALL)
def test_prices_never_exceed_the_cap(strategy: Greedy) -> None:
    dear = [offer(1, 3.4, dph=3.45), offer(2, 100.0, dph=9.0)]
    for elapsed, done in ((0, 0), (2.0, 1.0), (2.1, 1.0)):
        choice = strategy.choose(ctx(elapsed=elapsed, done=done, offers=dear))
        if choice.price is not None:
            assert choice.price <= 3.5
            assert choice.offer is not None and choice.offer.machine_id == 1


def capacity(up_hours: float, past_up_hours: tuple[float, ...]) -> SpotStats:
    """A machine's spot statistics: the current run's age and the lengths of its past runs."""
    return SpotStats(up_hours=up_hours, past_up_hours=past_up_hours)


def with_stats(context: StrategyContext, stats: dict[int, SpotStats]) -> StrategyContext:
    return replace(context, spot_stats=stats)


def test_deadline_aware_skips_a_spot_expected_to_die_before_paying_its_overhead() -> None:
    da = DeadlineAware()
    short = {2: capacity(0.1, (0.2,) * 10), 1: capacity(0.1, (0.2,) * 10)}
    lasting = {2: capacity(0.1, (5.0,) * 10), 1: capacity(0.1, (5.0,) * 10)}
    base = ctx(elapsed=0.5, done=0.5, offers=SPOT_THERE)
    assert da.choose(with_stats(base, short)).verb is Verb.WAIT
    assert is_spot(da.choose(with_stats(base, lasting)))


def test_deadline_aware_stays_on_demand_rather_than_idle_when_ahead_without_spot() -> None:
    da = DeadlineAware()
    up = UniformProgress()
    context = ctx(elapsed=2.0, done=2.45, offers=NO_SPOT, instance=held(1, spot=False))
    assert up.choose(context).verb is Verb.RELEASE
    assert da.choose(context).verb is Verb.KEEP


def test_deadline_aware_migrates_between_spot_places_only_for_a_real_gain() -> None:
    da = DeadlineAware()
    long_life = {2: capacity(1.0, (20.0,) * 10)}
    short_life = {2: capacity(1.0, (1.2,) * 10)}
    on_dear_spot = held(1, spot=True)
    offers = [offer(1, 1.2), offer(2, 0.6, dph=3.2)]
    moved = da.choose(with_stats(ctx(elapsed=1, done=0.5, offers=offers, instance=on_dear_spot), long_life))
    assert moved.verb is Verb.MIGRATE and moved.offer is not None and moved.offer.machine_id == 2
    stay = da.choose(with_stats(ctx(elapsed=1, done=0.5, offers=offers, instance=on_dear_spot), short_life))
    assert stay.verb is Verb.KEEP


def test_deadline_aware_leaves_on_demand_for_spot_while_behind_when_the_slack_affords_a_restart() -> None:
    # ep(2 + 2d) = 2.4 h, done 1.5: behind the UP hysteresis line; slack 8 - 6.5 = 1.5 h >= 2 * 0.5 h
    on_demand = held(1, spot=False)
    context = ctx(elapsed=2.0, done=1.5, offers=SPOT_THERE, instance=on_demand)
    assert UniformProgress().choose(context).verb is Verb.KEEP
    moved = DeadlineAware().choose(context)
    assert moved.verb is Verb.MIGRATE and moved.rental is RentalType.INTERRUPTIBLE
    assert moved.offer is not None and moved.offer.machine_id == 2
    # the old rule (UP's hysteresis) stays available as a parameter
    hysteresis = DeadlineAware(od_exit_slack=None).choose(context)
    assert hysteresis.verb is Verb.KEEP


def test_deadline_aware_leaves_on_demand_only_for_capacity_that_has_already_lasted() -> None:
    # slack 1.5 h affords a restart; both places have a history of long runs; d = 0.5 h, leave_min_age 1.25 d
    context = ctx(elapsed=2.0, done=1.5, offers=SPOT_THERE, instance=held(1, spot=False))
    da = DeadlineAware(leave_min_age=1.25)

    def aged(age: float) -> StrategyContext:
        return with_stats(context, {z: capacity(age, (5.0,) * 10) for z in (1, 2)})

    assert da.choose(aged(0.1)).verb is Verb.KEEP
    assert is_spot(da.choose(aged(1.0)))
    assert is_spot(DeadlineAware().choose(aged(0.1)))


def test_deadline_aware_leaves_on_demand_on_the_median_lifetime_not_a_mean_inflated_by_rare_long_runs() -> None:
    # of 10 past runs older than the current one (0.7 h), 6 end within 0.3 h and 4 last 40 h: mean 15.9 h, median 0.3 h
    history = {z: capacity(0.7, (1.0,) * 6 + (40.0,) * 4) for z in (1, 2)}
    context = with_stats(ctx(elapsed=2.0, done=1.5, offers=SPOT_THERE, instance=held(1, spot=False)), history)
    assert DeadlineAware().choose(context).verb is Verb.KEEP
    assert is_spot(DeadlineAware(leave_quantile=None).choose(context))


def test_deadline_aware_never_leaves_on_demand_when_a_restart_would_eat_the_safety_margin() -> None:
    # slack 8 - 7.1 = 0.9 h < 2 * 0.5 h: stay on demand whatever spot there is
    on_demand = held(1, spot=False)
    for exit_slack in (2.0, 3.0):
        choice = DeadlineAware(od_exit_slack=exit_slack).choose(
            ctx(elapsed=2.1, done=1.0, offers=SPOT_THERE, instance=on_demand)
        )
        assert choice.verb is Verb.KEEP
    # with a 3d exit margin, a slack of 1.25 h (2.5 d) is not enough either, while 2d lets it go
    context = ctx(elapsed=2.0, done=1.25, offers=SPOT_THERE, instance=on_demand)
    assert DeadlineAware(od_exit_slack=3.0).choose(context).verb is Verb.KEEP
    assert is_spot(DeadlineAware(od_exit_slack=2.0).choose(context))


def test_deadline_aware_idle_reserve_sets_how_much_slack_it_keeps_before_going_on_demand() -> None:
    # idle, no spot; slack 10 - 4 - (8 - 3) = 1.0 h; UP's reserve R(t) * (1 - C0/R0) = 6 * 0.2 = 1.2 h
    context = ctx(elapsed=4.0, done=3.0, offers=NO_SPOT)
    assert is_on_demand(DeadlineAware().choose(context))
    assert DeadlineAware(idle_reserve=0.5).choose(context).verb is Verb.WAIT


def test_deadline_aware_waits_longer_for_capacity_that_comes_back_in_long_runs() -> None:
    # idle, no spot; slack 1.0 h; UP's reserve 1.2 h. Past runs of 8 h: factor 1 - 0.05 * 8 = 0.6, reserve 0.72 h
    context = ctx(elapsed=4.0, done=3.0, offers=NO_SPOT)
    da = DeadlineAware()

    def runs(hours: float) -> StrategyContext:
        return with_stats(context, {z: capacity(0.0, (hours,) * 10) for z in (1, 2)})

    assert is_on_demand(da.choose(runs(0.5)))
    assert da.choose(runs(8.0)).verb is Verb.WAIT
    assert is_on_demand(DeadlineAware(reserve_per_run_hour=0.0).choose(runs(8.0)))
    # the floor: runs of 100 h do not empty the reserve (slack 0.5 h < 0.6 * 1.2 h)
    late = with_stats(ctx(elapsed=4.0, done=2.5, offers=NO_SPOT), {1: capacity(0.0, (100.0,) * 10)})
    assert is_on_demand(da.choose(late))


def test_deadline_aware_release_margin_gives_up_on_demand_only_when_far_ahead() -> None:
    # on demand, no spot, slack 10 - 2 - (8 - 2.45) = 2.45 h; reserve 8 * 0.2 = 1.6 h; 0.85 h = 1.7 d over it
    context = ctx(elapsed=2.0, done=2.45, offers=NO_SPOT, instance=held(1, spot=False))
    assert DeadlineAware(od_release_margin=1.0).choose(context).verb is Verb.RELEASE
    assert DeadlineAware(od_release_margin=2.0).choose(context).verb is Verb.KEEP


def test_deadline_aware_never_moves_between_spot_places_when_the_move_would_eat_the_safety_margin() -> None:
    da = DeadlineAware()
    long_life = {2: capacity(1.0, (20.0,) * 10)}
    offers = [offer(1, 1.2), offer(2, 0.6, dph=3.2)]
    # slack 10 - 2 - (8 - 1.25) = 1.25 h = 2.5 d: a move (d) then a preemption (d to reach on demand) would miss
    stay = da.choose(with_stats(ctx(elapsed=2.0, done=1.25, offers=offers, instance=held(1, spot=True)), long_life))
    assert stay.verb is Verb.KEEP


def test_lifetime_estimate_is_the_mean_or_a_quantile_of_what_past_runs_as_old_had_left() -> None:
    past = [0.5, 1.5, 2.0, 3.0, 9.0]  # runs already 1 h old had 0.5, 1, 2 and 8 h left
    assert expected_remaining_lifetime(past, 1.0, min_samples=4) == pytest.approx(2.875)
    assert expected_remaining_lifetime(past, 1.0, min_samples=4, quantile=0.5) == pytest.approx(2.0)
    assert expected_remaining_lifetime(past, 1.0, min_samples=5) is None


def test_lifetime_estimate_counts_the_runs_that_ended_at_exactly_the_current_age() -> None:
    # ticks of 1/6 h: most runs lasted one tick; a run seen for one tick is as likely as they were to end now
    tick = 1 / 6
    past = [tick] * 8 + [tick * 20] * 2
    assert expected_remaining_lifetime(past, tick, min_samples=5, quantile=0.5) == pytest.approx(0.0)
    assert expected_remaining_lifetime(past, tick, min_samples=5) == pytest.approx(2 * 19 * tick / 10)


def test_deadline_aware_prefers_the_spot_place_with_the_lower_price_per_useful_hour() -> None:
    # zone 2 is cheaper (0.9 vs 1.2) but expected to last 0.8 h, 0.5 h of which is restart overhead
    stats = {1: capacity(0.1, (5.1,) * 10), 2: capacity(0.1, (0.9,) * 10)}
    context = with_stats(ctx(elapsed=0.5, done=0.5, offers=SPOT_THERE), stats)
    chosen = DeadlineAware().choose(context)
    assert is_spot(chosen) and chosen.offer is not None and chosen.offer.machine_id == 1
    by_price = DeadlineAware(rank_by_lifetime=False).choose(context)
    assert by_price.offer is not None and by_price.offer.machine_id == 2
