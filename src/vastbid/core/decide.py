"""``decide()``: one tick's pure decision, from a market snapshot and the jobs to a ``Plan``.

In order:
1. lifecycle, per job by id: destroy the instance of a finished (cancelled, expired, succeeded, failed) job;
   expire a job past its deadline; requeue a job whose instance vanished; finish a job whose instance exited
   (destroy it; succeeded, or failed on a non-zero exit code in ``status_msg``); stop a job that reached its
   max cost, or whose instance would pass it before the next chance to stop it (failed);
2. budgets: committed $/h of every live instance is checked against the caps over the horizon (see ``ledger``);
   when it is over, the lowest-priority spend is shed first (stopped when stopping enough GPUs suffices, else
   destroyed), with a reason naming the cap;
3. serving, by priority, least slack, id: each job's strategy is shown a window of its group's ranked candidates
   (see ``candidates``) and its instance; its choice is applied if it keeps the caps, the job's max cost, the
   rental the job allows and the hysteresis rule (see ``lifecycle``): acquire, keep, re-bid, resume a stopped
   instance of ours, migrate (create the new one, then destroy the old), fall back to on demand, release.

One offer and one machine go to at most one job per plan, and a machine we hold is not offered to another job:
our own bids never compete with each other.
Budgets are enforced here and nowhere else, on the full cost of a rental (GPU, storage at the job's disk) over the
whole time until it can next be stopped, paced actions included (see ``ledger``). The same inputs always give the
same plan.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from vastbid.core.actions import (
    Action,
    ChangeBid,
    DestroyInstance,
    PlaceBid,
    RentOnDemand,
    StartInstance,
    StopInstance,
    UpdateJob,
)
from vastbid.core.budget import Budget
from vastbid.core.candidates import CandidatePools
from vastbid.core.choice import Choice, Strategy, StrategyContext, Verb
from vastbid.core.instances import Instance, InstanceStatus
from vastbid.core.jobs import Job, JobState, Rental
from vastbid.core.labels import make_label
from vastbid.core.ledger import (
    EPS_DPH,
    Ledger,
    caps_of,
    instance_commit,
    instance_gpu_commit,
    job_max_cost,
    rental_commit,
)
from vastbid.core.lifecycle import exit_code, migration_refusal, serve_key, shed_key
from vastbid.core.offers import Offer, RentalType
from vastbid.core.plan import ErrorCause, JobDecision, JobOutcome, Plan, StrategyUnavailable
from vastbid.core.policy import DecidePolicy, strategy_key
from vastbid.core.snapshot import MarketSnapshot
from vastbid.core.spot_runs import SpotStats

_RUNNING = frozenset({InstanceStatus.RUNNING, InstanceStatus.LOADING})
_ALLOWED: Mapping[Rental, frozenset[RentalType]] = {
    Rental.INTERRUPTIBLE: frozenset({RentalType.INTERRUPTIBLE}),
    Rental.ON_DEMAND: frozenset({RentalType.ON_DEMAND}),
    Rental.AUTO: frozenset({RentalType.INTERRUPTIBLE, RentalType.ON_DEMAND}),
}


def decide(
    snapshot: MarketSnapshot,
    jobs: Sequence[Job],
    *,
    budget: Budget,
    strategies: Mapping[str, Strategy | StrategyUnavailable],
    policy: DecidePolicy,
) -> Plan:
    """The plan for this tick (see the module docstring); "now" is ``snapshot.taken_at``.

    ``strategies`` maps ``strategy_key`` values to strategies (or to why one could not be built).

    A job's max cost is checked over the horizon known when the job is decided; the jobs decided after it may
    lengthen it (each create is paced). When the finished plan's horizon would carry a job past its max cost, the
    plan is decided again with that horizon for every job's max cost (a longer horizon only refuses more).
    """
    floor = 0.0
    for _ in range(_MAX_PASSES):
        decider = _Decider(snapshot, budget, strategies, policy, job_hours_floor=floor)
        plan = decider.run(jobs)
        hours = decider.job_cap_breach_hours()
        if hours is None or hours <= floor:
            break
        floor = hours
    return plan


_MAX_PASSES = 3
"""How many times one ``decide()`` may plan: a longer horizon refuses more, which only shortens it."""


class _Decider:
    """The mutable state of one ``decide()`` call; nothing outside it is changed."""

    def __init__(
        self,
        snapshot: MarketSnapshot,
        budget: Budget,
        strategies: Mapping[str, Strategy | StrategyUnavailable],
        policy: DecidePolicy,
        *,
        job_hours_floor: float = 0.0,
    ) -> None:
        self.snapshot = snapshot
        self.job_hours_floor = job_hours_floor
        """The least horizon a job's max cost is checked over (a previous pass's, see ``decide``)."""
        self.budget = budget
        self.strategies = strategies
        self.now = snapshot.taken_at
        self.policy = policy
        self.ledger = Ledger(caps_of(budget, snapshot.balance, snapshot.spent_today, snapshot.spent_month), policy)
        self._paces: dict[type, float] = {
            PlaceBid: policy.create_seconds,
            RentOnDemand: policy.create_seconds,
            ChangeBid: policy.rebid_seconds,
            DestroyInstance: policy.destroy_seconds,
        }
        self._counted = False
        """Whether the live instances are in the ledger (from then on, a destroy takes one out)."""
        self.pools = CandidatePools(snapshot, policy.candidate_window)
        self.instances: dict[int, Instance] = {}
        for inst in snapshot.instances:
            self.instances.setdefault(inst.id, inst)
        self.actions: list[Action] = []
        self.decisions: dict[int, JobDecision] = {}
        self.destroyed: set[int] = set()
        self.job_dph: dict[int, float] = {}
        """What each served job's instance commits once the plan is applied, $/h."""
        self._max_costs: dict[int, float] = {}
        self._spent: dict[int, float] = {}

    # --- bookkeeping ---------------------------------------------------------------------------------------

    def _note(
        self, job: Job, outcome: JobOutcome, why: str, *, strategy: str = "", choice: Choice | None = None
    ) -> None:
        facts: dict[str, Any] = dict(choice.facts) if choice is not None else {}
        ranked = choice.ranked if choice is not None else ()
        self.decisions[job.id] = JobDecision(job.id, strategy, outcome, why, ranked, facts)

    def _error(self, job: Job, cause: ErrorCause, why: str, *, strategy: str = "") -> None:
        """Deciding for this job failed; the others go on (nothing is planned for it this tick)."""
        self.decisions[job.id] = JobDecision(job.id, strategy, JobOutcome.ERROR, why, cause=cause)

    def _act(self, action: Action) -> None:
        """Plan ``action``; a paced one lengthens the horizon of everything committed."""
        self.actions.append(action)
        pace = self._paces.get(type(action))
        if pace:
            self.ledger.add(0.0, act_seconds=pace)

    def _destroy(self, job_id: int | None, inst: Instance, reason: str, facts: Mapping[str, Any] | None = None) -> None:
        if inst.id in self.destroyed:
            return
        self.destroyed.add(inst.id)
        self._act(DestroyInstance(job_id, inst.id, reason, dict(facts or {})))
        if self._counted and inst.status is not InstanceStatus.GONE:
            self.ledger.add(0.0, live=-1)

    def _update(self, job: Job, state: JobState, reason: str, *, detach: bool = False) -> None:
        self._act(UpdateJob(job.id, state, reason, {"from": job.state.value}, detach_instance=detach))

    # --- 1. lifecycle --------------------------------------------------------------------------------------

    def _lifecycle(self, job: Job) -> tuple[Job, Instance | None] | None:
        """Settle what the job's state and instance demand; the job and instance still to serve, or ``None``."""
        inst = self.instances.get(job.instance_id) if job.instance_id is not None else None
        live = inst if inst is not None and inst.status is not InstanceStatus.GONE else None
        if job.state.is_final:
            if live is not None and live.id not in self.destroyed:
                why = f"job is {job.state.value}: its instance {live.id} must not bill any more"
                self._destroy(job.id, live, why)
                self._note(job, JobOutcome.DESTROY, why)
            return None
        deadline = job.spec.deadline
        if deadline is not None and self.now >= deadline:
            why = f"deadline {deadline.isoformat()} passed with {job.remaining_hours or 0.0:.2f} h of work left"
            if live is not None:
                self._destroy(job.id, live, why)
            self._update(job, JobState.EXPIRED, why, detach=live is not None)
            self._note(job, JobOutcome.EXPIRE, why)
            return None
        if (job.instance_id is not None and live is None) or (
            job.instance_id is None and job.state is JobState.RUNNING
        ):
            why = (
                f"instance {job.instance_id} vanished from the listing: back to the queue"
                if job.instance_id is not None
                else "running without an instance: back to the queue"
            )
            self._update(job, JobState.QUEUED, why, detach=True)
            self._note(job, JobOutcome.REQUEUE, why)
            job = dataclasses.replace(job, state=JobState.QUEUED, instance_id=None)
        if live is not None and live.status is InstanceStatus.EXITED:
            code = exit_code(live.status_msg)
            state = JobState.FAILED if code not in (None, 0) else JobState.SUCCEEDED
            why = f"instance {live.id} exited" + (f" with code {code}" if code is not None else "") + f": {state.value}"
            self._destroy(job.id, live, why, {"exit_code": code})
            self._update(job, state, why, detach=True)
            self._note(job, JobOutcome.FINISH, why)
            return None
        reached = self._max_cost_reached(job, live)
        if reached is not None:
            if live is not None:
                self._destroy(job.id, live, reached)
            self._update(job, JobState.FAILED, reached, detach=live is not None)
            self._note(job, JobOutcome.FAILED, reached)
            return None
        self.job_dph[job.id] = instance_commit(live) if live is not None else 0.0
        return job, live

    def _max_cost_reached(self, job: Job, live: Instance | None) -> str | None:
        """Why the job must stop for good: it spent its max cost, or its instance would pass it before it can next
        be stopped (over the horizon); ``None`` when it may go on."""
        max_cost = job_max_cost(job, self.budget)
        if max_cost is None:
            return None
        if job.spent >= max_cost - EPS_DPH:
            return f"spent ${job.spent:.2f} of its ${max_cost:.2f} max cost: stopped for good"
        burn = instance_commit(live) if live is not None else 0.0
        hours = max(self.ledger.horizon_hours(live=1), self.job_hours_floor)
        if job.spent + burn * hours <= max_cost + EPS_DPH:
            return None
        return (
            f"spent ${job.spent:.2f} of its ${max_cost:.2f} max cost, and its ${burn:.4f}/h would pass it before "
            f"it can next be stopped ({hours * 3600.0:.0f} s): stopped for good"
        )

    # --- 2. shedding ---------------------------------------------------------------------------------------

    def _shed(self, held: list[tuple[Job, Instance]]) -> set[int]:
        """Give up the lowest-priority spend until committed $/h is within the limit; the job ids shed."""
        shed: set[int] = set()
        cap = self.ledger.binding
        if self.ledger.over <= EPS_DPH or cap is None:
            return shed
        order = sorted(held, key=lambda pair: shed_key(pair[0], self.now))
        gpu_total = sum(instance_gpu_commit(inst) for _, inst in order)
        stop_suffices = gpu_total >= self.ledger.over - EPS_DPH
        for job, inst in order:
            if self.ledger.over <= EPS_DPH:
                break
            saving = instance_gpu_commit(inst) if stop_suffices else instance_commit(inst)
            if saving <= 0:
                continue
            limit = cap.limit_dph(self.ledger.horizon_hours())
            why = (
                f"over the {cap.detail}: committed ${self.ledger.committed:.4f}/h, at most "
                f"${max(limit, 0.0):.4f}/h; job priority {job.spec.priority} is the lowest to shed"
            )
            facts = {"cap": cap.name, "limit_dph": limit, "committed_dph": self.ledger.committed}
            if stop_suffices:
                self._act(StopInstance(job.id, inst.id, why, facts))
                self._update(job, JobState.INTERRUPTED, why)
                self.job_dph[job.id] = inst.storage_dph
            else:
                self._destroy(job.id, inst, why, facts)
                self._update(job, JobState.INTERRUPTED, why, detach=True)
                self.job_dph[job.id] = 0.0
            self.ledger.add(-saving)
            self._note(job, JobOutcome.SHED, why)
            shed.add(job.id)
        return shed

    # --- 3. serving ----------------------------------------------------------------------------------------

    def _serve(self, job: Job, live: Instance | None) -> None:
        key = strategy_key(job, self.policy.default_strategy)
        name = job.spec.strategy or self.policy.default_strategy
        query_error = self.snapshot.query_errors.get(job.spec.offer_filter)
        if query_error is not None:
            self._error(job, ErrorCause.FILTER, f"offer filter {job.spec.offer_filter!r} cannot be used: {query_error}")
            return
        strategy = self.strategies.get(key) or self.strategies.get(name)
        if strategy is None:
            known = ", ".join(sorted(self.strategies))
            self._error(job, ErrorCause.STRATEGY_UNKNOWN, f"strategy {name!r} is not loaded (known: {known})")
            return
        if isinstance(strategy, StrategyUnavailable):
            self._error(job, strategy.cause, strategy.message, strategy=key)
            return
        try:
            choice, window = self._choose(job, live, key, strategy)
        except Exception as exc:  # a strategy is third-party code: its failure concerns this job only
            why = f"strategy {name!r} failed: {type(exc).__name__}: {exc}"
            self._error(job, ErrorCause.STRATEGY_FAILED, why, strategy=key)
            return
        verb = choice.verb
        if verb in (Verb.ACQUIRE, Verb.MIGRATE):
            self._rent(job, live, choice, key, window)
        elif verb is Verb.REBID and live is not None:
            self._rebid(job, live, choice, key)
        elif verb is Verb.RELEASE and live is not None:
            why = f"released: {choice.why}"
            self._destroy(job.id, live, why, choice.facts)
            self.ledger.add(-instance_commit(live))
            self.job_dph[job.id] = 0.0
            self._update(job, JobState.INTERRUPTED, why, detach=True)
            self._note(job, JobOutcome.RELEASE, why, strategy=key, choice=choice)
        elif live is not None and live.status is InstanceStatus.STOPPED:
            self._resume(job, live, choice, key)
        else:
            outcome = JobOutcome.KEEP if live is not None else JobOutcome.WAIT
            self._note(job, outcome, choice.why, strategy=key, choice=choice)

    def _choose(
        self, job: Job, live: Instance | None, key: str, strategy: Strategy
    ) -> tuple[Choice, tuple[Offer, ...]]:
        """The strategy's choice for the job over its window of candidates (may raise: the strategy's code runs)."""
        own_chunk = (live.machine_id, job.spec.num_gpus) if live is not None else None
        window = self.pools.window(
            job.spec.offer_filter,
            job.spec.num_gpus,
            group=key,
            strategy=strategy,
            rental=job.spec.rental,
            cap=job.max_price,
            own_chunk=own_chunk,
        )
        ctx = StrategyContext(
            job=job,
            offers=window,
            now=self.now,
            instance=live,
            history=self.snapshot.history,
            spot_stats=self._spot_stats(job.spec.offer_filter, job.spec.num_gpus),
        )
        choice = strategy.choose(ctx)
        if not isinstance(choice, Choice):
            raise TypeError(f"choose() returned {type(choice).__name__}, not a Choice")
        return choice, window

    def _spot_stats(self, query: str, num_gpus: int) -> Mapping[int, SpotStats]:
        """What the group's machines showed of their spot capacity (see ``MarketSnapshot.spot_stats``)."""
        return self.snapshot.spot_stats.get((query, num_gpus), {})

    def _refuse(self, job: Job, key: str, choice: Choice, why: str) -> None:
        self._note(
            job,
            JobOutcome.BLOCKED,
            f"{choice.verb.value} refused: {why} (strategy: {choice.why})",
            strategy=key,
            choice=choice,
        )

    def _spend_refusal(
        self, job: Job, delta: float, new_dph: float, *, act_seconds: float = 0.0, live: int = 0
    ) -> str | None:
        """Why committing ``delta`` more $/h (the job's instance then costing ``new_dph``) breaks a cap, or ``None``.

        ``act_seconds`` and ``live`` are the paced actions and the new instances the change takes."""
        refusal = self.ledger.refusal(delta, act_seconds=act_seconds, live=live)
        if refusal is not None:
            return refusal
        max_cost = job_max_cost(job, self.budget)
        if max_cost is not None and delta > 0:
            hours = max(self.ledger.horizon_hours(act_seconds=act_seconds, live=live), self.job_hours_floor)
            if job.spent + new_dph * hours > max_cost + EPS_DPH:
                return f"job max cost ${max_cost:.2f} (spent ${job.spent:.2f}, ${new_dph:.4f}/h would pass it)"
        return None

    def _rent(self, job: Job, live: Instance | None, choice: Choice, key: str, window: Sequence[Offer]) -> None:
        offer, rental, price = choice.offer, choice.rental, choice.price
        if offer is None or rental is None or price is None:
            self._refuse(job, key, choice, "the strategy named no offer, rental or price")
            return
        if not (any(o is offer for o in window) or offer in window):
            self._refuse(job, key, choice, f"offer {offer.id} was not among the candidates shown")
            return
        if rental not in _ALLOWED[job.spec.rental]:
            self._refuse(job, key, choice, f"the job allows {job.spec.rental.value} rentals only")
            return
        new_dph = offer.dph_total if rental is RentalType.ON_DEMAND else price
        if new_dph > job.max_price + EPS_DPH:
            self._refuse(job, key, choice, f"${new_dph:.4f}/h is over the job's cap ${job.max_price:.4f}/h")
            return
        if rental is RentalType.INTERRUPTIBLE and price < offer.min_bid - EPS_DPH:
            self._refuse(job, key, choice, f"bid ${price:.4f}/h is under the minimum ${offer.min_bid:.4f}/h")
            return
        own_chunk = (live.machine_id, live.num_gpus) if live is not None else None
        if self.pools.is_claimed(offer, own_chunk):
            self._refuse(job, key, choice, f"offer {offer.id} is already taken in this plan")
            return
        current = instance_commit(live) if live is not None else 0.0
        if live is not None and live.status in _RUNNING:
            held = RentalType.INTERRUPTIBLE if live.is_bid else RentalType.ON_DEMAND
            refusal = migration_refusal(
                job,
                current,
                new_dph,
                changes_rental=held is not rental,
                min_gain=self.policy.min_migration_gain,
                unknown_work_horizon_hours=self.policy.unknown_work_horizon_hours,
            )
            if refusal is not None:
                self._note(job, JobOutcome.KEEP, f"stays on instance {live.id}: {refusal}", strategy=key, choice=choice)
                return
        commit = rental_commit(offer, rental, price, job.spec.disk_gb)
        pace = self.policy.create_seconds + (self.policy.destroy_seconds if live is not None else 0.0)
        added = 0 if live is not None else 1
        refusal = self._spend_refusal(job, commit - current, commit, act_seconds=pace, live=added)
        if refusal is not None:
            self._refuse(job, key, choice, refusal)
            return
        label = make_label(self.policy.deployment, job.id, job.attempt + 1)
        rank = next((i for i, o in enumerate(choice.ranked) if o.id == offer.id), None)
        facts: dict[str, Any] = {
            **choice.facts,
            "strategy": key,
            "price": price,
            "cap": job.max_price,
            "rank": rank,
            "commit_dph": commit,
            "storage_dph": offer.storage_dph(job.spec.disk_gb),
            "committed_dph": self.ledger.committed + commit - current,
        }
        if rental is RentalType.INTERRUPTIBLE:
            self._act(PlaceBid(job.id, offer, price, label, choice.why, facts))
        else:
            self._act(RentOnDemand(job.id, offer, offer.dph_total, label, choice.why, facts))
        self.pools.claim(offer)
        self.ledger.add(commit - current, live=added)
        self.job_dph[job.id] = commit
        if live is not None:
            self._destroy(job.id, live, f"migrated to offer {offer.id}: {choice.why}", facts)
            self._note(job, JobOutcome.MIGRATE, choice.why, strategy=key, choice=choice)
        else:
            self._note(job, JobOutcome.ACQUIRE, choice.why, strategy=key, choice=choice)

    def _rebid(self, job: Job, live: Instance, choice: Choice, key: str) -> None:
        price = choice.price
        if not live.is_bid or price is None:
            self._refuse(job, key, choice, f"instance {live.id} is not an interruptible or no price was given")
            return
        if price > job.max_price + EPS_DPH:
            self._refuse(job, key, choice, f"${price:.4f}/h is over the job's cap ${job.max_price:.4f}/h")
            return
        stopped = live.status is InstanceStatus.STOPPED
        current = instance_gpu_commit(live)
        refusal = self._spend_refusal(
            job, price - current, price + live.storage_dph, act_seconds=self.policy.rebid_seconds
        )
        if refusal is not None:
            self._refuse(job, key, choice, refusal)
            return
        facts = {**choice.facts, "strategy": key, "old_price": live.bid_price, "price": price, "cap": job.max_price}
        self._act(ChangeBid(job.id, live.id, price, choice.why, facts))
        if stopped:
            self._act(StartInstance(job.id, live.id, f"resume after re-bid: {choice.why}", facts))
        self.ledger.add(price - current)
        self.job_dph[job.id] = self.job_dph.get(job.id, 0.0) + price - current
        self._note(job, JobOutcome.REBID, choice.why, strategy=key, choice=choice)

    def _resume(self, job: Job, live: Instance, choice: Choice, key: str) -> None:
        gpu = live.gpu_dph
        refusal = self._spend_refusal(job, gpu, gpu + live.storage_dph)
        if refusal is not None:
            self._note(
                job, JobOutcome.BLOCKED, f"instance {live.id} stays stopped: {refusal}", strategy=key, choice=choice
            )
            return
        why = f"instance {live.id} is stopped and the budget allows ${gpu:.4f}/h: start it again"
        self._act(StartInstance(job.id, live.id, why, {"price": gpu, "strategy": key}))
        self.ledger.add(gpu)
        self.job_dph[job.id] = self.job_dph.get(job.id, 0.0) + gpu
        self._note(job, JobOutcome.RESUME, why, strategy=key, choice=choice)

    # --- the whole tick ------------------------------------------------------------------------------------

    def job_cap_breach_hours(self) -> float | None:
        """The plan's horizon when it would carry a job past its max cost (see ``decide``), else ``None``."""
        hours = self.ledger.horizon_hours()
        for job_id, dph in self.job_dph.items():
            max_cost = self._max_costs.get(job_id)
            if max_cost is not None and dph > 0 and self._spent[job_id] + dph * hours > max_cost + EPS_DPH:
                return hours
        return None

    def run(self, jobs: Sequence[Job]) -> Plan:
        active: list[tuple[Job, Instance | None]] = []
        for job in jobs:
            max_cost = job_max_cost(job, self.budget)
            if max_cost is not None:
                self._max_costs[job.id] = max_cost
                self._spent[job.id] = job.spent
        for job in sorted(jobs, key=lambda j: j.id):
            settled = self._lifecycle(job)
            if settled is not None:
                active.append(settled)
        for inst in self.instances.values():
            if inst.id not in self.destroyed and inst.status is not InstanceStatus.GONE:
                self.ledger.add(instance_commit(inst), live=1)
                self.pools.claim_chunk((inst.machine_id, inst.num_gpus))
        self._counted = True
        shed = self._shed([(job, live) for job, live in active if live is not None])
        for job, live in sorted(active, key=lambda pair: serve_key(pair[0], self.now)):
            if job.id not in shed:
                self._serve(job, live)
        cap = self.ledger.binding
        return Plan(
            actions=tuple(self.actions),
            decisions=dict(self.decisions),
            committed_dph=max(self.ledger.committed, 0.0),
            limit_dph=self.ledger.limit,
            binding_cap=cap.name if cap is not None else None,
        )
