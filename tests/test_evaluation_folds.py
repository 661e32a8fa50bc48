"""Cross-validated held-out links: folds grouped by linking article, nothing hidden leaks, results pooled."""

from collections import Counter

import numpy as np
import pytest
from rapidfuzz import fuzz

from recommender.articles import normalise_headline
from recommender.engine import Engine
from recommender.evaluation import datasets, harness
from recommender.evaluation.baselines import PlainTfidfRanker, RandomRanker
from recommender.evaluation.runner import DEFAULT_DATA_DIR
from recommender.evaluation.stats import paired_test
from recommender.links import LinkResolver
from tests.linked_corpus import linked_corpus


def _links(articles):
    return {(a.id, link.target_id): link.headline for a in articles for link in a.read_also if link.target_id}


def test_every_link_is_hidden_in_exactly_one_fold_with_its_anchor_text():
    articles = linked_corpus(days=30)
    links = _links(articles)
    folds = datasets.link_folds(articles, folds=4, seed=1)
    assert len(folds) == 4
    truth = Counter((query, target) for task in folds for query, grades in task.relevance.items() for target in grades)
    assert set(truth) == set(links) and set(truth.values()) == {1}  # every link tested exactly once
    queries = [q for task in folds for q in task.relevance]
    assert len(queries) == len(set(queries)) == len({source for source, _ in links})  # grouped by linking article
    for task in folds:
        by_id = {a.id: a for a in task.articles}
        assert [a.id for a in task.articles] == [a.id for a in articles]
        for query in task.relevance:
            # all of a query's links are gone, anchor headline included: nothing of them reaches a ranker
            assert by_id[query].read_also == ()
        visible = _links(task.articles)
        assert visible == {pair: text for pair, text in links.items() if pair[0] not in task.relevance}
        assert task.popularity == dict(Counter(target for _, target in visible))


def test_fold_engine_learns_only_from_the_other_folds_links():
    articles = linked_corpus(days=40)
    for task in datasets.link_folds(articles, folds=3, seed=0):
        engine = Engine().fit(list(task.articles))
        row_of = engine.index.row_of
        hidden = {(row_of[q], row_of[t]) for q, grades in task.relevance.items() for t in grades}
        assert engine.model is not None and hidden.isdisjoint(engine.graph.pairs())
        for query in task.relevance:  # its link text is only what the others' visible links call it
            inbound = " ".join(link.headline for a in task.articles for link in a.read_also if link.target_id == query)
            expected = engine.vectorizer.transform_texts([inbound], ["en"]).toarray()
            assert np.allclose(engine.fields["links"][row_of[query]].toarray(), expected)


def test_link_folds_checks_the_number_of_folds():
    articles = linked_corpus(days=10)
    with pytest.raises(ValueError, match=r"folds must be in 2..10"):
        datasets.link_folds(articles, folds=11)
    with pytest.raises(ValueError, match="got 1"):
        datasets.link_folds(articles, folds=1)


def test_pooled_result_is_the_harness_over_all_folds_queries():
    articles = linked_corpus(days=30)
    folds = datasets.link_folds(articles, folds=3, seed=0)
    options = dict(reference="tfidf", ks=(1, 5), depth=20, progress=False, n_resamples=200)
    systems = {"tfidf": PlainTfidfRanker(), "random": RandomRanker(seed=0)}
    results = [harness.evaluate_retrieval(task, systems, **options) for task in folds]
    pooled = harness.pool_retrieval(results, name="pooled", description="three folds", n_resamples=200)
    assert pooled["n_queries"] == sum(len(task.query_ids) for task in folds) == len(pooled["query_ids"])
    random_rr = [v for r in results for v in r["systems"]["random"]["per_query"]["mrr"]]
    tfidf_rr = [v for r in results for v in r["systems"]["tfidf"]["per_query"]["mrr"]]
    assert pooled["systems"]["random"]["per_query"]["mrr"] == random_rr
    assert pooled["systems"]["random"]["metrics"]["mrr"]["mean"] == pytest.approx(np.mean(random_rr))
    expected = paired_test(random_rr, tfidf_rr, n_resamples=200)
    paired = pooled["paired"]["random"]["mrr"]
    assert (paired["diff"], paired["p"], paired["n"]) == (pytest.approx(expected.diff), pytest.approx(expected.p_value),
                                                          len(tfidf_rr))
    assert [f["n_queries"] for f in pooled["folds"]] == [r["n_queries"] for r in results]
    with pytest.raises(ValueError, match="share a query"):
        harness.pool_retrieval([results[0], results[0]], name="twice", description="")


def test_readmore_folds_leave_no_near_copy_of_a_hidden_headline():
    if not (DEFAULT_DATA_DIR / "news-readmore").is_dir():
        pytest.skip(f"shared data set news-readmore not found under {DEFAULT_DATA_DIR}")
    articles, _ = datasets.news_readmore_articles(DEFAULT_DATA_DIR)
    resolver = LinkResolver().fit(articles)
    for task in datasets.link_folds(articles, folds=5, seed=0):
        by_id = {a.id: a for a in task.articles}
        resolved = [resolver.resolve_article(a) for a in task.articles]  # as the engine resolves them
        pairs = {(a.id, link.target_id) for a in resolved for link in a.read_also if link.target_id}
        for query, grades in task.relevance.items():
            for target in grades:
                assert (query, target) not in pairs
                wanted = normalise_headline(by_id[target].headline)
                assert all(fuzz.token_set_ratio(wanted, normalise_headline(link.headline)) < 90
                           for link in by_id[query].read_also)
                assert by_id[target].headline not in by_id[query].body
