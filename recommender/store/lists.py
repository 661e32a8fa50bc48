"""Precomputed related lists, written by batch scoring and read on the live path."""

from __future__ import annotations

from collections.abc import Iterable

from .part import Part


class RelatedLists(Part):
    """The ``related_lists`` table: per article and model version, its list best first."""

    def replace(self, model_version: str,
                lists: Iterable[tuple[str, Iterable[tuple[str, float, str, float | None]], float]]) -> int:
        """Store ``(article_id, [(target_id, score, reason, editor_probability), ...], reach)`` lists, best first,
        for one model version (``reach``: see ``Ranking.reach``).

        Earlier lists of those articles (any version) are replaced; one transaction. Returns how many lists.
        """
        count = 0
        with self._transaction() as db:
            for article_id, related, reach in lists:
                db.execute("DELETE FROM related_lists WHERE article_id = ?", (article_id,))
                db.executemany(
                    "INSERT INTO related_lists (article_id, model_version, position, target_id, score, reason, "
                    "editor_probability, reach) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [(article_id, model_version, i, target, float(score), reason, probability, float(reach))
                     for i, (target, score, reason, probability) in enumerate(related)])
                count += 1
        return count

    def reaches(self, model_version: str) -> dict[str, float]:
        """Article id -> the reach of its list for that model version (articles with a non-empty list)."""
        return dict(self._db.execute("SELECT article_id, reach FROM related_lists WHERE model_version = ? "
                                     "AND position = 0", (model_version,)).fetchall())

    def longest(self, model_version: str) -> int:
        """The length of the longest list of that model version (the k batch scored with), 0 without lists."""
        found = self._db.execute("SELECT max(position) FROM related_lists WHERE model_version = ?",
                                 (model_version,)).fetchone()[0]
        return 0 if found is None else int(found) + 1

    def precomputed(self, article_id: str, model_version: str,
                    k: int) -> list[tuple[str, float, str, float | None]] | None:
        """The first ``k`` of an article's precomputed list for that model version, or None if it holds fewer."""
        rows = self._db.execute(
            "SELECT target_id, score, reason, editor_probability FROM related_lists "
            "WHERE article_id = ? AND model_version = ? ORDER BY position LIMIT ?",
            (article_id, model_version, k)).fetchall()
        return [tuple(row) for row in rows] if len(rows) == k else None

    def counts(self) -> dict[str, int]:
        """How many articles have a precomputed list, per model version."""
        return dict(self._db.execute(
            "SELECT model_version, count(DISTINCT article_id) FROM related_lists GROUP BY model_version").fetchall())
