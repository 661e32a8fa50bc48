"""An engine catching up with its store: articles stored or changed since it was built are added, no refit."""

from __future__ import annotations

from recommender.engine import Engine


def sync_with_store(engine: Engine, store) -> int:
    """Add to ``engine`` the articles stored or changed since it was built or last synced; returns how many.

    The first sync with a store compares every content hash; later ones read only the articles
    its change log lists after the last sync.
    """
    if engine.synced is not None and engine.synced[0] == str(store.path):
        seq, ids = store.changes.since(engine.synced[1])
        hashes = store.articles.content_hashes(ids) if ids else {}
    else:
        seq = store.changes.last()  # read first: a write racing the scan is listed next time
        hashes = store.articles.content_hashes()
    stale = [i for i, h in hashes.items() if engine.hashes.get(i) != h]
    engine.add(list(store.get_many(stale).values()))
    engine.synced = (str(store.path), seq)
    return len(stale)


__all__ = ["sync_with_store"]
