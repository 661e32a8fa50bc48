"""The one ranking pipeline: live queries, batch scoring, reading lists and evaluation all rank here.

For a block of queries that share the allowed rows (a live query is a block of one)::

    search      the one top-k kernel over the neighbour-expanded rows (recommender.cosine)
    candidates  editors' favourites the search missed, with the link model (recommender.candidates)
    score       the link model orders candidates within the relatedness floor (ranking.bounded_editor_share)
    shape       editors' blocks out, copies of the query out, near-copies collapsed, diversity, pins first
    explain     the picks as a Ranking, each with the reasons that set it apart

The search deepens until k stories survive the shaping, however many near-copies crowd the top.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from recommender.candidates import search_depth, with_priors
from recommender.catalogue import Feedback
from recommender.cosine import Row, block_dots, row_dots
from recommender.features import FEATURES, Query, age_days, pair_features
from recommender.ranking import (
    Ranking,
    Recommendation,
    bounded_editor_share,
    collapse_near_duplicates,
    describe,
    editor_reason,
    maximal_marginal_relevance,
    shared_terms_of_rows,
    timing,
)

if TYPE_CHECKING:
    from recommender.engine import Engine


def rank(engine: Engine, queries: Sequence[Query], k: int, mask: np.ndarray, *, diversity: float = 0.0,
         n_threads: int | None = 1, vectors: sp.csr_matrix | None = None) -> list[Ranking]:
    """The top-k of each query among the rows ``mask`` allows (a stored query's own row never).

    ``vectors`` are the queries' search rows stacked, when the caller has them (batch: a slice of the index).
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if not queries:
        return []
    depth = search_depth(k, engine.model_active)
    exclude = np.asarray([-1 if q.row is None else q.row for q in queries], dtype=np.int64)
    if vectors is None:
        vectors = (queries[0].search_vector if len(queries) == 1
                   else sp.vstack([q.search_vector.csr() for q in queries], format="csr"))
    hits = search(engine, vectors, depth, mask, exclude, n_threads)
    rankings = []
    for i, query in enumerate(queries):
        own = query.row is not None and bool(mask[query.row])
        if own:  # the query's own row is never a candidate: masked for its turn only (no copy per query)
            mask[query.row] = False
        try:
            rankings.append(_ranked(engine, query, hits.indices[i], hits.scores[i], depth, k, mask, diversity,
                                    n_threads))
        finally:
            if own:
                mask[query.row] = True
    return rankings


def _ranked(engine: Engine, query: Query, indices: np.ndarray, scores: np.ndarray, depth: int, k: int,
            mask: np.ndarray, diversity: float, n_threads: int | None) -> Ranking:
    """One query's ranking from its search hits, searching deeper while near-copies crowd the top."""
    found = indices >= 0
    rows, scores, deeper = indices[found], scores[found], depth
    while True:
        ranking = shape(engine, query, rows, scores, k, mask, diversity=diversity)
        if len(ranking) >= k or rows.size < deeper:
            break
        deeper *= 4  # near-copies crowd the top: search deeper for this query alone
        more = search(engine, query.search_vector, deeper, mask, None, n_threads)
        found = more.indices[0] >= 0
        rows, scores = more.indices[0][found], more.scores[0][found]
    exact = engine.config.query_terms is None
    reach = float(scores[-1]) if exact and rows.size == deeper else 0.0  # else any related article enters
    return replace(ranking, reach=reach)


def search(engine: Engine, vectors: sp.csr_matrix, depth: int, mask: np.ndarray, exclude: np.ndarray | None,
           n_threads: int | None):
    """Candidates by relatedness: the index's top-k kernel over the search rows."""
    return engine.index.search(vectors, depth, mask, exclude=exclude, max_terms=engine.config.query_terms,
                               n_threads=n_threads)


def shape(engine: Engine, query: Query, rows: np.ndarray, relatedness: np.ndarray, k: int, mask: np.ndarray, *,
          diversity: float = 0.0) -> Ranking:
    """Candidates searched by relatedness (best first, at least ``search_depth`` of them when there are that
    many) into the final top-k: the candidates, score, shape and explain steps."""
    config, index = engine.config, engine.index
    rows = np.asarray(rows, dtype=np.int64)
    relatedness = np.asarray(relatedness, dtype=np.float64)
    feedback = engine.catalogue.feedback_for(query.id) if query.id else None
    model, graph = (engine.model, engine.graph) if engine.model_active else (None, None)
    if model is not None:  # the model also considers what editors like that relatedness missed
        rows, relatedness = with_priors(index, graph, query, mask, rows, relatedness)
    if feedback is not None and feedback.blocks:
        keep = np.asarray([index.ids[r] not in feedback.blocks for r in rows], dtype=bool)
        rows, relatedness = rows[keep], relatedness[keep]
    if config.collapse_duplicates:  # wire copies of the query itself
        keep = copy_similarity(engine, query, rows) < config.duplicate_threshold
        rows, relatedness = rows[keep], relatedness[keep]
    order_by, probability, features = relatedness, None, None
    if model is not None and graph is not None and rows.size:
        features = pair_features(query, rows, matrix=index.matrix, fields=engine.fields, published=index.published,
                                 sections=index.sections, graph=graph,
                                 duplicate_threshold=config.duplicate_threshold, sites=index.sites,
                                 expanded=index.expanded, relatedness=relatedness)
        relatedness = features[:, FEATURES.index("relatedness")]
        probability = model.predict_proba(features)
        order_by = model.score(features, probability)
        order = bounded_editor_share(order_by, relatedness, rows, floor=config.relatedness_floor,
                                     mix=config.editor_mix)
        rows, relatedness, order_by = rows[order], relatedness[order], order_by[order]
        probability, features = probability[order], features[order]
    positions = shortlist(engine, rows, order_by, k, diversity)
    ranking = explain(engine, query, rows[positions], relatedness[positions],
                      None if probability is None else probability[positions],
                      None if features is None else features[positions])
    if feedback is not None and feedback.pins:
        ranking = pinned(engine, ranking, feedback, query, mask, k)
    return ranking


def copy_similarity(engine: Engine, query: Query, rows: np.ndarray) -> np.ndarray:
    """Cosine of the candidates' bodies with the query's body: how much each is a copy of it."""
    index = engine.index
    if query.row is not None:
        body = Row.of(index.copies, query.row)
    elif query.fields.get("body") is not None and query.fields["body"].nnz:
        body = query.fields["body"]  # unseen text: the body it was given
    else:
        body = query.vector
    return row_dots(index.copies, rows, body)


def originals(engine: Engine, rows: np.ndarray) -> np.ndarray:
    """Positions of ``rows`` (in priority order) that are no copy of an earlier one (the engine's duplicate test)."""
    rows = np.asarray(rows, dtype=np.int64)
    if not engine.config.collapse_duplicates or rows.size == 0:
        return np.arange(rows.size)
    copies = block_dots(engine.index.copies, rows, lower=True)  # each candidate against the ones before it
    return np.asarray(collapse_near_duplicates(list(range(rows.size)), copies, engine.config.duplicate_threshold),
                      dtype=np.int64)


def shortlist(engine: Engine, rows: np.ndarray, scores: np.ndarray, k: int, diversity: float) -> np.ndarray:
    """Positions of the final top-k among ranked candidates: near-copies collapsed, then diversified.

    Without diversity only the head of the list is compared (a copy decision depends only on earlier
    candidates), and all of it only when the head loses too many to collapse.
    """
    if diversity == 0 and not engine.config.collapse_duplicates:
        return np.arange(min(k, rows.size))
    head = rows.size if diversity > 0 else min(rows.size, 2 * k + 2)
    while True:
        positions = originals(engine, rows[:head])
        if positions.size >= k or head == rows.size:
            break
        head = rows.size
    if diversity > 0:
        similarity = block_dots(engine.index.matrix, rows[positions])
        positions = positions[maximal_marginal_relevance(scores[positions], similarity, k, diversity)]
    return positions[:k]


def explain(engine: Engine, query: Query, rows: np.ndarray, relatedness: np.ndarray, probability: np.ndarray | None,
            features: np.ndarray | None) -> Ranking:
    """The picks as a :class:`Ranking`, each with the reasons that set it apart."""
    index = engine.index
    shared = shared_terms_of_rows(query.vector, index.matrix, rows, engine.terms)
    days = (-age_days(query.published, index.published[rows])).tolist()
    graph = engine.graph
    linked = (graph.linked(query.row, rows) if graph is not None else np.zeros(rows.size, dtype=bool)).tolist()
    none = [0.0] * rows.size
    colinking, popularity = ((features[:, FEATURES.index(name)].tolist() for name in ("colinking", "popularity"))
                             if features is not None else (none, none))
    probabilities = [None] * rows.size if probability is None else [round(p, 6) for p in probability.tolist()]
    items = []
    for i, row in enumerate(rows.tolist()):
        extra = [timing(days[i]), editor_reason(linked[i], colinking[i], popularity[i])]
        items.append(Recommendation(index.ids[row], round(float(relatedness[i]), 6),
                                    describe(shared[i], [e for e in extra if e]), probabilities[i]))
    return Ranking(tuple(items))


def pinned(engine: Engine, ranking: Ranking, feedback: Feedback, query: Query, mask: np.ndarray, k: int) -> Ranking:
    """Editors' pins first, in their order (live, allowed by the caller's filters, never the article itself)."""
    index = engine.index
    rows = [index.row_of.get(pin) for pin in feedback.pins]
    kept = [(pin, row) for pin, row in zip(feedback.pins, rows)
            if row is not None and index.alive[row] and pin != query.id and mask[row]]
    relatedness = row_dots(index.expanded, np.asarray([row for _, row in kept], dtype=np.int64), query.search_vector)
    pins = [Recommendation(pin, round(float(r), 6), "pinned by an editor") for (pin, _), r in zip(kept, relatedness)]
    chosen = {r.id for r in pins}
    return Ranking(tuple((pins + [r for r in ranking if r.id not in chosen])[:k]))


__all__ = ["rank", "search", "shape", "shortlist", "originals", "copy_similarity", "explain", "pinned"]
