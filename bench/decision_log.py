"""Benchmark: decision-log rows written per second in one tick's batch on SQLite (file, WAL).

For each batch size (``--rows``), side by side in one run, alternating, ``--repeat`` times, medians reported:
- ``add_many``: ``DecisionRepository.add_many`` (the store the daemon uses: SQLAlchemy ORM, one transaction,
  ids returned) into a store migrated to the head;
- ``executemany``: a plain ``sqlite3`` ``executemany`` of the same rows (JSON already encoded by hand) into an
  identical database (same migration, same pragmas: WAL, ``synchronous=NORMAL``), one transaction: the reference.
Rows look like a tick's: an action, a reason sentence, ~8 facts and 5 candidate offers each.

    .venv/bin/python bench/decision_log.py [--rows 200 2000] [--repeat 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _market import emit
from vastbid.store.decisions import DecisionOutcome, DecisionRecord
from vastbid.store.store import Store, open_store

ACTIONS = ("place_bid", "rent_on_demand", "change_bid", "destroy_instance", "update_job", "start_instance")
INSERT = (
    "INSERT INTO decisions (tick_id, at, job_id, action, strategy, reason, facts, candidates, outcome, error,"
    " config_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def records(count: int, tick_id: int, at: datetime) -> list[DecisionRecord]:
    """``count`` decisions shaped like one tick's."""
    out: list[DecisionRecord] = []
    for i in range(count):
        candidates = [
            {
                "offer_id": 10_000_000 + i * 7 + k,
                "machine_id": 2_000_000 + i * 3 + k,
                "gpu_name": "RTX 4090",
                "num_gpus": 1 + k % 4,
                "dph_total": round(0.4 + k * 0.013, 6),
                "min_bid": round(0.2 + k * 0.011, 6),
                "reliability": 0.97 + k * 0.001,
            }
            for k in range(5)
        ]
        facts = {
            "strategy": "cheapest_per_gpu",
            "price": round(0.21 + i * 1e-4, 6),
            "cap": 0.5,
            "rank": 0,
            "committed_dph": round(3.2 + i * 0.01, 6),
            "offer_id": 10_000_000 + i * 7,
            "machine_id": 2_000_000 + i * 3,
            "gpu_name": "RTX 4090",
        }
        out.append(
            DecisionRecord(
                at=at,
                action=ACTIONS[i % len(ACTIONS)],
                reason=f"cheapest interruptible under the cap: ${facts['price']:.4f}/h for 1 GPU, rank 0 of 5",
                outcome=DecisionOutcome.APPLIED,
                config_hash="3f2a9c0d1b7e4a55",
                tick_id=tick_id,
                job_id=i + 1,
                strategy="cheapest_per_gpu",
                facts=facts,
                candidates=candidates,
            )
        )
    return out


def plain_rows(batch: list[DecisionRecord]) -> list[tuple[Any, ...]]:
    """The same rows as plain tuples, as the reference inserts them."""
    return [
        (
            d.tick_id,
            d.at.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" "),
            d.job_id,
            d.action,
            d.strategy,
            d.reason,
            json.dumps(dict(d.facts)),
            json.dumps(list(d.candidates)),
            d.outcome.value,
            d.error,
            d.config_hash,
        )
        for d in batch
    ]


def time_add_many(store: Store, batch: list[DecisionRecord]) -> float:
    started = time.perf_counter()
    store.decisions.add_many(batch)
    return time.perf_counter() - started


def reference_connection(path: Path) -> sqlite3.Connection:
    """One long-lived connection with the store's pragmas (the store's engine also pools its connection)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    return conn


def time_executemany(conn: sqlite3.Connection, batch: list[DecisionRecord]) -> float:
    """Encode and insert in one transaction."""
    started = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(INSERT, plain_rows(batch))
    conn.execute("COMMIT")
    return time.perf_counter() - started


def run(sizes: list[int], repeat: int) -> dict[str, Any]:
    """Both writers, per batch size; the figures."""
    at = datetime(2027, 1, 15, 8, 0, tzinfo=UTC)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(f"sqlite:///{Path(tmp) / 'store.db'}", upgrade=True)
        reference_path = Path(tmp) / "reference.db"
        open_store(f"sqlite:///{reference_path}", upgrade=True).close()
        reference = reference_connection(reference_path)
        try:
            tick = 0
            store.decisions.add_many(records(10, 0, at))  # warm-up: connection, mapper configuration
            time_executemany(reference, records(10, 0, at))
            for size in sizes:
                orm: list[float] = []
                plain: list[float] = []
                for _ in range(repeat):
                    tick += 1
                    batch = records(size, tick, at + timedelta(minutes=5 * tick))
                    orm.append(time_add_many(store, batch))
                    plain.append(time_executemany(reference, batch))
                orm_s, plain_s = statistics.median(orm), statistics.median(plain)
                results[str(size)] = {
                    "rows": size,
                    "add_many_seconds": round(orm_s, 6),
                    "executemany_seconds": round(plain_s, 6),
                    "add_many_rows_per_second": round(size / orm_s),
                    "executemany_rows_per_second": round(size / plain_s),
                    "ratio": round(orm_s / plain_s, 3),
                }
        finally:
            store.close()
            reference.close()
    return {"backend": "sqlite file, WAL, synchronous=NORMAL", "repeat": repeat, "batches": results}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[200, 2000], help="batch sizes")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args(argv)
    figures = run([max(n, 1) for n in args.rows], max(args.repeat, 1))
    table = [("batch", "add_many rows/s | executemany rows/s | time ratio add_many / executemany")]
    for size, row in figures["batches"].items():
        orm, plain = row["add_many_rows_per_second"], row["executemany_rows_per_second"]
        table.append((f"{size} rows", f"{orm:>9,} | {plain:>9,} | {row['ratio']:.2f}"))
    emit(figures, table, as_json=args.json)


if __name__ == "__main__":
    main()
