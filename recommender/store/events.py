"""Widget beacons (impressions, clicks), counted per day.

Beacons are counted, not kept one row each: one row per (UTC day received, type, article,
target, position, model version), so volume grows with what is shown, not with traffic, and
days older than the retention are deleted on the next write.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from .part import Part

EVENT_TYPES = ("impression", "click")


class Events(Part):
    """The ``event_counts`` table."""

    def record_many(self, events: Iterable[dict], *, retention_days: int | None = None,
                    now: datetime | None = None) -> int:
        """Count widget beacons (``type``, ``article_id``, ``target_id``, ``position``, ``model_version``)
        in one transaction, dropping days older than ``retention_days``; returns how many were counted."""
        now = now or datetime.now(UTC)
        day = now.date().isoformat()
        counts: dict[tuple, int] = {}
        for event in events:
            if event.get("type") not in EVENT_TYPES:
                raise ValueError(f"event type must be one of {', '.join(EVENT_TYPES)}, got {event.get('type')!r}")
            key = (day, event["type"], event["article_id"], event.get("target_id") or "", event.get("position") or 0,
                   event.get("model_version") or "")
            counts[key] = counts.get(key, 0) + 1
        with self._transaction() as db:
            db.executemany("INSERT INTO event_counts "
                           "(day, type, article_id, target_id, position, model_version, count) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET count = count + excluded.count",
                           [(*key, n) for key, n in counts.items()])
            if retention_days is not None:
                oldest = (now - timedelta(days=retention_days)).date().isoformat()
                db.execute("DELETE FROM event_counts WHERE day < ?", (oldest,))
        return sum(counts.values())

    def record(self, type: str, article_id: str, target_id: str | None = None, position: int | None = None,
               model_version: str | None = None) -> None:
        self.record_many([dict(type=type, article_id=article_id, target_id=target_id, position=position,
                               model_version=model_version)])

    def query(self, *, type: str | None = None, article_id: str | None = None, limit: int | None = None) -> list[dict]:
        """Event counts (``day``, ``type``, ``article_id``, ``target_id``, ``position``, ``model_version``,
        ``count``; no target or position: ``None``), by day, article, type, position."""
        sql = "SELECT * FROM event_counts WHERE 1 = 1"
        args: list[str] = []
        if type is not None:
            sql, args = sql + " AND type = ?", [*args, type]
        if article_id is not None:
            sql, args = sql + " AND article_id = ?", [*args, article_id]
        sql += " ORDER BY day, article_id, type DESC, position, target_id" + (" LIMIT ?" if limit is not None else "")
        rows = [dict(row) for row in self._db.execute(sql, [*args, limit] if limit is not None else args)]
        for row in rows:
            row["target_id"] = row["target_id"] or None
            row["position"] = row["position"] or None
            row["model_version"] = row["model_version"] or None
        return rows
