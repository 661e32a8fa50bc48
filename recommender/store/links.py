"""Stored Read-also links: reading them per article, recording their targets, counting them."""

from __future__ import annotations

from collections.abc import Iterable

from recommender.articles import ArticleError, ReadAlsoLink

from .part import Part


class Links(Part):
    """The ``read_also`` table: each article's Read-also items, in order, and the stored article each points at."""

    def of(self, ids: list[str]) -> dict[str, list[ReadAlsoLink]]:
        """The links of each of those articles, in order (articles without links left out)."""
        links: dict[str, list[ReadAlsoLink]] = {}
        if not ids:
            return links
        marks = ",".join("?" * len(ids))
        for row in self._db.execute(
                f"SELECT * FROM read_also WHERE source_id IN ({marks}) ORDER BY source_id, position", ids):
            try:
                link = ReadAlsoLink(row["headline"], row["url"], row["target_id"], row["resolution"])
            except ArticleError:  # stored before URLs were checked
                link = ReadAlsoLink(row["headline"], None, row["target_id"], row["resolution"])
            links.setdefault(row["source_id"], []).append(link)
        return links

    def candidates(self) -> list[tuple[str, str | None, str]]:
        """``(id, url, headline)`` of every article, oldest first, for link resolution."""
        return [tuple(row) for row in self._db.execute(
            "SELECT id, url, headline FROM articles ORDER BY coalesce(published_at, ''), id")]

    def unresolved(self) -> list[tuple[str, int, str, str | None]]:
        """``(source_id, position, headline, url)`` of links not yet pointing at a stored article."""
        return [tuple(row) for row in self._db.execute(
            "SELECT source_id, position, headline, url FROM read_also WHERE target_id IS NULL "
            "ORDER BY source_id, position")]

    def set_targets(self, targets: Iterable[tuple[str, int, str, str]]) -> None:
        """Record ``(source_id, position, target_id, resolution)`` for resolved links."""
        with self._transaction() as db:
            db.executemany("UPDATE read_also SET target_id = ?, resolution = ? WHERE source_id = ? AND position = ?",
                           [(target, how, source, position) for source, position, target, how in targets])

    def clear_dangling(self) -> None:
        """Forget targets whose article no longer exists."""
        with self._transaction() as db:
            db.execute("UPDATE read_also SET target_id = NULL, resolution = NULL WHERE target_id IS NOT NULL "
                       "AND target_id NOT IN (SELECT id FROM articles)")

    def counts(self) -> dict[str, int]:
        row = self._db.execute("SELECT count(*), count(target_id) FROM read_also").fetchone()
        return {"links": row[0], "resolved": row[1], "unresolved": row[0] - row[1]}

    def inbound_counts(self) -> dict[str, int]:
        """How many Read-also links point at each article (editors' popularity)."""
        return dict(self._db.execute(
            "SELECT target_id, count(*) FROM read_also WHERE target_id IS NOT NULL GROUP BY target_id").fetchall())

    def resolved(self) -> list[tuple[str, str]]:
        """``(source_id, target_id)`` of every resolved Read-also link."""
        return [tuple(row) for row in self._db.execute(
            "SELECT source_id, target_id FROM read_also WHERE target_id IS NOT NULL ORDER BY source_id, position")]
