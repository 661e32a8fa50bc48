"""Fitting the link model on the editors' resolved Read-also links, with time-aware (rolling-origin) validation.

Protocol (what ``Engine`` and ``readalso train`` run):

1. Sources (articles with resolved links) are sorted by publication time. The newest
   ``validation_share`` of them are cut into ``folds`` time-ordered chunks; fold *f* trains on every
   source published before chunk *f* (its ``cutoff``) and validates on chunk *f*.
2. Each source hides ``hide_fraction`` of its links (at least one): the hidden targets are the
   positives; the features of every pair come from a *view* of the corpus in which the hidden
   links do not exist (no anchor text, no in-link, no co-link from them), so a positive never
   explains itself.
3. A fold's training view holds only articles published before its cutoff (candidates and links):
   nothing from the validation period leaks into training pairs. Validation ranks the whole
   archive, as batch scoring and the evaluation harness do. Negatives are the other candidates the
   serving path would consider: cosine top ``pool`` plus the trending/popular prior candidates.
4. The pooled validation pairs calibrate the model (Platt) and choose the blend weight with cosine
   by MRR, shrunk by how clearly it beats plain cosine there (paired t statistic / 2, clipped to
   [0, 1]): with few or unconvincing links the engine stays at (or near) plain cosine. The served
   model is then fitted on all sources with the same hidden links.

Term statistics (vocabulary, IDF) are unsupervised and fitted on the whole corpus.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import scipy.sparse as sp

from recommender.articles import Article
from recommender.candidates import CANDIDATE_POOL, PRIOR_CANDIDATES, with_priors
from recommender.cosine import Row
from recommender.features import FEATURES, LinkGraph, Query, pair_features
from recommender.index import ArticleIndex
from recommender.model import LinkModel, blend, sigmoid

log = logging.getLogger(__name__)

MIN_LINKS = 8
BLEND_GRID = tuple(round(x, 2) for x in np.linspace(0.0, 1.0, 11))
EVAL_DEPTH = 20


# -- links and their text ---------------------------------------------------------------------
def link_triples(articles: Sequence[Article], row_of: Mapping[str, int]) -> list[tuple[int, int, str]]:
    """``(source row, target row, anchor headline)`` of every resolved link between known articles (first per pair)."""
    seen, triples = set(), []
    for article in articles:
        source = row_of.get(article.id)
        if source is None:
            continue
        for link in article.read_also:
            target = row_of.get(link.target_id) if link.target_id else None
            if target is not None and target != source and (source, target) not in seen:
                seen.add((source, target))
                triples.append((source, target, link.headline))
    return triples


def link_texts(articles: Sequence[Article], row_of: Mapping[str, int], triples: Sequence[tuple[int, int, str]],
               n_rows: int) -> list[str]:
    """Per row: the article's own unresolved Read-also headlines, plus the anchor text of each visible link
    (``triples``) on both ends: the source's own pick and the target's inbound anchor."""
    return [" ".join(parts) for parts in link_text_parts(articles, row_of, triples, n_rows)]


def link_text_parts(articles: Sequence[Article], row_of: Mapping[str, int], triples: Sequence[tuple[int, int, str]],
                    n_rows: int) -> list[list[str]]:
    """The headlines :func:`link_texts` joins, per row, in the same order."""
    texts: list[list[str]] = [[] for _ in range(n_rows)]
    for article in articles:
        if article.id not in row_of:
            continue
        for link in article.read_also:
            if not (link.target_id and link.target_id in row_of):
                texts[row_of[article.id]].append(link.headline)
    for source, target, headline in triples:
        texts[source].append(headline)
        texts[target].append(headline)
    return texts


def links_field(vectorizer, texts: Sequence[str], languages: Sequence[str]) -> sp.csr_matrix:
    return vectorizer.transform_texts(texts, languages)


# -- the split --------------------------------------------------------------------------------
class Split(NamedTuple):
    train: list[int]  # source rows, oldest first
    validation: list[int]
    cutoff: float  # epoch seconds; training views see only rows published before it


def time_split(sources: Sequence[int], published: np.ndarray, validation_share: float) -> Split:
    """Oldest sources train, newest validate; undated sources count as old. ``cutoff`` is the first validation time."""
    if not 0 < validation_share < 1:
        raise ValueError(f"validation_share must be in (0, 1), got {validation_share}")
    dated = sorted((s for s in sources if not np.isnan(published[s])), key=lambda s: (published[s], s))
    undated = sorted(s for s in sources if np.isnan(published[s]))
    n_validation = max(1, int(round(validation_share * len(sources))))
    if len(dated) <= n_validation:
        return Split(undated + dated, [], math.inf)
    cutoff = float(published[dated[-n_validation]])
    train = undated + [s for s in dated if published[s] < cutoff]
    validation = [s for s in dated if published[s] >= cutoff]
    return Split(train, validation, cutoff)


def hide_links(targets_by_source: Mapping[int, Sequence[int]], sources: Sequence[int], fraction: float,
               rng: np.random.Generator) -> dict[int, set[int]]:
    """For each source, a seeded random ``max(1, round(fraction * n))`` of its link targets."""
    hidden = {}
    for source in sources:
        targets = sorted(targets_by_source[source])
        count = max(1, int(round(fraction * len(targets))))
        hidden[source] = {targets[i] for i in rng.choice(len(targets), size=count, replace=False)}
    return hidden


# -- pairs ------------------------------------------------------------------------------------
class View(NamedTuple):
    """The corpus as features see it for one side of the split."""

    graph: LinkGraph
    links: sp.csr_matrix  # the ``links`` field under this view
    allowed: np.ndarray  # candidate rows
    visible: tuple = ()  # its links, (source, target, anchor headline)
    parts: tuple = ()  # per row, the headlines its ``links`` row joins


def make_view(articles, index: ArticleIndex, vectorizer, triples, hidden: Mapping[int, set[int]],
              allowed: np.ndarray) -> View:
    """The links between ``allowed`` rows except the ``hidden`` ones, as graph and link-text field."""
    visible = [(s, t, h) for s, t, h in triples if allowed[s] and allowed[t] and t not in hidden.get(s, ())]
    parts = link_text_parts(articles, index.row_of, visible, len(index.ids))
    links = links_field(vectorizer, [" ".join(p) for p in parts], list(index.languages))
    graph = LinkGraph.from_pairs([(s, t) for s, t, _ in visible], index.published)
    return View(graph, links, allowed, tuple(visible), tuple(tuple(p) for p in parts))


def own_links_hidden(view: View, index: ArticleIndex, vectorizer, row: int, targets: set[int]) -> View:
    """The view as the query ``row`` sees it: its links to ``targets`` taken out too (edge and anchor text).

    Training and validation hide each query's links from its own features only; every other
    article keeps its links, as at serving time, when only the article being linked from lacks them.
    """
    return next(own_views(view, index, vectorizer, [row], {row: targets}))[1]


def own_views(view: View, index: ArticleIndex, vectorizer, rows: Sequence[int],
              hidden: Mapping[int, set[int]]):
    """``(row, own_links_hidden(view, ..., row, hidden[row]))`` for each row, one at a time; the link
    texts that change are re-vectorised in one call for all rows."""
    by_source: dict[int, list[tuple[int, int, str]]] = {}
    for link in view.visible:
        by_source.setdefault(link[0], []).append(link)
    plans: list[tuple[int, list, list[int], int]] = []
    texts: list[str] = []
    languages: list[str] = []
    for row in rows:
        gone = [link for link in by_source.get(row, ()) if link[1] in hidden[row]]
        parts = {r: list(view.parts[r]) for r in {row, *(t for _, t, _ in gone)}} if gone else {}
        for _, target, headline in gone:
            parts[row].remove(headline)
            parts[target].remove(headline)
        changed = sorted(parts)
        plans.append((row, gone, changed, len(texts)))
        texts += [" ".join(parts[r]) for r in changed]
        languages += [index.languages[r] for r in changed]
    vectors = links_field(vectorizer, texts, languages) if texts else sp.csr_matrix((0, 0))
    for row, gone, changed, start in plans:
        yield row, (_without(view, row, gone, changed, vectors[start:start + len(changed)]) if gone else view)


def _without(view: View, row: int, gone, changed: list[int], new: sp.csr_matrix) -> View:
    """``view`` without the links ``gone`` of ``row``: link-text rows ``changed`` replaced by ``new``."""
    n = view.links.shape[0]
    keep = np.ones(n)
    keep[changed] = 0.0
    placed = sp.csr_matrix((np.ones(len(changed)), (changed, np.arange(len(changed)))), shape=(n, len(changed)))
    links = (sp.diags(keep).tocsr() @ view.links + placed @ new).tocsr().astype(view.links.dtype)
    drop = sp.csr_matrix((np.ones(len(gone)), ([row] * len(gone), [t for _, t, _ in gone])),
                         shape=view.graph.adjacency.shape)
    adjacency = view.graph.adjacency - view.graph.adjacency.multiply(drop)
    adjacency.eliminate_zeros()
    gone = set(gone)
    return view._replace(graph=LinkGraph(adjacency, view.graph.published), links=links,
                         visible=tuple(v for v in view.visible if v not in gone))


def query_of(index: ArticleIndex, fields: Mapping[str, sp.csr_matrix], links: sp.csr_matrix, row: int) -> Query:
    return Query(vector=Row.of(index.matrix, row),
                 fields={"headline": Row.of(fields["headline"], row), "body": Row.of(fields["body"], row),
                         "links": Row.of(links, row)},
                 published=float(index.published[row]), section=str(index.sections[row]), row=row, id=index.ids[row],
                 site=str(index.sites[row]), expanded=Row.of(index.expanded, row))


def knowable(published: np.ndarray, row: int) -> np.ndarray:
    """Rows that existed when ``row`` was published: published at or before it; where either date is
    unknown, rows ingested before it (lower rows). What an editor of ``row`` could have linked to."""
    published = np.asarray(published, dtype=np.float64)
    earlier = np.arange(published.size) < row
    if np.isnan(published[row]):
        return earlier
    with np.errstate(invalid="ignore"):
        return np.where(np.isnan(published), earlier, published <= published[row])


def query_pairs(index, fields, view: View, row: int, positives: set[int], *, duplicate_threshold: float,
                same_language: bool, pool: int, extras: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(rows, features, labels)`` for one query: the serving candidates among the articles that existed
    when it was published (:func:`knowable`), plus every positive among them."""
    query = query_of(index, fields, view.links, row)
    mask = view.allowed & index.alive & knowable(index.published, row)
    if same_language:
        mask = mask & (index.languages == index.languages[row])
    mask[row] = False
    hits = index.search(query.search_vector, pool, mask)
    found = hits.indices[0] >= 0
    rows, _ = with_priors(index, view.graph, query, mask, hits.indices[0][found], hits.scores[0][found], pool, extras)
    missing = [t for t in sorted(positives) if mask[t] and t not in set(rows.tolist())]
    rows = np.concatenate([rows, np.asarray(missing, dtype=np.int64)]).astype(np.int64)
    X = pair_features(query, rows, matrix=index.matrix, fields={**fields, "links": view.links},
                      published=index.published, sections=index.sections, graph=view.graph,
                      duplicate_threshold=duplicate_threshold, sites=index.sites, expanded=index.expanded)
    y = np.asarray([int(r in positives) for r in rows], dtype=np.int64)
    return rows, X, y


