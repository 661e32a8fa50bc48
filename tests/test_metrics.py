"""Metrics against values worked out by hand (the arithmetic is in the comments)."""

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from recommender.evaluation import metrics as m
from recommender.evaluation.stats import bootstrap_ci, paired_test, significance_mark

RANKED = ["a", "b", "c", "d", "e"]
RELEVANT = {"a", "c", "x"}  # x is never retrieved


def test_precision_at_k():
    # top-3 = a b c -> hits a, c -> 2/3
    assert m.precision_at_k(RANKED, RELEVANT, 3) == pytest.approx(2 / 3)
    # k beyond the list: empty slots are misses: 2 hits / 10
    assert m.precision_at_k(RANKED, RELEVANT, 10) == pytest.approx(0.2)


def test_recall_and_hit_rate():
    # 2 of the 3 relevant items are in the top 5
    assert m.recall_at_k(RANKED, RELEVANT, 5) == pytest.approx(2 / 3)
    # top-1 = a -> 1 of 3
    assert m.recall_at_k(RANKED, RELEVANT, 1) == pytest.approx(1 / 3)
    assert m.hit_rate_at_k(["b", "d"], RELEVANT, 2) == 0.0
    assert m.hit_rate_at_k(["b", "c"], RELEVANT, 2) == 1.0


def test_reciprocal_rank():
    # first relevant item c at rank 3 -> 1/3
    assert m.reciprocal_rank(["b", "d", "c"], RELEVANT) == pytest.approx(1 / 3)
    assert m.reciprocal_rank(["b", "d", "c"], RELEVANT, k=2) == 0.0


def test_average_precision():
    # relevant at ranks 1 and 3: P@1 = 1, P@3 = 2/3; divided by |relevant| = 3
    # AP = (1 + 2/3) / 3 = 5/9
    assert m.average_precision(RANKED, RELEVANT) == pytest.approx(5 / 9)
    # a duplicate of a relevant item does not count twice: ranks 1 and 3 -> (1 + 2/3) / 2 = 5/6
    assert m.average_precision(["a", "a", "c"], {"a", "c"}) == pytest.approx(5 / 6)


def test_ndcg_graded_by_hand():
    grades = {"a": 2, "c": 1, "x": 2}
    # ranking a b c: gains 2^2-1 = 3, 0, 2^1-1 = 1; discounts log2(2)=1, log2(3), log2(4)=2
    dcg = 3 / 1 + 0 + 1 / 2
    # ideal order of all judged grades 2, 2, 1: 3/1 + 3/log2(3) + 1/2
    ideal = 3 + 3 / math.log2(3) + 1 / 2
    assert m.ndcg_at_k(["a", "b", "c"], grades, 3) == pytest.approx(dcg / ideal)  # = 3.5 / 5.3928 = 0.6490
    assert m.ndcg_at_k(["a", "b", "c"], grades, 3) == pytest.approx(0.64901, abs=1e-4)
    # k = 1: DCG = 3, ideal DCG = 3 -> 1.0
    assert m.ndcg_at_k(["a", "b", "c"], grades, 1) == 1.0
    assert m.ndcg_at_k(["b"], grades, 1) == 0.0


def test_ndcg_binary_matches_textbook_value():
    # relevant at ranks 2 and 3 of 3, two relevant: DCG = 1/log2(3) + 1/2 = 0.6309 + 0.5 = 1.1309
    # IDCG = 1 + 1/log2(3) = 1.6309 -> 0.6934
    assert m.ndcg_at_k(["z", "p", "q"], {"p", "q"}, 3) == pytest.approx(1.13093 / 1.63093, abs=1e-5)


def test_empty_relevance_and_bad_k():
    assert m.recall_at_k(RANKED, set(), 5) == 0.0
    assert m.ndcg_at_k(RANKED, {}, 5) == 0.0
    with pytest.raises(ValueError, match="k must be"):
        m.recall_at_k(RANKED, RELEVANT, 0)


