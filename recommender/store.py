"""The SQLite store: articles with their Read-also links, editor feedback, events, precomputed lists."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import NamedTuple

import logging

from recommender.catalogue import Feedback
from recommender.articles import (
    SUMMARY_FIELDS,
    Article,
    ArticleError,
    ReadAlsoLink,
    canonical_url,
    check_limits,
    normalise_headline,
    parse_datetime,
)

log = logging.getLogger(__name__)

DEFAULT_DB = Path("readalso-data") / "readalso.db"
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY,
    url TEXT,
    canonical_url TEXT,
    headline TEXT NOT NULL,
    norm_headline TEXT NOT NULL,
    body TEXT NOT NULL,
    published_at TEXT,
    section TEXT,
    language TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    headline_derived INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS articles_canonical_url ON articles(canonical_url);
CREATE INDEX IF NOT EXISTS articles_norm_headline ON articles(norm_headline);
CREATE TABLE IF NOT EXISTS read_also (
    source_id TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    headline TEXT NOT NULL,
    url TEXT,
    target_id TEXT,
    resolution TEXT,
    PRIMARY KEY (source_id, position)
);
CREATE INDEX IF NOT EXISTS read_also_target ON read_also(target_id);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS feedback (
    source_id TEXT NOT NULL,
    target_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('pin', 'block')),
    created_at TEXT NOT NULL,
    PRIMARY KEY (source_id, target_id)
);
CREATE TABLE IF NOT EXISTS related_lists (
    article_id TEXT NOT NULL,
    model_version TEXT NOT NULL,
    position INTEGER NOT NULL,
    target_id TEXT NOT NULL,
    score REAL NOT NULL,
    reason TEXT NOT NULL,
    editor_probability REAL,
    PRIMARY KEY (article_id, model_version, position)
);
CREATE TABLE IF NOT EXISTS event_counts (
    day TEXT NOT NULL,
    type TEXT NOT NULL,
    article_id TEXT NOT NULL,
    target_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    model_version TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (day, type, article_id, target_id, position, model_version)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS event_counts_article ON event_counts(article_id, type);
"""

# Every change to an article, or to editors' pins and blocks, bumps meta.articles_changed, so other
# processes serving the same store notice it with one cheap read and drop cached rankings at once.
CHANGE_COUNTER = "articles_changed"
_SCHEMA += "".join(f"""
CREATE TRIGGER IF NOT EXISTS {table}_changed_{action.lower()} AFTER {action} ON {table} BEGIN
    INSERT INTO meta (key, value) VALUES ('{CHANGE_COUNTER}', '1')
    ON CONFLICT(key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT);
END;""" for table in ("articles", "feedback") for action in ("INSERT", "UPDATE", "DELETE"))


# The article change log: the latest write of each article, in commit order (SQLite has one writer
# at a time), so an engine syncs only what changed since the sequence number it last saw.
_SCHEMA += """
CREATE TABLE IF NOT EXISTS article_changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    article_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS article_changes_article ON article_changes(article_id);
""" + "".join(f"""
CREATE TRIGGER IF NOT EXISTS articles_logged_{action.lower()} AFTER {action} ON articles BEGIN
    DELETE FROM article_changes WHERE article_id = NEW.id;
    INSERT INTO article_changes (article_id) VALUES (NEW.id);
END;""" for action in ("INSERT", "UPDATE"))


SERVED_MODEL = "served_model"
"""The meta key naming the artifact version every server process serves (written at boot and by a reload);
pruning keeps that version."""

FEEDBACK_KINDS = ("pin", "block")


class StoreError(RuntimeError):
    """The store cannot be opened or used (path, permissions, schema)."""


class StoreFull(StoreError):
    """The disk (or the store's size limit) is full; the write in progress was rolled back whole."""


class DuplicateUrl(ArticleError):
    """An article's URL already belongs to another stored article: distinct ids are never merged."""