def _ranked_metrics(order_rows: np.ndarray, positives: set[int]) -> tuple[float, float]:
    """(reciprocal rank within EVAL_DEPTH, recall@5)."""
    top = order_rows[:EVAL_DEPTH].tolist()
    rank = next((i + 1 for i, r in enumerate(top) if r in positives), None)
    return (1.0 / rank if rank else 0.0), len(positives & set(top[:5])) / len(positives)


def _summary(values: Sequence[float] | np.ndarray) -> dict[str, float]:
    array = np.asarray(values, dtype=np.float64)
    se = float(array.std(ddof=1) / math.sqrt(array.size)) if array.size > 1 else float("nan")
    return {"mean": round(float(array.mean()), 4), "se": round(se, 4)}


# -- training ---------------------------------------------------------------------------------
def rolling_splits(sources: Sequence[int], published: np.ndarray, validation_share: float, folds: int) -> list[Split]:
    """Rolling-origin splits: the newest ``validation_share`` of dated sources, cut into ``folds`` time-ordered
    chunks; each chunk is validated by a fold trained on every source published before it."""
    if folds < 1:
        raise ValueError(f"folds must be at least 1, got {folds}")
    if not 0 < validation_share < 1:
        raise ValueError(f"validation_share must be in (0, 1), got {validation_share}")
    dated = sorted((s for s in sources if not np.isnan(published[s])), key=lambda s: (published[s], s))
    undated = sorted(s for s in sources if np.isnan(published[s]))
    n_validation = min(len(dated) - 1, max(1, int(round(validation_share * len(sources)))))
    if n_validation < 1:
        return []
    tail = dated[len(dated) - n_validation:]
    splits = []
    for chunk in np.array_split(np.asarray(tail, dtype=np.int64), min(folds, len(tail))):
        cutoff = float(published[chunk[0]])
        train = undated + [s for s in dated if published[s] < cutoff]
        validation = [int(s) for s in chunk if published[s] >= cutoff]
        if train and validation:
            splits.append(Split(train, validation, cutoff))
    return splits