def test_catalogue_coverage():
    # lists show a, b, c, b -> 3 distinct of a catalogue of 6 = 0.5
    assert m.catalogue_coverage([["a", "b"], ["c", "b"]], 6) == 0.5
    with pytest.raises(ValueError, match="catalogue_size"):
        m.catalogue_coverage([], 0)


def test_intra_list_diversity():
    # three unit vectors: e1, e1, e2 -> cosines (1,2)=1, (1,3)=0, (2,3)=0 -> distances 0, 1, 1 -> mean 2/3
    vectors = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 3.0]])
    assert m.intra_list_diversity(vectors) == pytest.approx(2 / 3)
    assert math.isnan(m.intra_list_diversity(vectors[:1]))


def test_novelty():
    # 7 events; a seen 3 times, b never: p(a) = 4/8 -> 1 bit, p(b) = 1/8 -> 3 bits; mean 2
    assert m.novelty(["a", "b"], {"a": 3}, 7) == pytest.approx(2.0)


def test_freshness_days():
    query = datetime(2020, 1, 10, tzinfo=UTC)
    items = [query - timedelta(days=4), query + timedelta(days=1), None]
    # ages -4 and +1 days (the undated item is skipped) -> mean -1.5
    assert m.freshness_days(query, items) == pytest.approx(-1.5)
    assert math.isnan(m.freshness_days(None, items))


def test_mind_impression_metrics_by_hand():
    labels = [0, 1, 0, 1]
    scores = [0.9, 0.8, 0.1, 0.3]
    # ordered by score: 0.9 (no click), 0.8 (click), 0.3 (click), 0.1 (no click)
    # AUC: positive 0.8 beats 0.1 only; positive 0.3 beats 0.1 only -> 2 of 4 pairs = 0.5
    assert m.impression_auc(labels, scores) == 0.5
    # MIND MRR: clicked at ranks 2 and 3: (1/2 + 1/3) / 2 = 5/12
    assert m.impression_mrr(labels, scores) == pytest.approx(5 / 12)
    # nDCG@5: DCG = 1/log2(3) + 1/log2(4) = 0.63093 + 0.5; IDCG = 1 + 0.63093 -> 0.69344
    assert m.impression_ndcg(labels, scores, 5) == pytest.approx((1 / math.log2(3) + 0.5) / (1 + 1 / math.log2(3)))
    # nDCG@1: top item not clicked -> 0
    assert m.impression_ndcg(labels, scores, 1) == 0.0
    # ties count half in the AUC: one positive, one negative, same score
    assert m.impression_auc([1, 0], [0.5, 0.5]) == 0.5
    with pytest.raises(ValueError, match="clicked"):
        m.impression_auc([1, 1], [0.1, 0.2])


def test_bootstrap_interval_is_seeded_and_contains_the_mean():
    values = [0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 0.0]
    first = bootstrap_ci(values, seed=3)
    assert first == bootstrap_ci(values, seed=3)
    assert first.mean == pytest.approx(5 / 8)
    assert first.low < 5 / 8 < first.high
    assert bootstrap_ci([0.4, 0.4]) == (0.4, 0.4, 0.4)
    assert math.isnan(bootstrap_ci([math.nan]).mean)


def test_paired_test():
    a = [0.9, 0.8, 0.85, 0.95, 0.7, 0.9, 0.88, 0.91, 0.83, 0.87]
    b = [x - 0.2 for x in a]
    result = paired_test(a, b)
    # every difference is +0.2 -> mean 0.2, interval a point, Wilcoxon p = 2 / 2^10 ~ 0.002
    assert result.diff == pytest.approx(0.2)
    assert result.p_value < 0.01
    assert paired_test(a, a).p_value == 1.0
    assert significance_mark(0.0005) == "***" and significance_mark(0.2) == ""
