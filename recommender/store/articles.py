"""Stored articles: atomic upsert with their Read-also links, lookups, iteration and the listing."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

from recommender.articles import Article, ArticleError, canonical_url, check_limits, normalise_headline, parse_datetime

from .errors import DuplicateUrl
from .links import Links
from .part import Part

log = logging.getLogger(__name__)

SUMMARY_FIELDS = ("id", "headline", "url", "section", "published_at")
"""The columns a ranking shows of each article (``Articles.summaries``)."""


class Articles(Part):
    """The ``articles`` table, each article read and written with its Read-also links."""

    def __init__(self, db, transaction, links: Links):
        super().__init__(db, transaction)
        self._links = links

    def upsert(self, article: Article) -> tuple[str, str]:
        """Insert or update one article with its links, atomically.

        Matches by id. A canonical URL belongs to one article: an article whose URL another
        stored id already has is refused with ``DuplicateUrl`` naming both (distinct ids are
        never merged). Size caps: ``articles.check_limits``. Returns ``(status, id)`` with
        status ``"new"``, ``"updated"`` or ``"unchanged"``.
        """
        with self._transaction() as db:
            return self._upsert(db, article)

    def upsert_many(self, articles: Iterable[Article]) -> list[tuple[str, str]]:
        """Upsert several articles in one transaction (all or none)."""
        with self._transaction() as db:
            return [self._upsert(db, article) for article in articles]

    def _upsert(self, db: sqlite3.Connection, article: Article) -> tuple[str, str]:
        check_limits(article)
        row = db.execute("SELECT id, content_hash, url, headline_derived FROM articles WHERE id = ?",
                         (article.id,)).fetchone()
        canonical = article.canonical_url
        if canonical:
            other = db.execute("SELECT id FROM articles WHERE canonical_url = ? AND id != ? LIMIT 1",
                               (canonical, article.id)).fetchone()
            if other is not None:
                raise DuplicateUrl(f"article {article.id!r}: its url {article.url} is already stored for article "
                                   f"{other['id']!r}; not merged (give one of them another URL, or use one id)")
        values = dict(
            url=article.url, canonical_url=canonical, headline=article.headline,
            norm_headline=normalise_headline(article.headline), body=article.body,
            published_at=article.published_at.isoformat() if article.published_at else None,
            section=article.section, language=article.language, content_hash=article.content_hash,
            updated_at=datetime.now(UTC).isoformat(), headline_derived=int(article.headline_derived),
        )
        if row is None:
            db.execute(f"INSERT INTO articles (id, {', '.join(values)}) VALUES (?{', ?' * len(values)})",
                       (article.id, *values.values()))
            status, article_id = "new", article.id
        else:
            article_id = row["id"]
            unchanged = (row["content_hash"] == article.content_hash and row["url"] == article.url
                         and bool(row["headline_derived"]) == article.headline_derived)
            status = "unchanged" if unchanged else "updated"
            if unchanged:
                return status, article_id
            db.execute(f"UPDATE articles SET {', '.join(f'{k} = ?' for k in values)} WHERE id = ?",
                       (*values.values(), article_id))
            db.execute("DELETE FROM read_also WHERE source_id = ?", (article_id,))
        db.executemany(
            "INSERT INTO read_also (source_id, position, headline, url, target_id, resolution) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(article_id, i, link.headline, link.url, link.target_id, link.resolution)
             for i, link in enumerate(article.read_also)],
        )
        return status, article_id

    def get(self, article_id: str) -> Article | None:
        found = self.get_many([article_id])
        return found.get(article_id)

    def _rows(self, columns: str, ids: Iterable[str]) -> Iterator[list[sqlite3.Row]]:
        """``SELECT columns FROM articles`` for the given ids (each once), in chunks SQLite accepts."""
        ids = list(dict.fromkeys(ids))
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            yield self._db.execute(f"SELECT {columns} FROM articles WHERE id IN ({','.join('?' * len(chunk))})",
                                   chunk).fetchall()

    def get_many(self, ids: Iterable[str]) -> dict[str, Article]:
        """Stored articles by id (unknown ids are left out)."""
        found: dict[str, Article] = {}
        for rows in self._rows("*", ids):
            links = self._links.of([row["id"] for row in rows])
            found.update((row["id"], _article(row, links.get(row["id"], ()))) for row in rows)
        return found

    def summaries(self, ids: Iterable[str]) -> dict[str, dict]:
        """What a ranking shows of stored articles (``SUMMARY_FIELDS``), without body or links; unknown ids left out."""
        return {row["id"]: dict(row) for rows in self._rows(", ".join(SUMMARY_FIELDS), ids) for row in rows}

    def iter_articles(self, *, batch_size: int = 2000) -> Iterator[Article]:
        """Every stored article, ordered by publication time then id."""
        last = ("", "")
        while True:
            rows = self._db.execute(
                "SELECT * FROM articles WHERE (coalesce(published_at, ''), id) > (?, ?) "
                "ORDER BY coalesce(published_at, ''), id LIMIT ?", (*last, batch_size)).fetchall()
            if not rows:
                return
            links = self._links.of([row["id"] for row in rows])
            for row in rows:
                yield _article(row, links.get(row["id"], ()))
            last = (rows[-1]["published_at"] or "", rows[-1]["id"])

    def content_hashes(self, ids: Iterable[str] | None = None) -> dict[str, str]:
        """Content hash by id: of every stored article, or of ``ids`` (unknown ones left out)."""
        if ids is None:
            return dict(self._db.execute("SELECT id, content_hash FROM articles").fetchall())
        return {row["id"]: row["content_hash"] for rows in self._rows("id, content_hash", ids) for row in rows}

    def count(self) -> int:
        return self._db.execute("SELECT count(*) FROM articles").fetchone()[0]

    def find_by_canonical_url(self, url: str) -> str | None:
        row = self._db.execute("SELECT id FROM articles WHERE canonical_url = ?", (canonical_url(url),)).fetchone()
        return row["id"] if row else None

    def find_by_headline(self, headline: str) -> list[str]:
        rows = self._db.execute("SELECT id FROM articles WHERE norm_headline = ? ORDER BY id",
                                (normalise_headline(headline),)).fetchall()
        return [row["id"] for row in rows]

    def listing(self, *, section: str | None = None, since: datetime | None = None, until: datetime | None = None,
                has_links: bool | None = None, limit: int | None = None) -> list[dict]:
        """Stored articles, oldest first: ``SUMMARY_FIELDS`` plus ``links`` (Read-also items the article
        carries), ``resolved`` (those pointing at a stored article) and ``inbound`` (links to it).

        ``since`` / ``until`` bound the publication time (inclusive; undated articles drop out when
        either is given); ``has_links`` keeps only articles that carry Read-also items (or only those
        that carry none when ``False``).
        """
        where: list[str] = []
        params: list[str | int] = []
        if section is not None:
            where.append("a.section = ?")
            params.append(section)
        for bound, op in ((since, ">="), (until, "<=")):
            if bound is not None:
                moment = parse_datetime(bound)
                assert moment is not None  # only None and "" parse to None
                where.append(f"a.published_at {op} ?")
                params.append(moment.isoformat())
        if has_links is not None:
            where.append(f"{'' if has_links else 'NOT '}EXISTS (SELECT 1 FROM read_also r WHERE r.source_id = a.id)")
        sql = (f"SELECT {', '.join('a.' + f for f in SUMMARY_FIELDS)}, "
               "(SELECT count(*) FROM read_also r WHERE r.source_id = a.id) AS links, "
               "(SELECT count(target_id) FROM read_also r WHERE r.source_id = a.id) AS resolved, "
               "(SELECT count(*) FROM read_also r WHERE r.target_id = a.id) AS inbound "
               f"FROM articles a {'WHERE ' + ' AND '.join(where) if where else ''} "
               "ORDER BY coalesce(a.published_at, ''), a.id")
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        return [dict(row) for row in self._db.execute(sql, params)]


def _article(row: sqlite3.Row, links) -> Article:
    values = dict(id=row["id"], headline=row["headline"], body=row["body"], url=row["url"],
                  published_at=parse_datetime(row["published_at"]), section=row["section"],
                  language=row["language"], read_also=tuple(links), headline_derived=bool(row["headline_derived"]))
    try:
        return Article(**values)
    except ArticleError as error:  # a row stored before URLs were checked: read it without its URL
        log.warning("stored article %r has an unusable url, read without it: %s", row["id"], error)
        return Article(**{**values, "url": None})
