"""Ranking metrics as small pure functions.

Conventions (the tests work each one out by hand):

* ``ranked`` is a sequence of ids, best first; ``relevant`` is a set of ids or a
  mapping ``id -> grade`` (grade > 0 means relevant). Only the first ``k`` items count.
* Precision@k divides by ``k`` even when fewer than ``k`` items were returned
  (an empty slot is a miss), as trec_eval does.
* A query without relevant items has no defined recall, AP, nDCG or MRR: the
  functions return 0.0 and the harness leaves such queries out.
* nDCG uses the exponential gain ``2**grade - 1`` (Burges et al. 2005; the gain MIND
  uses) and the discount ``log2(rank + 1)``; the ideal ranking is built from *all*
  judged items, not only the retrieved ones.
* MIND impression metrics (:func:`impression_auc`, :func:`impression_mrr`,
  :func:`impression_ndcg`) follow the MIND benchmark's ``evaluate.py``: MRR there is the
  mean reciprocal rank of *all* clicked items, not of the first. Ties in scores are
  broken by candidate order (stable sort), where MIND's script leaves them to numpy's
  unstable sort.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

import numpy as np

__all__ = [
    "precision_at_k", "recall_at_k", "hit_rate_at_k", "reciprocal_rank", "average_precision",
    "dcg_at_k", "ndcg_at_k", "catalogue_coverage", "intra_list_diversity", "novelty",
    "freshness_days", "impression_auc", "impression_mrr", "impression_ndcg",
]


def _grades(relevant) -> dict:
    if isinstance(relevant, Mapping):
        return {key: float(value) for key, value in relevant.items() if value > 0}
    return {key: 1.0 for key in relevant}


def _check_k(k):
    if k is not None and (not isinstance(k, (int, np.integer)) or k < 1):
        raise ValueError(f"k must be a positive integer or None, got {k!r}")


def _top(ranked: Sequence, k) -> list:
    _check_k(k)
    return list(ranked) if k is None else list(ranked)[:k]


def precision_at_k(ranked: Sequence, relevant, k: int) -> float:
    """Fraction of the first ``k`` slots holding a relevant item."""
    if k is None:
        raise ValueError("precision_at_k needs a k, got None")
    grades = _grades(relevant)
    return sum(1 for item in _top(ranked, k) if item in grades) / k


def recall_at_k(ranked: Sequence, relevant, k: int | None) -> float:
    """Fraction of the relevant items found in the first ``k``."""
    grades = _grades(relevant)
    if not grades:
        return 0.0
    return sum(1 for item in set(_top(ranked, k)) if item in grades) / len(grades)


def hit_rate_at_k(ranked: Sequence, relevant, k: int | None) -> float:
    """1.0 when at least one relevant item is in the first ``k``, else 0.0."""
    grades = _grades(relevant)
    return float(any(item in grades for item in _top(ranked, k)))


def reciprocal_rank(ranked: Sequence, relevant, k: int | None = None) -> float:
    """1 / rank of the first relevant item (0.0 when none is in the first ``k``)."""
    grades = _grades(relevant)
    for position, item in enumerate(_top(ranked, k), start=1):
        if item in grades:
            return 1.0 / position
    return 0.0


def average_precision(ranked: Sequence, relevant, k: int | None = None) -> float:
    """Mean of precision@i over the ranks i of relevant items, divided by all relevant items."""
    grades = _grades(relevant)
    if not grades:
        return 0.0
    hits, total, seen = 0, 0.0, set()
    for position, item in enumerate(_top(ranked, k), start=1):
        if item in grades and item not in seen:
            seen.add(item)
            hits += 1
            total += hits / position
    return total / len(grades)


def dcg_at_k(gains: Sequence[float], k: int | None) -> float:
    """Discounted cumulative gain of already-graded positions: sum (2**g - 1) / log2(i + 1)."""
    values = np.asarray(_top(gains, k), dtype=float)
    if values.size == 0:
        return 0.0
    discounts = np.log2(np.arange(2, values.size + 2))
    return float(np.sum((2.0 ** values - 1.0) / discounts))


def ndcg_at_k(ranked: Sequence, relevant, k: int | None) -> float:
    """Graded nDCG@k: DCG of the ranking over DCG of the ideal ordering of all judged items."""
    grades = _grades(relevant)
    if not grades:
        return 0.0
    seen, gains = set(), []
    for item in _top(ranked, k):
        gains.append(grades.get(item, 0.0) if item not in seen else 0.0)
        seen.add(item)
    ideal = dcg_at_k(sorted(grades.values(), reverse=True), k)
    return dcg_at_k(gains, k) / ideal


def catalogue_coverage(lists: Iterable[Sequence], catalogue_size: int) -> float:
    """Share of the catalogue that appears in at least one recommendation list."""
    if catalogue_size < 1:
        raise ValueError(f"catalogue_size must be at least 1, got {catalogue_size}")
    shown: set[object] = set()
    for items in lists:
        shown.update(items)
    return len(shown) / catalogue_size


def intra_list_diversity(vectors) -> float:
    """Mean pairwise cosine distance (1 - cosine) between the items of one list.

    ``vectors`` is a dense array or scipy sparse matrix, one row per item. Lists with fewer
    than two items have no pairs: the result is NaN.
    """
    n = vectors.shape[0]
    if n < 2:
        return math.nan
    dense = vectors.toarray() if hasattr(vectors, "toarray") else np.asarray(vectors, dtype=float)
    norms = np.linalg.norm(dense, axis=1)
    norms[norms == 0] = 1.0
    unit = dense / norms[:, None]
    similarity = unit @ unit.T
    upper = similarity[np.triu_indices(n, k=1)]
    return float(np.mean(1.0 - upper))


def novelty(ranked: Sequence, popularity: Mapping, n_events: int) -> float:
    """Mean self-information -log2 p(i) of the items, p(i) = (count_i + 1) / (n_events + 1).

    ``popularity[i]`` is how often item i was consumed (clicked, linked, recommended) out of
    ``n_events``; add-one smoothing keeps never-seen items finite. Empty lists give NaN.
    """
    items = list(ranked)
    if not items:
        return math.nan
    if n_events < 0:
        raise ValueError(f"n_events must be non-negative, got {n_events}")
    values = [-math.log2((popularity.get(item, 0) + 1) / (n_events + 1)) for item in items]
    return float(np.mean(values))


def freshness_days(query_time: datetime | None, item_times: Iterable[datetime | None]) -> float:
    """Mean age of the recommended items relative to the query article, in days.

    Negative means older than the query (the usual case), positive newer. Items or queries
    without a date are skipped; NaN when nothing is left.
    """
    if query_time is None:
        return math.nan
    ages = [(moment - query_time).total_seconds() / 86400.0 for moment in item_times if moment is not None]
    return float(np.mean(ages)) if ages else math.nan


# --- MIND impression metrics -------------------------------------------------------------

def _impression(labels, scores):
    y_true = np.asarray(labels, dtype=float)
    y_score = np.asarray(scores, dtype=float)
    if y_true.shape != y_score.shape or y_true.ndim != 1:
        raise ValueError(f"labels and scores must be 1-D of equal length, got {y_true.shape} and {y_score.shape}")
    if not (0 < y_true.sum() < y_true.size):
        raise ValueError("an impression needs at least one clicked and one non-clicked item")
    return y_true, y_score


def impression_auc(labels, scores) -> float:
    """ROC AUC of one impression: probability a clicked item outscores a non-clicked one (ties 1/2)."""
    y_true, y_score = _impression(labels, scores)
    positive, negative = y_score[y_true > 0], y_score[y_true <= 0]
    greater = (positive[:, None] > negative[None, :]).sum()
    ties = (positive[:, None] == negative[None, :]).sum()
    return float((greater + 0.5 * ties) / (positive.size * negative.size))


def _ordered(y_true, y_score):
    order = np.argsort(-y_score, kind="stable")
    return y_true[order]


def impression_mrr(labels, scores) -> float:
    """MIND's MRR: sum over clicked items of 1/rank, divided by the number of clicked items."""
    y_true, y_score = _impression(labels, scores)
    ordered = _ordered(y_true, y_score)
    return float(np.sum(ordered / np.arange(1, ordered.size + 1)) / np.sum(ordered))


def impression_ndcg(labels, scores, k: int) -> float:
    """MIND's nDCG@k: gains 2**label - 1, discount log2(rank + 1), ideal = labels sorted."""
    y_true, y_score = _impression(labels, scores)
    _check_k(k)
    actual = dcg_at_k(_ordered(y_true, y_score), k)
    best = dcg_at_k(np.sort(y_true)[::-1].tolist(), k)
    return actual / best
