"""Retention: once a day, old decisions, ticks, market samples and finished jobs are purged by the configured
periods (a finished job goes with its instance records, ledger rows and decisions; daily spend totals stay)."""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog

from vastbid.store.store import Store

log = structlog.get_logger("vastbid.retention")

RETENTION_EVERY = timedelta(days=1)
"""How often old decisions and samples are purged."""


class Retention:
    """Applies the retention periods at most once per ``RETENTION_EVERY`` of the daemon's clock."""

    def __init__(self, decision_days: int, sample_days: int, job_days: int = 30) -> None:
        self.decision_days = decision_days
        self.sample_days = sample_days
        self.job_days = job_days
        self._applied_at: datetime | None = None

    def apply_if_due(self, store: Store, now: datetime) -> None:
        """Purge what is older than the retention periods, if a day has passed since the last purge."""
        if self._applied_at is not None and now - self._applied_at < RETENTION_EVERY:
            return
        purged = store.purge_older_than(
            decisions_before=now - timedelta(days=self.decision_days),
            samples_before=now - timedelta(days=self.sample_days),
            jobs_before=now - timedelta(days=self.job_days),
        )
        self._applied_at = now
        if purged.decisions or purged.ticks or purged.samples or purged.jobs:
            log.info(
                "retention_applied",
                decisions=purged.decisions,
                ticks=purged.ticks,
                samples=purged.samples,
                jobs=purged.jobs,
            )
