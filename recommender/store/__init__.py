"""The SQLite store: one file, one connection, its concepts as parts sharing every transaction.

``store.articles`` (articles with their Read-also links), ``store.links`` (link targets and counts),
``store.feedback`` (editors' pins and blocks), ``store.events`` (widget beacon counts),
``store.lists`` (precomputed related lists), ``store.meta`` (key/value metadata) and
``store.changes`` (the change log and counter). ``Store`` itself is a ``Catalogue``.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path

from recommender.articles import Article
from recommender.catalogue import Feedback

from .articles import SUMMARY_FIELDS, Articles
from .changes import ChangeLog
from .errors import DuplicateUrl, StoreError, StoreFull, is_full
from .events import Events
from .feedback import FEEDBACK_KINDS, EditorFeedback
from .links import Links
from .lists import RelatedLists
from .meta import SERVED_MODEL, Meta
from .schema import CHANGE_COUNTER, SCHEMA

DEFAULT_DB = Path("readalso-data") / "readalso.db"
"""Where the store is when no path is given (relative to the working directory)."""


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
            self._db.executescript(SCHEMA)
            self._migrate()
        except (OSError, sqlite3.Error) as error:
            if is_full(error):
                raise StoreFull(f"disk full: cannot open store {self.path}: {error}") from None
            raise StoreError(f"cannot open store {self.path}: {error}") from None
        self.links = Links(self._db, self.transaction)
        self.articles = Articles(self._db, self.transaction, self.links)
        self.feedback = EditorFeedback(self._db, self.transaction, self.articles)
        self.events = Events(self._db, self.transaction)
        self.lists = RelatedLists(self._db, self.transaction)
        self.meta = Meta(self._db, self.transaction)
        self.changes = ChangeLog(self._db, self.transaction, self.meta)

    def _migrate(self) -> None:
        """Bring a store written by an older readalso up to this schema (columns added since)."""
        added = {("articles", "headline_derived"): "INTEGER NOT NULL DEFAULT 0",
                 ("related_lists", "editor_probability"): "REAL",
                 ("related_lists", "reach"): "REAL NOT NULL DEFAULT 0"}
        for (table, column), kind in added.items():
            if column not in {row["name"] for row in self._db.execute(f"PRAGMA table_info({table})")}:
                with self._db:
                    self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
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
            if is_full(error):
                raise StoreFull(f"disk full while writing {self.path}; the last write was rolled back, "
                                f"everything before it is stored ({error})") from None
            raise

    # -- the Catalogue an engine ranks with ---------------------------------------------------
    def get_many(self, ids: Iterable[str]) -> dict[str, Article]:
        return self.articles.get_many(ids)

    def feedback_for(self, source_id: str) -> Feedback | None:
        return self.feedback.for_source(source_id)

    def precomputed(self, article_id: str, model_version: str,
                    k: int) -> list[tuple[str, float, str, float | None]] | None:
        return self.lists.precomputed(article_id, model_version, k)

    def list_reaches(self, model_version: str) -> dict[str, float]:
        return self.lists.reaches(model_version)


__all__ = ["Store", "StoreError", "StoreFull", "DuplicateUrl", "DEFAULT_DB", "SERVED_MODEL", "CHANGE_COUNTER",
           "SUMMARY_FIELDS", "FEEDBACK_KINDS"]
