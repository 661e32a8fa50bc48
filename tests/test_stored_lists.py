"""Stored lists survive ingest: after articles are added (CLI refresh, or a server syncing), every article is
answered from its stored list unless that list went stale, and stored and live answers are identical."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from conftest import build_model
from recommender import batch, versions
from recommender.articles import Article
from recommender.store import Store
from recommender.sync import sync_with_store
from test_batch import START, archive

K = 5


def follow_ups(articles: list[Article], n: int, offset: int) -> list[Article]:
    """New articles: follow-ups worded like earlier ones, a rewrite of an existing article, unrelated ones."""
    added = []
    for i in range(n):
        source = articles[(7 * i + offset) % len(articles)]
        words = source.body.split()
        added.append(Article(id=f"new{offset}-{i}", headline=" ".join(words[3:10]),
                             body=" ".join(words[5:] + words[:5]), language=source.language, section=source.section,
                             published_at=START + timedelta(days=60 + offset + i)))
    rewritten = articles[offset + 3]
    added.append(replace(rewritten, body=rewritten.body + " and a correction at the end", read_also=()))
    added.append(Article(id=f"unrelated{offset}", headline="Chess club meets", body="zebra quartz volcano " * 20,
                         published_at=START + timedelta(days=70 + offset)))
    return added


def answers(engine) -> tuple[dict, dict, int]:
    """Every live article's default answer (stored when it can be), its live answer, and how many were stored."""
    served, live, stored = {}, {}, 0
    for article_id in [i for i, alive in zip(engine.index.ids, engine.index.alive) if alive]:
        answer = engine.related(article_id, K)
        stored += answer.path == "stored"
        served[article_id] = answer.rows()
        live[article_id] = engine.related(article_id, K, stored=False).rows()
    return served, live, stored


@pytest.mark.slow
def test_stored_equals_live_through_ingests_reloads_and_batches(tmp_path):
    db = tmp_path / "news.db"
    corpus = archive()
    with Store(db) as store:
        store.articles.upsert_many(corpus)
        build_model(store, versions.model_root(db))
    first = versions.current(db)
    batch.run_batch(first, db=db, k=K, progress=False)

    # a CLI ingest: the new version appends articles, keeps the lists' key and re-ranks only the stale lists
    with Store(db) as store:
        store.articles.upsert_many(follow_ups(corpus, 4, 0))
        assert versions.refresh(db, store) == 6
    assert versions.current(db) != first
    store, engine = versions.open_engine(db)  # a server reloading the new version
    with store:
        assert engine.lists_key == first.name and not engine.stale
        served, live, stored = answers(engine)
        assert served == live
        assert stored >= 0.9 * len(served)  # lists without k stories (German, unrelated) answer live

        # a server syncing articles ingested after its version: the lists they reach are answered live
        with Store(db) as writer:
            writer.articles.upsert_many(follow_ups(corpus, 3, 20))
        assert sync_with_store(engine, store) == 5
        assert engine.stale
        served, live, _ = answers(engine)
        assert served == live

    # the next ingest's refresh stores those lists again; a full batch replaces every list
    with Store(db) as store:
        assert versions.refresh(db, store) == 5
    store, engine = versions.open_engine(db)
    with store:
        served, live, stored = answers(engine)
        assert served == live and stored >= 0.9 * len(served)
    batch.run_batch(versions.current(db), db=db, k=K, progress=False)
    store, engine = versions.open_engine(db)
    with store:
        served, live, stored = answers(engine)
        assert served == live and stored >= 0.9 * len(served)
