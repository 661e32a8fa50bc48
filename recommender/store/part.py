"""What every part of the store shares: the one connection, and the store's transaction for writes."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager


class Part:
    """One concept's tables, read on the store's connection and written in its transactions."""

    def __init__(self, db: sqlite3.Connection, transaction: Callable[[], AbstractContextManager[sqlite3.Connection]]):
        self._db = db
        self._transaction = transaction
