"""One contract, one suite: every ranker the harness runs passes the same tests."""

from collections import Counter
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from recommender.articles import Article, ReadAlsoLink
from recommender.engine import EngineConfig
from recommender.evaluation.baselines import (
    BM25MLTRanker,
    MostLinkedRanker,
    MostRecentRanker,
    PlainTfidfRanker,
    RandomRanker,
    mlt_terms,
)
from recommender.evaluation.systems import EngineRanker

START = datetime(2024, 3, 1, tzinfo=UTC)
TOPICS = {
    "flood": "river flood rain water levels rescue teams evacuate homes flood defences river",
    "budget": "finance minister budget tax spending deficit parliament vote budget tax",
    "football": "football club match goal striker league title coach football goal",
}


def planted_corpus() -> list[Article]:
    """Three stories of four articles each; each article links to the next of its story."""
    articles = []
    for t, (topic, words) in enumerate(TOPICS.items()):
        for i in range(4):
            link = ReadAlsoLink(headline=f"{topic} update {i + 1}", target_id=f"{topic}-{(i + 1) % 4}")
            articles.append(Article(id=f"{topic}-{i}", headline=f"{topic} update {i}", body=f"{words} day {i}",
                                    published_at=START + timedelta(days=3 * i + t), read_also=(link,)))
    return articles


def _engine_ranker():
    return EngineRanker(config=EngineConfig(min_df=1, max_df=1.0))


FACTORIES = {
    "random": lambda: RandomRanker(seed=1),
    "most-recent": MostRecentRanker,
    "most-linked": MostLinkedRanker,
    "tfidf": PlainTfidfRanker,
    "bm25-mlt": lambda: BM25MLTRanker(min_doc_freq=1, min_term_freq=1),
    "engine": _engine_ranker,
}


@pytest.fixture(params=list(FACTORIES))
def ranker(request):
    """A fresh, unfitted ranker of each kind."""
    return FACTORIES[request.param]()


@pytest.fixture
def corpus():
    return planted_corpus()


def test_fit_returns_self(ranker, corpus):
    assert ranker.fit(corpus) is ranker


def test_rank_shape_no_self_sorted(ranker, corpus):
    ranker.fit(corpus)
    for article in corpus:
        ranked = ranker.rank(article.id, k=5)
        assert len(ranked.ids) == len(ranked.scores) <= 5
        assert article.id not in ranked.ids
        assert len(set(ranked.ids)) == len(ranked.ids)
        assert set(ranked.ids) <= {a.id for a in corpus}
        assert np.all(np.diff(ranked.scores) <= 1e-12)


def test_rank_is_deterministic(ranker, corpus):
    first = ranker.fit(corpus).rank("flood-1", k=6)
    second = ranker.fit(corpus).rank("flood-1", k=6)
    assert first.ids == second.ids


def test_bad_arguments_name_the_value(ranker, corpus):
    ranker.fit(corpus)
    with pytest.raises(KeyError, match="nope"):
        ranker.rank("nope", k=3)
    with pytest.raises(ValueError, match="k must"):
        ranker.rank("flood-0", k=0)


def test_unfitted_fails_clearly(ranker):
    with pytest.raises(NotFittedError):
        ranker.rank("flood-0", k=3)


def test_score_agrees_with_rank_order(ranker, corpus):
    ranker.fit(corpus)
    ranked = ranker.rank("budget-2", k=4)
    scores = ranker.score("budget-2", ranked.ids)
    assert scores.shape == (len(ranked.ids),)
    assert np.all(np.diff(scores) <= 1e-9)


def test_text_rankers_find_the_planted_story(corpus):
    for ranker in (PlainTfidfRanker(), BM25MLTRanker(min_doc_freq=1, min_term_freq=1)):
        ranked = ranker.fit(corpus).rank("football-0", k=3)
        assert {i.split("-")[0] for i in ranked.ids} == {"football"}, ranker.name


def test_most_recent_only_looks_back(corpus):
    ranked = MostRecentRanker().fit(corpus).rank("budget-1", k=20)
    query_time = next(a.published_at for a in corpus if a.id == "budget-1")
    times = {a.id: a.published_at for a in corpus}
    assert ranked.ids and all(times[i] <= query_time for i in ranked.ids)
    assert [times[i] for i in ranked.ids] == sorted((times[i] for i in ranked.ids), reverse=True)


def test_most_linked_puts_the_most_linked_first():
    articles = planted_corpus()
    extra = [a.with_links((*a.read_also, ReadAlsoLink(headline="x", target_id="budget-3"))) for a in articles[:3]]
    articles = extra + articles[3:]
    ranked = MostLinkedRanker().fit(articles).rank("flood-0", k=2)
    assert ranked.ids[0] == "budget-3"  # 3 extra in-links + its own story's link


def test_mlt_terms_follow_elasticsearch_defaults():
    counts = Counter({"flood": 3, "river": 2, "the": 5, "rare": 1})
    doc_freq = {"flood": 5, "river": 8, "the": 100, "rare": 6}
    # tf * (1 + ln(N / (df + 1))) with N = 100: flood 3 * (1 + ln(100/6)) = 11.44; river 2 * (1 + ln(100/9)) = 6.82;
    # the 5 * (1 + ln(100/101)) = 4.95; rare has tf 1 < min_term_freq 2
    assert mlt_terms(counts, doc_freq, 100) == ["flood", "river", "the"]
    assert mlt_terms(counts, doc_freq, 100, max_query_terms=1) == ["flood"]
    assert mlt_terms(counts, {**doc_freq, "flood": 4}, 100) == ["river", "the"]  # df 4 < min_doc_freq 5


def test_tfidf_similarity():
    ranker = PlainTfidfRanker().fit(planted_corpus())
    assert ranker.similarity("river flood", "river flood") == pytest.approx(1.0)
    assert ranker.similarity("river flood", "budget tax") == 0.0
    with pytest.raises(NotImplementedError):
        RandomRanker().fit(planted_corpus()).similarity("a", "b")
