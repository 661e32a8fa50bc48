"""Editors' feedback: pins and blocks of one article's list."""

from __future__ import annotations

from datetime import UTC, datetime

from recommender.catalogue import Feedback

from .articles import Articles
from .part import Part

FEEDBACK_KINDS = ("pin", "block")


class EditorFeedback(Part):
    """The ``feedback`` table: per (source, target) pair, a pin or a block."""

    def __init__(self, db, transaction, articles: Articles):
        super().__init__(db, transaction)
        self._articles = articles

    def set(self, source_id: str, target_id: str, kind: str) -> None:
        """Pin ``target_id`` to ``source_id``'s list, or block the pair for good (a pair is one or the other)."""
        if kind not in FEEDBACK_KINDS:
            raise ValueError(f"feedback kind must be one of {', '.join(FEEDBACK_KINDS)}, got {kind!r}")
        if source_id == target_id:
            raise ValueError(f"an article cannot be pinned to or blocked from itself: {source_id!r}")
        missing = [i for i in (source_id, target_id) if self._articles.get(i) is None]
        if missing:
            raise ValueError(f"unknown article id {missing[0]!r}")
        with self._transaction() as db:
            db.execute("INSERT INTO feedback (source_id, target_id, kind, created_at) VALUES (?, ?, ?, ?) "
                       "ON CONFLICT(source_id, target_id) DO UPDATE SET kind = excluded.kind, "
                       "created_at = excluded.created_at",
                       (source_id, target_id, kind, datetime.now(UTC).isoformat()))

    def remove(self, source_id: str, target_id: str, kind: str | None = None) -> bool:
        """Forget a pin or block (of ``kind`` if given); returns whether there was one."""
        sql, args = "DELETE FROM feedback WHERE source_id = ? AND target_id = ?", [source_id, target_id]
        if kind is not None:
            sql, args = sql + " AND kind = ?", [*args, kind]
        with self._transaction() as db:
            return db.execute(sql, args).rowcount > 0

    def for_source(self, source_id: str) -> Feedback | None:
        """The pins (oldest first) and blocks of one article's list, or None when it has neither."""
        rows = self._db.execute("SELECT target_id, kind FROM feedback WHERE source_id = ? "
                                "ORDER BY created_at, target_id", (source_id,)).fetchall()
        if not rows:
            return None
        return Feedback(tuple(r["target_id"] for r in rows if r["kind"] == "pin"),
                        frozenset(r["target_id"] for r in rows if r["kind"] == "block"))

    def all(self) -> list[tuple[str, str, str]]:
        """``(source_id, target_id, kind)`` of every pin and block."""
        return [tuple(row) for row in self._db.execute(
            "SELECT source_id, target_id, kind FROM feedback ORDER BY source_id, created_at, target_id")]
