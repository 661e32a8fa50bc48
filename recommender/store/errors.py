"""What can go wrong with the store: it cannot be opened, the disk is full, a URL is taken."""

from __future__ import annotations

import sqlite3

from recommender.articles import ArticleError


class StoreError(RuntimeError):
    """The store cannot be opened or used (path, permissions, schema)."""


class StoreFull(StoreError):
    """The disk (or the store's size limit) is full; the write in progress was rolled back whole."""


class DuplicateUrl(ArticleError):
    """An article's URL already belongs to another stored article: distinct ids are never merged."""


def is_full(error: BaseException) -> bool:
    """Whether an error is SQLite's ``SQLITE_FULL`` or the OS's ``ENOSPC``."""
    if isinstance(error, sqlite3.Error):
        return getattr(error, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or "disk is full" in str(error)
    return isinstance(error, OSError) and error.errno == 28  # ENOSPC