def _pairs_for(index, fields, vectorizer, view: View, sources: Sequence[int], hidden: Mapping[int, set[int]], options,
               max_queries: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray] | None:
    if len(sources) > max_queries:
        sources = sorted(rng.choice(np.asarray(sources), size=max_queries, replace=False).tolist())
    X_all, y_all = [], []
    for row, own in own_views(view, index, vectorizer, sources, hidden):
        positives = {t for t in hidden[row] if view.allowed[t]}
        _, X, y = query_pairs(index, fields, own, row, positives, **options)
        X_all.append(X)
        y_all.append(y)
    if not X_all:
        return None
    X, y = np.vstack(X_all), np.concatenate(y_all)
    return (X, y) if 0 < y.sum() < y.size else None


def train_link_model(articles: Sequence[Article], index: ArticleIndex, fields: Mapping[str, sp.csr_matrix],
                     vectorizer, *, features: Sequence[str] = FEATURES, duplicate_threshold: float = 0.8,
                     same_language: bool = True, validation_share: float = 0.5, folds: int = 3,
                     hide_fraction: float = 0.5, pool: int = CANDIDATE_POOL, extras: int = PRIOR_CANDIDATES,
                     min_links: int = MIN_LINKS, max_queries: int = 2000, seed: int = 0) -> LinkModel | None:
    """Fit, calibrate and blend a :class:`LinkModel`; ``None`` when the links are too few to train and validate.

    Rolling-origin validation (:func:`rolling_splits`): each fold trains on the sources published
    before its chunk and validates on the chunk, seeing neither links nor candidates from after it.
    The pooled validation queries calibrate the model (Platt) and choose the blend weight; the
    served model is then fitted on every source. ``fields`` holds the ``headline`` and ``body`` rows
    aligned with ``index``; the result's ``report_`` has the pooled validation metrics of the model
    and of plain cosine.
    """
    triples = link_triples(articles, index.row_of)
    if len(triples) < min_links:
        log.info("link model: %d resolved links (< %d), ranking by plain cosine", len(triples), min_links)
        return None
    targets_by_source: dict[int, list[int]] = {}
    for source, target, _ in triples:
        targets_by_source.setdefault(source, []).append(target)
    sources = sorted(targets_by_source)
    splits = rolling_splits(sources, index.published, validation_share, folds)
    if not splits:
        log.info("link model: cannot split %d sources by time into training and validation", len(sources))
        return None
    rng = np.random.default_rng(seed)
    hidden = hide_links(targets_by_source, sources, hide_fraction, rng)
    options: dict[str, Any] = dict(duplicate_threshold=duplicate_threshold, same_language=same_language, pool=pool,
                                   extras=extras)
    model_features = tuple(features)

    everything = make_view(articles, index, vectorizer, triples, {}, np.ones(len(index.ids), dtype=bool))
    validation = []  # (hidden targets, candidate rows, features, labels, decision values)
    for split in splits:
        with np.errstate(invalid="ignore"):
            before = ~(index.published >= split.cutoff)  # undated rows count as old
        pairs = _pairs_for(index, fields, vectorizer, make_view(articles, index, vectorizer, triples, {}, before),
                           split.train, hidden, options, max_queries, rng)
        if pairs is None:
            continue
        fold_model = LinkModel(features=model_features).fit(*pairs)
        for row, own in own_views(everything, index, vectorizer, split.validation, hidden):
            rows, X, y = query_pairs(index, fields, own, row, hidden[row], **options)
            validation.append((hidden[row], rows, X, y, fold_model.decision_function(X)))
    if not validation:
        return None

    pairs = _pairs_for(index, fields, vectorizer, everything, sources, hidden, options, max_queries, rng)
    if pairs is None:
        return None
    model = LinkModel(features=model_features).fit(*pairs)
    decisions, labels = np.concatenate([v[4] for v in validation]), np.concatenate([v[3] for v in validation])
    a, b = _platt(decisions, labels)
    model.calibration_ = (a, b)

    def evaluate(weight: float | None) -> np.ndarray:
        """Per validation query (RR, recall@5): relatedness alone when weight is None, else the blend."""
        results = []
        for positives, rows, X, _, decision in validation:
            relatedness = X[:, FEATURES.index("relatedness")]
            score = relatedness if weight is None else blend(relatedness, sigmoid(a * decision + b), weight)
            results.append(_ranked_metrics(rows[np.lexsort((rows, -score))], positives))
        return np.asarray(results)

    baseline = evaluate(None)
    grid = {weight: evaluate(weight) for weight in BLEND_GRID}
    best = max(BLEND_GRID, key=lambda w: (round(float(grid[w][:, 0].mean()), 9), -w))
    gain = grid[best][:, 0] - baseline[:, 0]
    if gain.size > 1 and gain.std(ddof=1) > 0:
        t = float(gain.mean() / (gain.std(ddof=1) / math.sqrt(gain.size)))
    else:
        t = math.inf if gain.mean() > 0 else 0.0
    model.blend_ = round(float(best) * float(np.clip(t / 2.0, 0.0, 1.0)), 4)
    chosen = evaluate(model.blend_) if model.blend_ > 0 else baseline
    model.report_ = {
        "links": len(triples), "sources": len(sources), "folds": len(splits),
        "validation_queries": len(validation), "train_pairs": int(pairs[1].size),
        "train_positives": int(pairs[1].sum()), "cutoffs": [s.cutoff for s in splits],
        "best_blend": float(best), "t": round(t, 3) if math.isfinite(t) else None, "blend": model.blend_,
        "cosine": {"mrr": _summary(baseline[:, 0]), "recall@5": _summary(baseline[:, 1])},
        "model": {"mrr": _summary(chosen[:, 0]), "recall@5": _summary(chosen[:, 1])},
        "model_at_best": {"mrr": _summary(grid[best][:, 0]), "recall@5": _summary(grid[best][:, 1])},
        "weights": model.weights(),
    }
    log.info("link model: %s", model.report_)
    return model


def _platt(decisions: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Platt scaling ``p = sigmoid(a * decision + b)`` fitted on held-out pairs; identity without both labels."""
    if set(np.unique(labels)) != {0, 1}:
        return 1.0, 0.0
    from sklearn.linear_model import LogisticRegression

    platt = LogisticRegression(C=1e4, max_iter=1000).fit(decisions.reshape(-1, 1), labels)
    return float(platt.coef_[0, 0]), float(platt.intercept_[0])


__all__ = ["train_link_model", "rolling_splits", "time_split", "hide_links", "link_triples", "link_texts",
           "link_text_parts", "make_view", "own_links_hidden", "own_views", "query_pairs", "knowable", "Split", "View",
           "MIN_LINKS"]
