"""Market samples: the offers seen on each tick, recorded for backtests to replay.

``add_many`` stores one tick's offers together; ``read`` gives them back as ``(at, Offer)`` in time order, with
the fields the recording keeps (host, RAM and the rest read as the ``Offer`` defaults).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from vastbid.core.offers import Offer
from vastbid.store.schema import MarketSampleRow
from vastbid.store.session import transaction


class SampleRepository:
    """Recorded offers per tick."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def add_many(self, at: datetime, offers: Sequence[Offer], *, tick_id: int | None = None) -> int:
        """Record ``offers`` as seen at ``at``; returns how many were stored."""
        with transaction(self._sessions) as session:
            session.add_all(
                MarketSampleRow(
                    tick_id=tick_id,
                    at=at,
                    offer_id=offer.id,
                    machine_id=offer.machine_id,
                    num_gpus=offer.num_gpus,
                    gpu_name=offer.gpu_name,
                    dph_total=offer.dph_total,
                    min_bid=offer.min_bid,
                    rentable=offer.rentable,
                    reliability=offer.reliability,
                    dlperf=offer.dlperf,
                    geolocation=offer.geolocation,
                )
                for offer in offers
            )
        return len(offers)

    def read(self, since: datetime | None = None, until: datetime | None = None) -> Iterator[tuple[datetime, Offer]]:
        """Recorded offers with ``since <= at < until``, oldest first."""
        query = select(MarketSampleRow).order_by(MarketSampleRow.at, MarketSampleRow.id)
        if since is not None:
            query = query.where(MarketSampleRow.at >= since)
        if until is not None:
            query = query.where(MarketSampleRow.at < until)
        with transaction(self._sessions) as session:
            rows = list(session.scalars(query))
        for row in rows:
            yield (
                row.at,
                Offer(
                    id=row.offer_id or 0,
                    machine_id=row.machine_id,
                    host_id=0,
                    gpu_name=row.gpu_name,
                    num_gpus=row.num_gpus,
                    gpu_ram_gb=0.0,
                    dph_total=row.dph_total,
                    min_bid=row.min_bid,
                    dlperf=row.dlperf,
                    reliability=row.reliability,
                    geolocation=row.geolocation,
                    rentable=row.rentable,
                ),
            )
