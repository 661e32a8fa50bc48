"""The SQLite store: atomic upserts, matching by id or canonical URL, link bookkeeping."""

import sqlite3
from dataclasses import replace

import pytest

from recommender.articles import Article, ArticleError, ReadAlsoLink
from recommender.links import resolve_store
from recommender.store import DuplicateUrl, Store, StoreError, StoreFull


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "s.db") as s:
        yield s


def test_upsert_reports_new_updated_unchanged(store, corpus):
    assert store.articles.upsert(corpus[0]) == ("new", "storm-1")
    assert store.articles.upsert(corpus[0]) == ("unchanged", "storm-1")
    changed = Article(id="storm-1", headline=corpus[0].headline, body="A new body.", url=corpus[0].url)
    assert store.articles.upsert(changed) == ("updated", "storm-1")
    assert store.articles.get("storm-1").body == "A new body."
    assert store.articles.count() == 1


def test_distinct_ids_sharing_a_url_are_refused_not_merged(store):
    store.articles.upsert(Article(id="a", headline="First", url="https://www.news.example/x/?utm_source=feed"))
    with pytest.raises(DuplicateUrl, match=r"'b'.*already stored for article 'a'"):
        store.articles.upsert(Article(id="b", headline="First, corrected", url="http://news.example/x"))
    assert store.articles.get("b") is None and store.articles.get("a").headline == "First"
    store.articles.upsert(Article(id="c", headline="Other", url="https://news.example/c"))
    with pytest.raises(DuplicateUrl):  # an update may not take another article's URL either
        store.articles.upsert(Article(id="c", headline="Other", url="https://news.example/x"))
    corrected = Article(id="a", headline="First, corrected", url="https://news.example/x")
    assert store.articles.upsert(corrected) == ("updated", "a")


def test_headline_derived_flag_round_trips(store):
    article = Article(id="d", headline="Made from the body", body="Made from the body. More.", headline_derived=True)
    assert store.articles.upsert(article) == ("new", "d")
    assert store.articles.get("d") == article and store.articles.get("d").headline_derived
    assert store.articles.upsert(replace(article, headline_derived=False)) == ("updated", "d")


def test_size_caps_are_checked_on_write(store, monkeypatch):
    monkeypatch.setenv("READALSO_MAX_BODY_CHARS", "10")
    monkeypatch.setattr("recommender.articles._limits", None)  # read the environment again
    with pytest.raises(ArticleError, match=r"body has 11 characters, over the limit of 10 \(READALSO_MAX_BODY_CHARS\)"):
        store.articles.upsert(Article(id="big", headline="Big", body="x" * 11))
    assert store.articles.get("big") is None


def test_a_full_disk_rolls_back_the_article_with_its_links(store, corpus):
    store.articles.upsert(corpus[0])
    store._db.execute(f"PRAGMA max_page_count = {store._db.execute('PRAGMA page_count').fetchone()[0]:d}")
    big = Article(id="big", headline="Big", body=" ".join(f"word{i}" for i in range(20_000)),
                  read_also=(ReadAlsoLink("A linked story"),))
    with pytest.raises(StoreFull, match="disk full while writing"):
        store.articles.upsert(big)
    assert store.articles.get("big") is None and store.articles.count() == 1
    assert store._db.execute("SELECT count(*) FROM read_also WHERE source_id = 'big'").fetchone()[0] == 0


def test_article_and_links_round_trip(store, corpus):
    store.articles.upsert_many(corpus)
    article = store.articles.get("storm-2")
    assert article == corpus[1]
    assert [a.id for a in store.articles.iter_articles(batch_size=2)] == [a.id for a in corpus]


def test_summaries_are_the_stored_articles_display_fields(store, corpus):
    store.articles.upsert_many(corpus)
    ids = [corpus[2].id, "missing", corpus[0].id]
    summaries = store.articles.summaries(ids)
    assert set(summaries) == {corpus[2].id, corpus[0].id}
    for article_id, summary in summaries.items():
        article = store.articles.get(article_id)
        assert summary == {"id": article.id, "headline": article.headline, "url": article.url,
                           "section": article.section,
                           "published_at": article.published_at.isoformat() if article.published_at else None}


def test_change_log_lists_each_written_article_once_in_write_order(store, corpus):
    assert store.changes.last() == 0 and store.changes.since(0) == (0, [])
    store.articles.upsert_many(corpus[:3])
    first = store.changes.last()
    assert store.changes.since(0) == (first, [a.id for a in corpus[:3]])
    store.articles.upsert(corpus[0])  # unchanged: not written, not listed
    assert store.changes.since(first) == (first, [])
    store.articles.upsert(Article(id=corpus[0].id, headline=corpus[0].headline, body="Changed.", url=corpus[0].url))
    store.articles.upsert(corpus[3])
    latest, ids = store.changes.since(first)
    assert ids == [corpus[0].id, corpus[3].id] and latest == store.changes.last() > first
    assert store.changes.since(0)[1] == [a.id for a in corpus[1:3]] + [corpus[0].id, corpus[3].id]
    assert store.articles.content_hashes([corpus[3].id, "missing"]) == {corpus[3].id: corpus[3].content_hash}


def test_failed_batch_writes_nothing(store, corpus):
    class Broken(Exception):
        pass

    def articles():
        yield corpus[0]
        raise Broken

    with pytest.raises(Broken):
        store.articles.upsert_many(articles())
    assert store.articles.count() == 0


def test_links_resolve_by_headline_and_survive_updates(store, corpus):
    store.articles.upsert_many(corpus)
    counts = resolve_store(store)
    assert counts == {"links": 6, "resolved": 6, "unresolved": 0}
    assert store.articles.get("storm-3").read_also[0].target_id == "storm-1"
    assert store.links.inbound_counts()["storm-1"] == 2


def test_links_to_later_articles_resolve_when_they_arrive(store):
    link = ReadAlsoLink("A later follow-up story")
    store.articles.upsert(Article(id="a", headline="Early report", read_also=(link,)))
    assert resolve_store(store)["unresolved"] == 1
    store.articles.upsert(Article(id="b", headline="A later follow-up story"))
    assert resolve_store(store)["resolved"] == 1


def test_opening_a_missing_store_without_create_fails_clearly(tmp_path):
    with pytest.raises(StoreError, match="no store"):
        Store(tmp_path / "missing.db", create=False)


def test_store_is_plain_sqlite(tmp_path, corpus):
    with Store(tmp_path / "s.db") as store:
        store.articles.upsert_many(corpus)
    rows = sqlite3.connect(tmp_path / "s.db").execute("SELECT count(*) FROM read_also").fetchone()
    assert rows == (6,)


def test_publication_dates_in_the_formats_newsrooms_print():
    from recommender.articles import ArticleError, parse_datetime

    assert parse_datetime("2026-11-27T08:15:00Z").isoformat() == "2026-11-27T08:15:00+00:00"
    assert parse_datetime("Fri, 27 Nov 2026 09:15:00 +0100").isoformat() == "2026-11-27T08:15:00+00:00"
    assert parse_datetime("26-FEB-1987 15:01:01.79").isoformat() == "1987-02-26T15:01:01.790000+00:00"
    assert parse_datetime("2017/2/7").isoformat() == "2017-02-07T00:00:00+00:00"
    with pytest.raises(ArticleError, match="not a date"):
        parse_datetime("next Tuesday")
