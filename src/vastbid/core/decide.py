"""``decide()``: one tick's pure decision, from a market snapshot and the jobs to a ``Plan``.

In order:
1. lifecycle, per job by id: destroy the instance of a finished (cancelled, expired, succeeded, failed) job;
   expire a job past its deadline; requeue a job whose instance vanished; finish a job whose instance exited
   (destroy it; succeeded, or failed on a non-zero exit code in ``status_msg``); stop a job that reached its
   max cost (failed);
2. budgets: committed $/h of every live instance is checked against the caps (see ``ledger``); when it is over,
   the lowest-priority spend is shed first (stopped when stopping enough GPUs suffices, else destroyed), with a
   reason naming the cap;
3. serving, by priority, least slack, id: each job's strategy is shown a window of its group's ranked candidates
   (see ``candidates``) and its instance; its choice is applied if it keeps the caps, the job's max cost, the
   rental the job allows and the hysteresis rule (see ``lifecycle``): acquire, keep, re-bid, resume a stopped
   instance of ours, migrate (create the new one, then destroy the old), fall back to on demand, release.

One offer and one machine go to at most one job per plan, and a machine we hold is not offered to another job:
our own bids never compete with each other.
Budgets are enforced here and nowhere else. The same inputs always give the same plan.
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
from vastbid.core.ledger import EPS_DPH, Ledger, caps_of, instance_commit, instance_gpu_commit, job_max_cost
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
    """
    return _Decider(snapshot, budget, strategies, policy).run(jobs)


class _Decider:
    """The mutable state of one ``decide()`` call; nothing outside it is changed."""

    def __init__(
        self,
        snapshot: MarketSnapshot,
        budget: Budget,
        strategies: Mapping[str, Strategy | StrategyUnavailable],
        policy: DecidePolicy,
    ) -> None:
        self.snapshot = snapshot
        self.budget = budget
        self.strategies = strategies
        self.now = snapshot.taken_at
        self.policy = policy
        hours = policy.hours_to_next_tick
        self.ledger = Ledger(
            caps_of(budget, snapshot.balance, snapshot.spent_today, snapshot.spent_month, hours), hours=hours
        )
        self.pools = CandidatePools(snapshot, policy.candidate_window)
        self.instances: dict[int, Instance] = {}
        for inst in snapshot.instances:
            self.instances.setdefault(inst.id, inst)
        self.actions: list[Action] = []
        self.decisions: dict[int, JobDecision] = {}
        self.destroyed: set[int] = set()

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

    def _destroy(self, job_id: int | None, inst: Instance, reason: str, facts: Mapping[str, Any] | None = None) -> None:
        if inst.id in self.destroyed:
            return
        self.destroyed.add(inst.id)
        self.actions.append(DestroyInstance(job_id, inst.id, reason, dict(facts or {})))

    def _update(self, job: Job, state: JobState, reason: str, *, detach: bool = False) -> None:
        self.actions.append(UpdateJob(job.id, state, reason, {"from": job.state.value}, detach_instance=detach))

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
        max_cost = job_max_cost(job, self.budget)
        if max_cost is not None and job.spent >= max_cost - EPS_DPH:
            why = f"spent ${job.spent:.2f} of its ${max_cost:.2f} max cost: stopped for good"
            if live is not None:
                self._destroy(job.id, live, why)
            self._update(job, JobState.FAILED, why, detach=live is not None)
            self._note(job, JobOutcome.FAILED, why)
            return None
        return job, live

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
            why = (
                f"over the {cap.detail}: committed ${self.ledger.committed:.4f}/h, at most "
                f"${max(cap.limit_dph, 0.0):.4f}/h; job priority {job.spec.priority} is the lowest to shed"
            )
            facts = {"cap": cap.name, "limit_dph": cap.limit_dph, "committed_dph": self.ledger.committed}
            if stop_suffices:
                self.actions.append(StopInstance(job.id, inst.id, why, facts))
                self._update(job, JobState.INTERRUPTED, why)
            else:
                self._destroy(job.id, inst, why, facts)
                self._update(job, JobState.INTERRUPTED, why, detach=True)
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

    def _spend_refusal(self, job: Job, delta: float, new_dph: float) -> str | None:
        refusal = self.ledger.refusal(delta)
        if refusal is not None:
            return refusal
        max_cost = job_max_cost(job, self.budget)
        if max_cost is not None and delta > 0 and job.spent + new_dph * self.ledger.hours > max_cost + EPS_DPH:
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
        refusal = self._spend_refusal(job, new_dph - current, new_dph)
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
            "committed_dph": self.ledger.committed + new_dph - current,
        }
        if rental is RentalType.INTERRUPTIBLE:
            self.actions.append(PlaceBid(job.id, offer, price, label, choice.why, facts))
        else:
            self.actions.append(RentOnDemand(job.id, offer, offer.dph_total, label, choice.why, facts))
        self.pools.claim(offer)
        self.ledger.add(new_dph - current)
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
        refusal = self._spend_refusal(job, price - current, price)
        if refusal is not None:
            self._refuse(job, key, choice, refusal)
            return
        facts = {**choice.facts, "strategy": key, "old_price": live.bid_price, "price": price, "cap": job.max_price}
        self.actions.append(ChangeBid(job.id, live.id, price, choice.why, facts))
        if stopped:
            self.actions.append(StartInstance(job.id, live.id, f"resume after re-bid: {choice.why}", facts))
        self.ledger.add(price - current)
        self._note(job, JobOutcome.REBID, choice.why, strategy=key, choice=choice)

    def _resume(self, job: Job, live: Instance, choice: Choice, key: str) -> None:
        gpu = live.gpu_dph
        refusal = self._spend_refusal(job, gpu, gpu)
        if refusal is not None:
            self._note(
                job, JobOutcome.BLOCKED, f"instance {live.id} stays stopped: {refusal}", strategy=key, choice=choice
            )
            return
        why = f"instance {live.id} is stopped and the budget allows ${gpu:.4f}/h: start it again"
        self.actions.append(StartInstance(job.id, live.id, why, {"price": gpu, "strategy": key}))
        self.ledger.add(gpu)
        self._note(job, JobOutcome.RESUME, why, strategy=key, choice=choice)

    # --- the whole tick ------------------------------------------------------------------------------------

    def run(self, jobs: Sequence[Job]) -> Plan:
        active: list[tuple[Job, Instance | None]] = []
        for job in sorted(jobs, key=lambda j: j.id):
            settled = self._lifecycle(job)
            if settled is not None:
                active.append(settled)
        for inst in self.instances.values():
            if inst.id not in self.destroyed:
                self.ledger.add(instance_commit(inst))
                if inst.status is not InstanceStatus.GONE:
                    self.pools.claim_chunk((inst.machine_id, inst.num_gpus))
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
