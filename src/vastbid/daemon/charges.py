"""The daily check of our ledger against Vast's own bill (``/charges/``), as a metric and a decision.

Once a day (and on the first tick after a start) the charges Vast lists per instance are summed for the
instances our database knows, and compared with what our ledger accrued for the same instances. The ledger
accrues up to each tick's start while Vast bills to the second, so a difference of up to one tick of the committed
burn is expected; more says the ledger missed or doubled money. The difference goes to the gauge
``vastbid_ledger_difference_dollars`` and to a ``ledger_check`` decision row with the figures. The check is best
effort: a failure is logged, retried an hour later, and never fails the tick.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog

from vastbid.daemon.record import RowContext
from vastbid.obs.metrics import Metrics
from vastbid.store.decisions import DecisionOutcome, DecisionRecord
from vastbid.store.store import Store
from vastbid.vast.port import MarketApi

log = structlog.get_logger("vastbid.charges")

CHECK_EVERY = timedelta(days=1)
RETRY_AFTER = timedelta(hours=1)


class ChargesCheck:
    """Compares the ledger with Vast's charges at most once per ``CHECK_EVERY``."""

    def __init__(self) -> None:
        self._due: datetime | None = None

    def check_if_due(self, api: MarketApi, store: Store, rows: RowContext, metrics: Metrics | None) -> float | None:
        """Run the check when due; the difference found ($, charges minus ledger), or ``None``."""
        now = rows.at
        if self._due is not None and now < self._due:
            return None
        try:
            charges = api.charges()
            billed: dict[int, float] = {}
            for charge in charges:
                if charge.instance_id is not None:
                    billed[charge.instance_id] = billed.get(charge.instance_id, 0.0) + charge.amount
            ours = store.instances.recorded_ids(billed)
            ledger = store.spend.spent_by_instance(ours)
            charged = sum(billed[i] for i in ours)
            accrued = sum(ledger.values())
            difference = charged - accrued
            facts = {
                "charges": round(charged, 6),
                "ledger": round(accrued, 6),
                "difference": round(difference, 6),
                "instances": len(ours),
            }
            why = f"Vast charged ${charged:.4f} for our {len(ours)} instance(s), our ledger says ${accrued:.4f}"
            store.decisions.add_many(
                [
                    DecisionRecord(
                        at=now,
                        action="ledger_check",
                        reason=why,
                        outcome=DecisionOutcome.APPLIED,
                        config_hash=rows.config_hash,
                        tick_id=rows.tick_id,
                        facts=facts,
                    )
                ]
            )
        except Exception as exc:  # best effort: the tick has done its work
            log.warning("ledger_check_failed", error=str(exc), error_class=type(exc).__name__)
            self._due = now + RETRY_AFTER
            return None
        self._due = now + CHECK_EVERY
        if metrics is not None:
            metrics.set_ledger_difference(difference)
        log.info("ledger_checked", **facts)
        return difference