def _is_full(error: BaseException) -> bool:
    if isinstance(error, sqlite3.Error):
        return getattr(error, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or "disk is full" in str(error)
    return isinstance(error, OSError) and error.errno == 28  # ENOSPC


def default_db_path() -> Path:
    """``READALSO_DB`` if set, else ``./readalso-data/readalso.db``."""
    return Path(os.environ.get("READALSO_DB") or DEFAULT_DB)


class Store:
    """Articles and their links in one SQLite file; every write is one transaction."""

    def __init__(self, path: str | os.PathLike, *, create: bool = True):
        self.path = Path(path)
        if not create and not self.path.exists():
            raise StoreError(f"no store at {self.path} (run 'readalso ingest' first)")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA foreign_keys = ON")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.executescript(_SCHEMA)
            self._migrate()
        except (OSError, sqlite3.Error) as error:
            if _is_full(error):
                raise StoreFull(f"disk full: cannot open store {self.path}: {error}") from None
            raise StoreError(f"cannot open store {self.path}: {error}") from None

    def _migrate(self) -> None:
        """Bring a store written by an older readalso up to this schema (columns added since)."""
        added = {("articles", "headline_derived"): "INTEGER NOT NULL DEFAULT 0",
                 ("related_lists", "editor_probability"): "REAL"}
        for (table, column), kind in added.items():
            if column not in {row["name"] for row in self._db.execute(f"PRAGMA table_info({table})")}:
                with self._db:
                    self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextmanager
    def transaction(self):
        """All or nothing: commits on success, rolls back on any error.

        A full disk (SQLite's ``SQLITE_FULL`` or ``ENOSPC``) raises ``StoreFull`` after the rollback.
        """
        try:
            with self._db:
                yield self._db
        except (sqlite3.Error, OSError) as error:
            if _is_full(error):
                raise StoreFull(f"disk full while writing {self.path}; the last write was rolled back, "
                                f"everything before it is stored ({error})") from None
            raise

    # -- articles -----------------------------------------------------------------------------
    def upsert(self, article: Article) -> tuple[str, str]:
        """Insert or update one article with its links, atomically.

        Matches by id. A canonical URL belongs to one article: an article whose URL another
        stored id already has is refused with ``DuplicateUrl`` naming both (distinct ids are
        never merged). Size caps: ``articles.check_limits``. Returns ``(status, id)`` with
        status ``"new"``, ``"updated"`` or ``"unchanged"``.
        """
        with self.transaction() as db:
            return self._upsert(db, article)

    def upsert_many(self, articles: Iterable[Article]) -> list[tuple[str, str]]:
        """Upsert several articles in one transaction (all or none)."""
        with self.transaction() as db:
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
            updated_at=datetime.now(timezone.utc).isoformat(), headline_derived=int(article.headline_derived),
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
            "INSERT INTO read_also (source_id, position, headline, url, target_id, resolution) VALUES (?, ?, ?, ?, ?, ?)",
            [(article_id, i, link.headline, link.url, link.target_id, link.resolution)
             for i, link in enumerate(article.read_also)],
        )
        return status, article_id

    def get(self, article_id: str) -> Article | None:
        found = self.get_many([article_id])
        return found.get(article_id)

    def _articles_rows(self, columns: str, ids: Iterable[str]) -> Iterator[list[sqlite3.Row]]:
        """``SELECT columns FROM articles`` for the given ids (each once), in chunks SQLite accepts."""
        ids = list(dict.fromkeys(ids))
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            yield self._db.execute(f"SELECT {columns} FROM articles WHERE id IN ({','.join('?' * len(chunk))})",
                                   chunk).fetchall()

    def get_many(self, ids: Iterable[str]) -> dict[str, Article]:
        """Stored articles by id (unknown ids are left out)."""
        found: dict[str, Article] = {}
        for rows in self._articles_rows("*", ids):
            links = self._links_of([row["id"] for row in rows])
            found.update((row["id"], _article(row, links.get(row["id"], ()))) for row in rows)
        return found

    def summaries(self, ids: Iterable[str]) -> dict[str, dict]:
        """What a ranking shows of stored articles (``SUMMARY_FIELDS``), without body or links; unknown ids left out."""
        return {row["id"]: dict(row) for rows in self._articles_rows(", ".join(SUMMARY_FIELDS), ids) for row in rows}

    def iter_articles(self, *, batch_size: int = 2000) -> Iterator[Article]:
        """Every stored article, ordered by publication time then id."""
        last = ("", "")
        while True:
            rows = self._db.execute(
                "SELECT * FROM articles WHERE (coalesce(published_at, ''), id) > (?, ?) "
                "ORDER BY coalesce(published_at, ''), id LIMIT ?", (*last, batch_size)).fetchall()
            if not rows:
                return
            links = self._links_of([row["id"] for row in rows])
            for row in rows:
                yield _article(row, links.get(row["id"], ()))
            last = (rows[-1]["published_at"] or "", rows[-1]["id"])

    def content_hashes(self, ids: Iterable[str] | None = None) -> dict[str, str]:
        """Content hash by id: of every stored article, or of ``ids`` (unknown ones left out)."""
        if ids is None:
            return dict(self._db.execute("SELECT id, content_hash FROM articles").fetchall())
        return {row["id"]: row["content_hash"] for rows in self._articles_rows("id, content_hash", ids) for row in rows}

    def last_change(self) -> int:
        """The sequence number of the latest article write (0: none logged)."""
        return self._db.execute("SELECT coalesce(max(seq), 0) FROM article_changes").fetchone()[0]

    def changes_since(self, seq: int) -> tuple[int, list[str]]:
        """``(latest sequence number, ids written after seq)``: what an engine synced up to ``seq`` must look at."""
        rows = self._db.execute("SELECT seq, article_id FROM article_changes WHERE seq > ? ORDER BY seq",
                                (seq,)).fetchall()
        return (rows[-1][0] if rows else seq), [row[1] for row in rows]

    def count(self) -> int:
        return self._db.execute("SELECT count(*) FROM articles").fetchone()[0]

    def find_by_canonical_url(self, url: str) -> str | None:
        row = self._db.execute("SELECT id FROM articles WHERE canonical_url = ?", (canonical_url(url),)).fetchone()
        return row["id"] if row else None

    def find_by_headline(self, headline: str) -> list[str]:
        rows = self._db.execute("SELECT id FROM articles WHERE norm_headline = ? ORDER BY id",
                                (normalise_headline(headline),)).fetchall()
        return [row["id"] for row in rows]

    def link_candidates(self) -> list[tuple[str, str | None, str]]:
        """``(id, url, headline)`` of every article, oldest first, for link resolution."""
        return [tuple(row) for row in self._db.execute(
            "SELECT id, url, headline FROM articles ORDER BY coalesce(published_at, ''), id")]

    # -- links --------------------------------------------------------------------------------
    def _links_of(self, ids: list[str]) -> dict[str, list[ReadAlsoLink]]:
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

    def unresolved_links(self) -> list[tuple[str, int, str, str | None]]:
        """``(source_id, position, headline, url)`` of links not yet pointing at a stored article."""
        return [tuple(row) for row in self._db.execute(
            "SELECT source_id, position, headline, url FROM read_also WHERE target_id IS NULL "
            "ORDER BY source_id, position")]

    def set_link_targets(self, targets: Iterable[tuple[str, int, str, str]]) -> None:
        """Record ``(source_id, position, target_id, resolution)`` for resolved links."""
        with self.transaction() as db:
            db.executemany("UPDATE read_also SET target_id = ?, resolution = ? WHERE source_id = ? AND position = ?",
                           [(target, how, source, position) for source, position, target, how in targets])

    def clear_dangling_links(self) -> None:
        """Forget targets whose article no longer exists."""
        with self.transaction() as db:
            db.execute("UPDATE read_also SET target_id = NULL, resolution = NULL WHERE target_id IS NOT NULL "
                       "AND target_id NOT IN (SELECT id FROM articles)")

    def link_counts(self) -> dict[str, int]:
        row = self._db.execute("SELECT count(*), count(target_id) FROM read_also").fetchone()
        return {"links": row[0], "resolved": row[1], "unresolved": row[0] - row[1]}

    def inbound_counts(self) -> dict[str, int]:
        """How many Read-also links point at each article (editors' popularity)."""
        return dict(self._db.execute(
            "SELECT target_id, count(*) FROM read_also WHERE target_id IS NOT NULL GROUP BY target_id").fetchall())

    def resolved_links(self) -> list[tuple[str, str]]:
        """``(source_id, target_id)`` of every resolved Read-also link."""
        return [tuple(row) for row in self._db.execute(
            "SELECT source_id, target_id FROM read_also WHERE target_id IS NOT NULL ORDER BY source_id, position")]

    def listing(self, *, section: str | None = None, since: datetime | None = None, until: datetime | None = None,
                has_links: bool | None = None, limit: int | None = None) -> list[dict]:
        """Stored articles, oldest first: ``SUMMARY_FIELDS`` plus ``links`` (Read-also items the article
        carries), ``resolved`` (those pointing at a stored article) and ``inbound`` (links to it).

        ``since`` / ``until`` bound the publication time (inclusive; undated articles drop out when
        either is given); ``has_links`` keeps only articles that carry Read-also items (or only those
        that carry none when ``False``).
        """
        where, params = [], []
        if section is not None:
            where.append("a.section = ?")
            params.append(section)
        for bound, op in ((since, ">="), (until, "<=")):
            if bound is not None:
                where.append(f"a.published_at {op} ?")
                params.append(parse_datetime(bound).isoformat())
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

    # -- events -------------------------------------------------------------------------------
    # Widget beacons are counted, not kept one row each: one row per (UTC day received, type,
    # article, target, position, model version), so volume grows with what is shown, not with
    # traffic, and days older than the retention are deleted on the next write.
    EVENT_TYPES = ("impression", "click")

    def record_events(self, events: Iterable[dict], *, retention_days: int | None = None,
                      now: datetime | None = None) -> int:
        """Count widget beacons (``type``, ``article_id``, ``target_id``, ``position``, ``model_version``)
        in one transaction, dropping days older than ``retention_days``; returns how many were counted."""
        now = now or datetime.now(timezone.utc)
        day = now.date().isoformat()
        counts: dict[tuple, int] = {}
        for event in events:
            if event.get("type") not in self.EVENT_TYPES:
                raise ValueError(f"event type must be one of {', '.join(self.EVENT_TYPES)}, got {event.get('type')!r}")
            key = (day, event["type"], event["article_id"], event.get("target_id") or "", event.get("position") or 0,
                   event.get("model_version") or "")
            counts[key] = counts.get(key, 0) + 1
        with self.transaction() as db:
            db.executemany("INSERT INTO event_counts (day, type, article_id, target_id, position, model_version, count) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET count = count + excluded.count",
                           [(*key, n) for key, n in counts.items()])
            if retention_days is not None:
                oldest = (now - timedelta(days=retention_days)).date().isoformat()
                db.execute("DELETE FROM event_counts WHERE day < ?", (oldest,))
        return sum(counts.values())

    def record_event(self, type: str, article_id: str, target_id: str | None = None, position: int | None = None,
                     model_version: str | None = None) -> None:
        self.record_events([dict(type=type, article_id=article_id, target_id=target_id, position=position,
                                 model_version=model_version)])

    def events(self, *, type: str | None = None, article_id: str | None = None, limit: int | None = None) -> list[dict]:
        """Event counts (``day``, ``type``, ``article_id``, ``target_id``, ``position``, ``model_version``,
        ``count``; no target or position: ``None``), by day, article, type, position."""
        sql, args = "SELECT * FROM event_counts WHERE 1 = 1", []
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

    def change_count(self) -> int:
        """A counter bumped by every insert, update or delete of an article or of editor feedback (by any process)."""
        return int(self.get_meta(CHANGE_COUNTER, 0))

    # -- precomputed lists (written by batch scoring) ------------------------------------------
    def replace_related_lists(self, model_version: str,
                              lists: Iterable[tuple[str, Iterable[tuple[str, float, str, float | None]]]]) -> int:
        """Store ``(article_id, [(target_id, score, reason, editor_probability), ...])`` lists, best first, for one
        model version.

        Earlier lists of those articles (any version) are replaced; one transaction. Returns how many lists.
        """
        count = 0
        with self.transaction() as db:
            for article_id, related in lists:
                db.execute("DELETE FROM related_lists WHERE article_id = ?", (article_id,))
                db.executemany(
                    "INSERT INTO related_lists (article_id, model_version, position, target_id, score, reason, "
                    "editor_probability) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [(article_id, model_version, i, target, float(score), reason, probability)
                     for i, (target, score, reason, probability) in enumerate(related)])
                count += 1
        return count

    def precomputed(self, article_id: str, model_version: str,
                    k: int) -> list[tuple[str, float, str, float | None]] | None:
        """The first ``k`` of an article's precomputed list for that model version, or None if it holds fewer."""
        rows = self._db.execute(
            "SELECT target_id, score, reason, editor_probability FROM related_lists WHERE article_id = ? AND model_version = ? "
            "ORDER BY position LIMIT ?", (article_id, model_version, k)).fetchall()
        return [tuple(row) for row in rows] if len(rows) == k else None

    def related_list_counts(self) -> dict[str, int]:
        """How many articles have a precomputed list, per model version."""
        return dict(self._db.execute(
            "SELECT model_version, count(DISTINCT article_id) FROM related_lists GROUP BY model_version").fetchall())

    # -- editor feedback ----------------------------------------------------------------------
    def set_feedback(self, source_id: str, target_id: str, kind: str) -> None:
        """Pin ``target_id`` to ``source_id``'s list, or block the pair for good (a pair is one or the other)."""
        if kind not in FEEDBACK_KINDS:
            raise ValueError(f"feedback kind must be one of {', '.join(FEEDBACK_KINDS)}, got {kind!r}")
        if source_id == target_id:
            raise ValueError(f"an article cannot be pinned to or blocked from itself: {source_id!r}")
        missing = [i for i in (source_id, target_id) if self.get(i) is None]
        if missing:
            raise ValueError(f"unknown article id {missing[0]!r}")
        with self.transaction() as db:
            db.execute("INSERT INTO feedback (source_id, target_id, kind, created_at) VALUES (?, ?, ?, ?) "
                       "ON CONFLICT(source_id, target_id) DO UPDATE SET kind = excluded.kind, "
                       "created_at = excluded.created_at",
                       (source_id, target_id, kind, datetime.now(timezone.utc).isoformat()))

    def remove_feedback(self, source_id: str, target_id: str, kind: str | None = None) -> bool:
        """Forget a pin or block (of ``kind`` if given); returns whether there was one."""
        sql, args = "DELETE FROM feedback WHERE source_id = ? AND target_id = ?", [source_id, target_id]
        if kind is not None:
            sql, args = sql + " AND kind = ?", [*args, kind]
        with self.transaction() as db:
            return db.execute(sql, args).rowcount > 0

    def feedback_for(self, source_id: str) -> Feedback | None:
        """The pins (oldest first) and blocks of one article's list, or None when it has neither."""
        rows = self._db.execute("SELECT target_id, kind FROM feedback WHERE source_id = ? ORDER BY created_at, target_id",
                                (source_id,)).fetchall()
        if not rows:
            return None
        return Feedback(tuple(r["target_id"] for r in rows if r["kind"] == "pin"),
                        frozenset(r["target_id"] for r in rows if r["kind"] == "block"))

    def all_feedback(self) -> list[tuple[str, str, str]]:
        """``(source_id, target_id, kind)`` of every pin and block."""
        return [tuple(row) for row in self._db.execute(
            "SELECT source_id, target_id, kind FROM feedback ORDER BY source_id, created_at, target_id")]

    # -- metadata -----------------------------------------------------------------------------
    def get_meta(self, key: str, default=None):
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row["value"]) if row else default

    def get_metas(self, *keys: str) -> dict:
        """Several ``meta`` values in one read (missing keys are left out)."""
        rows = self._db.execute(f"SELECT key, value FROM meta WHERE key IN ({','.join('?' * len(keys))})", keys)
        return {row["key"]: json.loads(row["value"]) for row in rows}

    def set_meta(self, key: str, value) -> None:
        with self.transaction() as db:
            db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                       (key, json.dumps(value)))


def _article(row: sqlite3.Row, links) -> Article:
    values = dict(id=row["id"], headline=row["headline"], body=row["body"], url=row["url"],
                  published_at=parse_datetime(row["published_at"]), section=row["section"],
                  language=row["language"], read_also=tuple(links), headline_derived=bool(row["headline_derived"]))
    try:
        return Article(**values)
    except ArticleError as error:  # a row stored before URLs were checked: read it without its URL
        log.warning("stored article %r has an unusable url, read without it: %s", row["id"], error)
        return Article(**{**values, "url": None})
