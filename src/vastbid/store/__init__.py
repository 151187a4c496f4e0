"""Persistence: SQLAlchemy tables, repositories and Alembic migrations.

``open_store(url)`` gives a ``Store`` (``store.jobs``, ``.instances``, ``.decisions``, ``.ticks``, ``.spend``,
``.samples``, ``.spot_runs``); ``upgrade(url)`` migrates a database to the packaged head. The tick's ledger is
``store.spend.accrue_tick``; ``store.check_identity()`` tells whether the database is still the one opened.
"""

from vastbid.store.decisions import DecisionOutcome, DecisionRecord, TickRecord
from vastbid.store.identity import DatabaseIdentity
from vastbid.store.instances import InstanceRecord, InstanceRecordState
from vastbid.store.jobs import UNSET, parse_job_specs
from vastbid.store.migrate import head_revision, upgrade
from vastbid.store.spend import InstanceUsage, JobAccrual, SpendEntry, SpendKind, TickAccrual
from vastbid.store.store import PurgeResult, Store, open_store

__all__ = [
    "UNSET",
    "DatabaseIdentity",
    "DecisionOutcome",
    "DecisionRecord",
    "InstanceRecord",
    "InstanceRecordState",
    "InstanceUsage",
    "JobAccrual",
    "PurgeResult",
    "SpendEntry",
    "SpendKind",
    "Store",
    "TickAccrual",
    "TickRecord",
    "head_revision",
    "open_store",
    "parse_job_specs",
    "upgrade",
]
