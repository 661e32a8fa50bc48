"""What changed since a reader last looked: the article change log and the change counter."""

from __future__ import annotations

from .meta import Meta
from .part import Part
from .schema import CHANGE_COUNTER


class ChangeLog(Part):
    """The ``article_changes`` log (the latest write of each article, in commit order) and ``meta.articles_changed``."""

    def __init__(self, db, transaction, meta: Meta):
        super().__init__(db, transaction)
        self._meta = meta

    def last(self) -> int:
        """The sequence number of the latest article write (0: none logged)."""
        return self._db.execute("SELECT coalesce(max(seq), 0) FROM article_changes").fetchone()[0]

    def since(self, seq: int) -> tuple[int, list[str]]:
        """``(latest sequence number, ids written after seq)``: what an engine synced up to ``seq`` must look at."""
        rows = self._db.execute("SELECT seq, article_id FROM article_changes WHERE seq > ? ORDER BY seq",
                                (seq,)).fetchall()
        return (rows[-1][0] if rows else seq), [row[1] for row in rows]

    def count(self) -> int:
        """A counter bumped by every insert, update or delete of an article or of editor feedback (by any process)."""
        return int(self._meta.get(CHANGE_COUNTER, 0))
