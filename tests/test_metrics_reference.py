"""Every ranking metric of ``recommender.evaluation.metrics`` against a standard implementation.

trec_eval (through ``pytrec_eval``, the TREC reference evaluator) for the ranking metrics, and
scikit-learn for the MIND impression metrics, on random rankings and graded judgements.
``test_metrics.py`` works small cases out by hand; this checks the same functions agree with
the tools the IR community reports numbers with. Where conventions differ, the test maps them
explicitly rather than loosening a tolerance:

* trec_eval's nDCG takes a judgement's grade as its gain; ours uses ``2**grade - 1``, so the
  judgements handed to trec_eval carry that gain as their (integer) grade.
* trec_eval has no cutoff for reciprocal rank: the run it sees is cut at ``k`` instead.
* trec_eval orders a run by score and breaks ties by document id: the scores given are distinct.
* Queries without a relevant item are left out, as both we and the evaluation harness do.

Freshness, coverage, diversity and novelty are the project's own measures and stay hand-tested.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recommender.evaluation import metrics as m

pytrec_eval = pytest.importorskip("pytrec_eval", reason="needs pytrec-eval-terrier (pip install -e '.[test]')")

CUTOFFS = (1, 2, 3, 5, 10)
POOL = [f"d{i}" for i in range(14)]


@st.composite
def judged_rankings(draw):
    """A ranking of distinct ids (possibly empty) and graded judgements with at least one relevant item."""
    ranked = draw(st.lists(st.sampled_from(POOL), unique=True, max_size=12))
    judged = draw(st.dictionaries(st.sampled_from(POOL), st.integers(0, 3), min_size=1, max_size=10))
    if not any(grade > 0 for grade in judged.values()):
        judged[draw(st.sampled_from(POOL))] = draw(st.integers(1, 3))
    return ranked, judged


def trec_eval(ranked: list[str], judged: dict[str, int], measures: set[str], *, gain=lambda grade: grade) -> dict:
    qrels = {"q": {doc: int(gain(grade)) for doc, grade in judged.items()}}
    run = {"q": {doc: float(len(ranked) - rank) for rank, doc in enumerate(ranked)}}  # distinct, best first
    if not ranked:  # trec_eval needs a run line; a judged non-relevant placeholder ranks nowhere useful
        run = {"q": {"__none__": 0.0}}
    return pytrec_eval.RelevanceEvaluator(qrels, measures).evaluate(run)["q"]


@settings(max_examples=300, deadline=None)
@given(judged_rankings())
def test_precision_recall_success_map_agree_with_trec_eval(case):
    ranked, judged = case
    cuts = ",".join(map(str, CUTOFFS))
    reference = trec_eval(ranked, judged, {f"P.{cuts}", f"recall.{cuts}", f"success.{cuts}", f"map_cut.{cuts}", "map"})
    for k in CUTOFFS:
        assert m.precision_at_k(ranked, judged, k) == pytest.approx(reference[f"P_{k}"], abs=1e-12)
        assert m.recall_at_k(ranked, judged, k) == pytest.approx(reference[f"recall_{k}"], abs=1e-12)
        assert m.hit_rate_at_k(ranked, judged, k) == pytest.approx(reference[f"success_{k}"], abs=1e-12)
        assert m.average_precision(ranked, judged, k) == pytest.approx(reference[f"map_cut_{k}"], abs=1e-12)
    assert m.average_precision(ranked, judged) == pytest.approx(reference["map"], abs=1e-12)
    # A set of relevant ids is the binary case of the same judgements.
    relevant = {doc for doc, grade in judged.items() if grade > 0}
    assert m.average_precision(ranked, relevant) == pytest.approx(reference["map"], abs=1e-12)


@settings(max_examples=300, deadline=None)
@given(judged_rankings())
def test_reciprocal_rank_agrees_with_trec_eval(case):
    ranked, judged = case
    assert m.reciprocal_rank(ranked, judged) == pytest.approx(
        trec_eval(ranked, judged, {"recip_rank"})["recip_rank"], abs=1e-12)
    for k in CUTOFFS:
        cut = ranked[:k]
        expected = trec_eval(cut, judged, {"recip_rank"})["recip_rank"] if cut else 0.0
        assert m.reciprocal_rank(ranked, judged, k) == pytest.approx(expected, abs=1e-12)


@settings(max_examples=300, deadline=None)
@given(judged_rankings())
def test_graded_ndcg_agrees_with_trec_eval(case):
    ranked, judged = case
    cuts = ",".join(map(str, CUTOFFS))
    reference = trec_eval(ranked, judged, {f"ndcg_cut.{cuts}", "ndcg"}, gain=lambda grade: 2 ** grade - 1)
    for k in CUTOFFS:
        assert m.ndcg_at_k(ranked, judged, k) == pytest.approx(reference[f"ndcg_cut_{k}"], abs=1e-9)
    assert m.ndcg_at_k(ranked, judged, None) == pytest.approx(reference["ndcg"], abs=1e-9)


# --- MIND impression metrics against scikit-learn ----------------------------------------------

@st.composite
def impressions(draw):
    """Click labels (at least one click and one non-click) and distinct scores for one impression."""
    n = draw(st.integers(2, 20))
    labels = draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))
    labels[0], labels[-1] = 1, 0
    labels = draw(st.permutations(labels))
    scores = draw(st.lists(st.integers(-1000, 1000), min_size=n, max_size=n, unique=True))
    return labels, [s / 100 for s in scores]


@settings(max_examples=300, deadline=None)
@given(impressions(), st.booleans())
def test_impression_auc_agrees_with_scikit_learn(impression, tied):
    from sklearn.metrics import roc_auc_score

    labels, scores = impression
    if tied:  # ties count one half in both
        scores = [round(s) for s in scores]
    assert m.impression_auc(labels, scores) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)


@settings(max_examples=300, deadline=None)
@given(impressions(), st.sampled_from([1, 3, 5, 10, None]))
def test_impression_ndcg_and_dcg_agree_with_scikit_learn(impression, k):
    import numpy as np
    from sklearn.metrics import dcg_score, ndcg_score

    labels, scores = impression
    k = k or len(labels)
    # Clicks are grades 0/1, where 2**grade - 1 equals the grade: scikit-learn's linear gain is the same.
    assert m.impression_ndcg(labels, scores, k) == pytest.approx(ndcg_score([labels], [scores], k=k), abs=1e-12)
    grades = np.asarray(labels, dtype=float) * np.arange(1, len(labels) + 1) % 4  # graded 0..3
    ordered = grades[np.argsort(-np.asarray(scores), kind="stable")]
    assert m.dcg_at_k(ordered, k) == pytest.approx(dcg_score([2 ** grades - 1], [scores], k=k), abs=1e-9)
