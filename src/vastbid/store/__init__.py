"""Persistence: SQLAlchemy tables, repositories and Alembic migrations.

``open_store(url)`` gives a ``Store`` (``store.jobs``, ``.instances``, ``.decisions``, ``.ticks``, ``.spend``,
``.samples``, ``.spot_runs``); ``upgrade(url)`` migrates a database to the packaged head.
"""

from vastbid.store.decisions import DecisionOutcome, DecisionRecord, TickRecord
from vastbid.store.instances import InstanceRecord, InstanceRecordState
from vastbid.store.jobs import UNSET, parse_job_specs
from vastbid.store.migrate import head_revision, upgrade
from vastbid.store.spend import SpendKind
from vastbid.store.store import PurgeResult, Store, open_store

__all__ = [
    "UNSET",
    "DecisionOutcome",
    "DecisionRecord",
    "InstanceRecord",
    "InstanceRecordState",
    "PurgeResult",
    "SpendKind",
    "Store",
    "TickRecord",
    "head_revision",
    "open_store",
    "parse_job_specs",
    "upgrade",
]
