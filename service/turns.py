"""One request's use of the served model: its snapshot, its turn at the engine, its store writes."""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager

from flask import current_app, g

from recommender.store import StoreError

from .errors import ApiError, error_response
from .holder import Busy, EngineHolder, Snapshot

UNREACHABLE = (sqlite3.Error, OSError, StoreError)
"""What reading the store raises when it cannot be reached (a lost disk, a locked or damaged file)."""


def holder() -> EngineHolder:
    return current_app.extensions["readalso"]


def snapshot() -> Snapshot:
    """The model this request uses from start to end (a reload meanwhile does not change it)."""
    if "snapshot" not in g:
        g.snapshot = holder().snapshot(timeout=current_app.config["REQUEST_BUDGET_SECONDS"])
        current_app.extensions["readalso.metrics"].follow(g.snapshot)
    return g.snapshot


@contextmanager
def turn(current: Snapshot):
    """This request's turn at the engine and the store connection, waited for at most
    ``REQUEST_BUDGET_SECONDS``; past that 503 with ``Retry-After`` instead of queueing forever."""
    budget = current_app.config["REQUEST_BUDGET_SECONDS"]
    if not current.lock.acquire(timeout=budget):
        raise Busy(f"no turn at the engine within {budget:g} s")
    try:
        yield current
    finally:
        current.lock.release()


def busy_response(error: Busy):
    return error_response(503, "busy", f"busy: {error}; retry shortly", headers={"Retry-After": "1"})


@contextmanager
def writing():
    """A store write; a full disk or an unwritable store answers 503 and makes ``/readyz`` not ready."""
    try:
        yield
    except (sqlite3.OperationalError, OSError) as error:
        if not current_app.extensions["readalso.store_health"].record(error):
            raise
        raise ApiError(503, "the store cannot be written now (disk full or read-only); nothing was stored",
                       code="store_unwritable", headers={"Retry-After": "30"}) from None
