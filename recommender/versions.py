"""Where an archive's engine versions live, and keeping them current with its store.

The model built from the store ``<name>.db`` lives beside it, in ``<name>.artifacts/``: one
directory per version and ``CURRENT`` naming the one to load (see :mod:`recommender.artifacts`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from recommender.store import SERVED_MODEL, Store

if TYPE_CHECKING:
    from recommender.engine import Engine


def model_root(db: str | os.PathLike) -> Path:
    """Where the versions of the model of the store ``db`` live: beside it, ``<name>.artifacts/``."""
    return Path(db).with_suffix(".artifacts")


def current(db: str | os.PathLike) -> Path:
    """The directory of the current version (``ArtifactError`` when there is none)."""
    from recommender import artifacts

    return artifacts.current(model_root(db))


def open_engine(db: str | os.PathLike):
    """The store and its current engine, brought up to date with the articles ingested since that version."""
    from recommender.artifacts import load_engine
    from recommender.sync import sync_with_store

    store = Store(db, create=False)
    engine = load_engine(current(db), store)
    sync_with_store(engine, store)
    return store, engine


def refresh(db: str | os.PathLike, store: Store) -> int:
    """Vectorise the articles ingested since the current version with its fitted vocabulary, save them as a
    new version and prune; returns how many were added (0, saving nothing, when there is no current version)."""
    from recommender import artifacts
    from recommender.sync import sync_with_store

    try:
        engine = artifacts.load_engine(current(db), store)
    except artifacts.ArtifactError:
        return 0
    added = sync_with_store(engine, store)
    if added:
        relist(engine, store)
        artifacts.save_engine(engine, model_root(db))
        prune(db, store)
    return added


def relist(engine: Engine, store: Store) -> int:
    """Rank again, and store, the batch lists that articles added since the batch made stale (``engine.stale``):
    the stored path then answers as the live one for every article; returns how many lists."""
    import numpy as np

    from recommender import batch

    key = engine.lists_key
    length = store.lists.longest(key) if key is not None else 0
    index = engine.index
    rows = np.asarray(sorted(index.row_of[i] for i in engine.stale if index.alive[index.row_of[i]]), dtype=np.int64)
    if key is None or length == 0 or rows.size == 0:
        return 0
    store.lists.replace(key, batch.score_rows(engine, rows, length))
    engine.stale.clear()
    return int(rows.size)


def prune(db: str | os.PathLike, store: Store) -> list[str]:
    """Drop old versions: never CURRENT, the one the store says servers serve, a leased one,
    nor the newest intact ones (see ``artifacts.prune``); returns the names removed."""
    from recommender import artifacts

    return artifacts.prune(model_root(db), protect=(store.meta.get(SERVED_MODEL),))
