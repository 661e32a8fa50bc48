"""The candidates a ranking considers: the top of the one cosine search, plus the stories editors link to
most that the search missed. Serving and training draw them alike, so the link model learns on the
candidates it will rank."""

from __future__ import annotations

import numpy as np

from recommender.cosine import row_dots
from recommender.features import LinkGraph, Query
from recommender.index import ArticleIndex

CANDIDATE_POOL = 100
"""Cosine candidates the link model considers for one article."""
PRIOR_CANDIDATES = 20
"""Editors' favourites (trending, then most linked) added when the cosine search missed them."""


def candidate_count(k: int) -> int:
    """How many cosine candidates feed the final top-k (room for copies and diversity)."""
    return 4 * k + 10


def search_depth(k: int, model: bool) -> int:
    """How deep the first search of a ranking goes: with the link model, deep enough for its pool too."""
    return max(candidate_count(k), CANDIDATE_POOL) if model else candidate_count(k)


def prior_rows(graph: LinkGraph, moment: float, mask: np.ndarray, n: int) -> np.ndarray:
    """Up to ``n`` allowed rows editors link to most: trending around ``moment`` first, then all-time in-links."""
    if n < 1 or len(graph) == 0:
        return np.zeros(0, dtype=np.int64)
    return graph.favourites(moment, mask, n)


def with_priors(index: ArticleIndex, graph: LinkGraph | None, query: Query, mask: np.ndarray, rows: np.ndarray,
                relatedness: np.ndarray, pool: int = CANDIDATE_POOL,
                extras: int = PRIOR_CANDIDATES) -> tuple[np.ndarray, np.ndarray]:
    """The first ``pool`` searched rows (best first) plus prior rows the search missed, with their relatedness."""
    rows = np.asarray(rows, dtype=np.int64)[:pool]
    relatedness = np.asarray(relatedness, dtype=np.float64)[:pool]
    if graph is not None and extras:
        rest = mask.copy()
        rest[rows] = False
        more = prior_rows(graph, query.published, rest, extras)
        if more.size:
            rows = np.concatenate([rows, more])
            relatedness = np.concatenate([relatedness, row_dots(index.expanded, more, query.search_vector)])
    return rows, relatedness


__all__ = ["CANDIDATE_POOL", "PRIOR_CANDIDATES", "candidate_count", "search_depth", "prior_rows", "with_priors"]
