"""Pair features: each function against an answer computed by hand."""

import math

import numpy as np
import pytest
import scipy.sparse as sp

from recommender.articles import Article, site_of
from recommender.features import (
    FEATURES,
    LinkGraph,
    Query,
    age_days,
    log_count,
    near_duplicate,
    pair_features,
    recency,
    same_section,
    same_site,
)
from recommender.index import ArticleIndex

DAY = 86400.0


def unit(*values):
    row = np.asarray(values, dtype=np.float32)
    return sp.csr_matrix(row / np.linalg.norm(row))


def test_age_is_positive_for_older_candidates_and_nan_when_unknown():
    age = age_days(10 * DAY, np.array([7 * DAY, 12 * DAY, np.nan]))
    assert age[:2] == pytest.approx([3.0, -2.0])
    assert np.isnan(age[2])


def test_recency_halves_every_half_life_either_way_and_is_unknown_without_a_date():
    values = recency(np.array([0.0, 7.0, -14.0, np.nan]))
    assert values[:3] == pytest.approx([1.0, 0.5, 0.25])
    assert np.isnan(values[3])


def test_no_feature_tells_a_later_candidate_from_an_earlier_one():
    """Editors link only to what was already published; a later/earlier feature would learn that, not taste."""
    assert "newer" not in FEATURES
    assert recency(np.array([-3.0])) == pytest.approx(recency(np.array([3.0])))


def test_same_section_needs_a_known_section():
    sections = np.array(["world", "sport", ""], dtype=object)
    assert same_section("world", sections).tolist() == [1, 0, 0]
    assert same_section("", sections).tolist() == [0, 0, 0]


def test_same_site_compares_publications_and_needs_both():
    sites = np.array(["aljazeera.com", "bbc.co.uk", ""], dtype=object)
    assert same_site("aljazeera.com", sites)[:2].tolist() == [1, 0]
    assert np.isnan(same_site("aljazeera.com", sites)[2])  # unknown is not "another publication"
    assert np.isnan(same_site("", sites)).all()
    assert [site_of(u) for u in ("https://www.AlJazeera.com/news/x?a=1", "http://abcnews.go.com:80/x", "", None)] == [
        "aljazeera.com", "abcnews.go.com", "", ""]


def test_index_keeps_each_articles_site():
    articles = [Article(id="a", headline="a", url="https://www.bbc.co.uk/news/1"), Article(id="b", headline="b")]
    index = ArticleIndex.from_articles(articles, sp.identity(2, format="csr"))
    index.add([Article(id="c", headline="c", url="https://rte.ie/c")], sp.csr_matrix(([1.0], ([0], [1])), (1, 2)))
    assert index.sites.tolist() == ["bbc.co.uk", "", "rte.ie"]


def test_near_duplicate_and_log_count():
    assert near_duplicate(np.array([0.95, 0.9, 0.2]), 0.9).tolist() == [1, 1, 0]
    assert log_count(np.array([0, 1, 3])) == pytest.approx([0.0, math.log(2), math.log(4)])


@pytest.fixture
def graph():
    # 0 -> 2, 0 -> 3, 1 -> 2, 1 -> 3, 4 -> 2 ; published on days 0..4
    return LinkGraph.from_pairs([(0, 2), (0, 3), (1, 2), (1, 3), (4, 2), (2, 2)], np.arange(5) * DAY)


def test_in_links_count_distinct_sources_and_ignore_self_links(graph):
    assert graph.in_links(np.arange(5)).tolist() == [0, 0, 3, 2, 0]


def test_colinking_counts_articles_linking_both(graph):
    # 2 and 3 are both linked from 0 and 1; 2 is linked from 4 alone
    assert graph.colinking(2, np.arange(5)).tolist() == [0, 0, 3, 2, 0]
    assert graph.colinking(3, np.array([2])).tolist() == [2]
    assert graph.colinking(None, np.array([2])).tolist() == [0]


def test_trending_counts_links_from_the_window_before_the_moment(graph):
    # at day 1.5 with a one-day window only source 1 (day 1) counts
    assert graph.trending(1.5 * DAY, np.arange(5), window_days=1.0).tolist() == [0, 0, 1, 1, 0]
    assert graph.trending(np.nan, np.arange(5)).tolist() == [0] * 5


def test_graph_rejects_a_bad_shape():
    with pytest.raises(ValueError, match="n x n"):
        LinkGraph(sp.csr_matrix((2, 3)), np.zeros(2))


def test_pair_features_stack_the_columns_in_order(graph):
    matrix = sp.vstack([unit(1, 0, 0), unit(1, 0, 0), unit(1, 1, 0), unit(0, 0, 1), unit(0, 1, 0)]).tocsr()
    fields = {"headline": matrix, "body": matrix, "links": sp.vstack([unit(0, 0, 1)] * 5).tocsr()}
    query = Query(matrix[0], {"headline": matrix[0], "body": matrix[0], "links": unit(0, 0, 1)},
                  published=1 * DAY, section="world", row=3)
    sections = np.array(["world", "sport", "world", "", "world"], dtype=object)
    X = pair_features(query._replace(site="a.org"), np.array([2, 4]), matrix=matrix, fields=fields,
                      published=np.arange(5) * DAY, sections=sections, graph=graph, duplicate_threshold=0.9,
                      sites=np.array(["a.org", "", "b.org", "", "a.org"], dtype=object))
    assert X.shape == (2, len(FEATURES))
    row = dict(zip(FEATURES, X[0]))
    assert row["cosine"] == pytest.approx(math.sqrt(0.5), abs=1e-6)
    assert row["link_query"] == pytest.approx(0.0)
    assert row["link_candidate"] == pytest.approx(0.0)  # candidate's link text is (0, 0, 1), query (1, 0, 0)
    assert row["relatedness"] == row["cosine"]  # no expanded rows given: the article vectors
    assert row["recency"] == pytest.approx(0.5 ** (1 / 7))
    assert row["same_section"] == 1.0 and row["same_site"] == 0.0
    assert row["popularity"] == pytest.approx(math.log(4))
    assert row["colinking"] == pytest.approx(math.log(3))  # 0 and 1 link both 3 (the query row) and 2
    other = dict(zip(FEATURES, X[1]))
    assert other["cosine"] == pytest.approx(0.0) and other["popularity"] == 0.0 and other["same_site"] == 1.0
    unknown = pair_features(query, np.array([4]), matrix=matrix, fields=fields, published=np.arange(5) * DAY,
                            sections=sections, graph=graph, duplicate_threshold=0.9)  # no sites known
    assert np.isnan(dict(zip(FEATURES, unknown[0]))["same_site"])
