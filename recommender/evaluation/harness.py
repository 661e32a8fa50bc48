"""Run rankers over a ground truth: per-query metric values, bootstrap intervals, paired tests.

Each ``evaluate_*`` function returns a JSON-ready dict (see ``docs/evaluation.md``):
``{"name", "kind", "description", ..., "systems": {system: {"metrics": {metric: {"mean", "low",
"high"}}, "per_query": {metric: [...]}, ...}}, "reference": system, "paired": {system: {metric:
{"diff", "low", "high", "p", "n"}}}}``. Per-query values are kept so two result files can be
compared query by query later (``compare``).
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from collections.abc import Callable, Mapping

import numpy as np
from scipy import stats as scipy_stats
from sklearn.feature_extraction.text import TfidfVectorizer
from tqdm.auto import tqdm

from recommender.articles import Article
from recommender.engine import Engine
from recommender.evaluation import metrics as m
from recommender.evaluation.baselines import Ranker, article_text
from recommender.evaluation.datasets import RetrievalTask, SimilarityTask
from recommender.evaluation.stats import bootstrap_ci, paired_test
from recommender.reading_list import history_list, story_list

log = logging.getLogger(__name__)

KS = (1, 3, 5, 10, 20)
DEPTH = 100  # ranks retrieved per query; MAP and MRR are computed over these
LIST_K = 10  # the list a reader sees: coverage, diversity, novelty, freshness
READER_K = 5  # the "Read also" box: its same-story share (wire copies once) is the reader's view
_SCORE_SAMPLE = 4000

RETRIEVAL_HEADLINE = ("ndcg@10", "map", "p@5", "recall@10", "mrr", "hit@10", "ild@10", "novelty@10", "freshness@10")
IMPRESSION_HEADLINE = ("auc", "mrr", "ndcg@5", "ndcg@10")
SIMILARITY_HEADLINE = ("spearman", "pearson")


def _summary(per_query: Mapping[str, list], *, seed: int, n_resamples: int) -> dict:
    out = {}
    for name, values in per_query.items():
        interval = bootstrap_ci(values, seed=seed, n_resamples=n_resamples)
        out[name] = {"mean": interval.mean, "low": interval.low, "high": interval.high}
    return out


def _paired(systems: dict, reference: str | None, *, seed: int, n_resamples: int) -> dict:
    if reference not in systems:
        return {}
    base = systems[reference]["per_query"]
    paired: dict[str, dict] = {}
    for name, result in systems.items():
        if name == reference:
            continue
        paired[name] = {}
        for metric, values in result["per_query"].items():
            if metric in base:
                test = paired_test(values, base[metric], seed=seed, n_resamples=n_resamples)
                paired[name][metric] = {"diff": test.diff, "low": test.low, "high": test.high,
                                        "p": test.p_value, "n": test.n}
    return paired


def _bar(iterable, *, desc: str, total: int, progress: bool):
    return tqdm(iterable, desc=desc, total=total, disable=not progress, leave=False, mininterval=0.5)


def _finite(values) -> list:
    """JSON has no NaN: NaN becomes None."""
    return [None if (v is None or (isinstance(v, float) and math.isnan(v))) else v for v in values]


def _sample(values: list, size: int, seed: int) -> list:
    if len(values) <= size:
        return values
    rng = np.random.default_rng(seed)
    return [values[i] for i in sorted(rng.choice(len(values), size, replace=False))]


# --- retrieval ------------------------------------------------------------------------------

def evaluate_retrieval(task: RetrievalTask, systems: Mapping[str, Ranker], *, reference: str | None = "engine",
                       ks=KS, depth: int = DEPTH, seed: int = 0, n_resamples: int = 1000,
                       progress: bool = True) -> dict:
    """Every query of ``task`` ranked by every system; metrics per query and their means with CIs."""
    articles = list(task.articles)
    rows = {a.id: row for row, a in enumerate(articles)}
    by_id = {a.id: a for a in articles}
    queries = task.query_ids
    vectors = TfidfVectorizer().fit_transform(article_text(a) for a in articles).tocsr()  # one yardstick for ILD
    results = {}
    for name, ranker in systems.items():
        started = time.perf_counter()
        ranker.fit(articles)
        fitted = time.perf_counter()
        per_query: dict[str, list] = {key: [] for key in _retrieval_keys(ks)}
        if task.groups:
            per_query.update({f"ndcg@{LIST_K} stories": [], "map stories": [], f"same-story@{READER_K}": []})
        lists: list[list[str]] = []
        relevant_scores: list[float] = []
        other_scores: list[float] = []
        ages: list[float] = []
        for query in _bar(queries, desc=f"{task.name} | {name}", total=len(queries), progress=progress):
            ranked = ranker.rank(query, k=depth)
            ids = list(ranked.ids)
            grades = task.relevance[query]
            relevant = task.relevant(query)
            for k in ks:
                per_query[f"p@{k}"].append(m.precision_at_k(ids, relevant, k))
                per_query[f"recall@{k}"].append(m.recall_at_k(ids, relevant, k))
                per_query[f"ndcg@{k}"].append(m.ndcg_at_k(ids, grades, k))
                per_query[f"hit@{k}"].append(m.hit_rate_at_k(ids, relevant, k))
            per_query["mrr"].append(m.reciprocal_rank(ids, relevant))
            per_query["map"].append(m.average_precision(ids, relevant))
            if task.groups:
                story_ids, story_grades = merge_duplicates(ids, grades, query, task.groups)
                story_relevant = {g for g, grade in story_grades.items() if grade >= task.relevant_grade}
                per_query[f"ndcg@{LIST_K} stories"].append(m.ndcg_at_k(story_ids, story_grades, LIST_K))
                per_query["map stories"].append(m.average_precision(story_ids, story_relevant))
                per_query[f"same-story@{READER_K}"].append(m.precision_at_k(story_ids, story_relevant, READER_K))
            shown = ids[:LIST_K]
            lists.append(shown)
            per_query[f"ild@{LIST_K}"].append(m.intra_list_diversity(vectors[[rows[i] for i in shown]]))
            query_time = by_id[query].published_at
            item_times = [by_id[i].published_at for i in shown]
            per_query[f"freshness@{LIST_K}"].append(m.freshness_days(query_time, item_times))
            if query_time is not None:
                ages.extend((t - query_time).total_seconds() / 86400.0 for t in item_times if t is not None)
            for item, score in zip(shown, ranked.scores[:LIST_K].tolist()):
                (relevant_scores if item in relevant else other_scores).append(score)
        finished = time.perf_counter()
        if task.popularity:
            popularity, n_events, novelty_basis = task.popularity, task.n_events, "task"
        else:
            popularity = Counter(item for shown in lists for item in shown)
            n_events, novelty_basis = len(lists), "recommendations"
        per_query[f"novelty@{LIST_K}"] = [m.novelty(shown, popularity, n_events) for shown in lists]
        results[name] = {
            "fit_seconds": round(fitted - started, 3), "rank_seconds": round(finished - fitted, 3),
            "metrics": _summary(per_query, seed=seed, n_resamples=n_resamples),
            "per_query": {key: _finite(values) for key, values in per_query.items()},
            f"coverage@{LIST_K}": m.catalogue_coverage(lists, len(articles)),
            "novelty_basis": novelty_basis,
            "scores_relevant": _sample(relevant_scores, _SCORE_SAMPLE, seed),
            "scores_other": _sample(other_scores, _SCORE_SAMPLE, seed),
            "ages_days": _sample(ages, _SCORE_SAMPLE, seed),
        }
    stories = [f"ndcg@{LIST_K} stories", "map stories", f"same-story@{READER_K}"] if task.groups else []
    headline = stories + _headline(ks)  # a story counts once: those figures lead
    return {"name": task.name, "kind": "retrieval", "description": task.description, "n_articles": len(articles),
            "n_queries": len(queries), "query_ids": queries, "ks": list(ks), "depth": depth, "list_k": LIST_K,
            "headline": headline, "systems": results, "reference": reference,
            "paired": _paired(results, reference, seed=seed, n_resamples=n_resamples)}


def evaluate_reading_lists(task: RetrievalTask, *, k: int = READER_K, seed: int = 0, n_resamples: int = 1000,
                           progress: bool = True) -> dict:
    """The engine's reading lists against a task's stories (relevant = the query's story, wire copies grouped).

    * story catch-up (:func:`~recommender.reading_list.story_list`) of every query: precision = share of
      the listed articles (the query aside) from its story; recall = share of the story's other
      stories-once (copy groups) listed.
    * next read (:func:`~recommender.reading_list.history_list`, ``k``) after the two first-published
      articles of every story with 3+: precision = share of the list from the story, over as many
      places as the story's unread copy groups could fill; recall = share of those groups listed (at most k).
    """
    articles = list(task.articles)
    engine = Engine().fit(articles)
    group = (lambda i: task.groups.get(i, i)) if task.groups else (lambda i: i)
    story = {q: {o for o, grade in task.relevance[q].items() if grade >= task.relevant_grade} | {q}
             for q in task.query_ids}
    catch_up: dict[str, list[float]] = {"precision": [], "recall": []}
    for query in _bar(task.query_ids, desc=f"{task.name} | story catch-up", total=len(task.query_ids),
                      progress=progress):
        listed = [item.id for item in story_list(engine, query).items if item.id != query]
        others = {group(o) for o in story[query]} - {group(query)}
        if not others:
            continue
        catch_up["precision"].append(float(np.mean([i in story[query] for i in listed])) if listed else 1.0)
        catch_up["recall"].append(len({group(i) for i in listed if i in story[query]} - {group(query)}) / len(others))
    next_read: dict[str, list[float]] = {"precision": [], "recall": []}
    for members in {frozenset(members) for members in story.values() if len(members) >= 3}:
        history = sorted(members, key=lambda i: (engine.index.published[engine.index.row_of[i]], i))[:2]
        listed = [item.id for item in history_list(engine, history, k=k).items]
        unread = {group(o) for o in members} - {group(h) for h in history}
        if not unread:
            continue
        found = {group(i) for i in listed if i in members} - {group(h) for h in history}
        next_read["precision"].append(len(found) / min(len(listed), len(unread)) if listed else 0.0)
        next_read["recall"].append(len(found) / min(k, len(unread)))
    systems = {name: {"metrics": _summary(values, seed=seed, n_resamples=n_resamples), "per_query": values,
                      "n_lists": len(values["precision"])}
               for name, values in (("story catch-up", catch_up), (f"next read (k={k})", next_read))}
    return {"name": f"{task.name} reading lists", "kind": "reading-lists",
            "description": f"{task.description}; reading lists of the engine against the stories",
            "n_articles": len(articles), "n_queries": len(catch_up["precision"]), "query_ids": [],
            "headline": ["precision", "recall"], "systems": systems, "reference": None, "paired": {}}


def pool_retrieval(results: list[dict], *, name: str, description: str, seed: int = 0,
                   n_resamples: int = 1000) -> dict:
    """One retrieval result from the results of disjoint query sets (cross-validation folds).

    Per-query values are concatenated fold after fold; means, bootstrap intervals and the paired
    tests against the reference are computed again over the pooled queries, exactly as
    :func:`evaluate_retrieval` computes them over one task. Per-fold fit and rank times add up;
    coverage is the query-weighted mean of the folds'. ``folds`` keeps each fold's name and size.
    """
    if not results:
        raise ValueError("no results to pool")
    names = list(results[0]["systems"])
    if any(list(r["systems"]) != names or r["kind"] != "retrieval" or r["reference"] != results[0]["reference"]
           for r in results):
        raise ValueError("pooled results need the same kind, systems and reference in every fold")
    query_ids = [q for r in results for q in r["query_ids"]]
    if len(set(query_ids)) != len(query_ids):
        raise ValueError("pooled folds must not share a query")
    weights = np.asarray([r["n_queries"] for r in results], dtype=float)
    systems = {}
    for system in names:
        parts = [r["systems"][system] for r in results]
        per_query = {key: [v for part in parts for v in part["per_query"][key]] for key in parts[0]["per_query"]}
        coverage = f"coverage@{results[0]['list_k']}"
        systems[system] = {
            "fit_seconds": round(sum(p["fit_seconds"] for p in parts), 3),
            "rank_seconds": round(sum(p["rank_seconds"] for p in parts), 3),
            "metrics": _summary(per_query, seed=seed, n_resamples=n_resamples),  # None (NaN in JSON) is skipped
            "per_query": per_query,
            coverage: float(np.average([p[coverage] for p in parts], weights=weights)),
            "novelty_basis": parts[0]["novelty_basis"],
            **{key: _sample([v for p in parts for v in p[key]], _SCORE_SAMPLE, seed)
               for key in ("scores_relevant", "scores_other", "ages_days")},
        }
    first = results[0]
    return {"name": name, "kind": "retrieval", "description": description, "n_articles": first["n_articles"],
            "n_queries": len(query_ids), "query_ids": query_ids, "ks": first["ks"], "depth": first["depth"],
            "list_k": first["list_k"], "headline": first["headline"], "systems": systems,
            "reference": first["reference"],
            "paired": _paired(systems, first["reference"], seed=seed, n_resamples=n_resamples),
            "folds": [{"name": r["name"], "n_queries": r["n_queries"]} for r in results]}


def merge_duplicates(ranked: list[str], grades: Mapping[str, int], query: str,
                     groups: Mapping[str, str]) -> tuple[list[str], dict[str, int]]:
    """Rankings and judgements over stories instead of copies (duplicate-aware evaluation).

    Each group of wire copies is one story: its grade is its best member's; the query's own
    story is not a related story; a second copy in a ranking fills a slot but earns nothing.
    """
    own = groups.get(query, query)
    seen = {own}
    stories = []
    for item in ranked:
        story = groups.get(item, item)
        stories.append(f"copy:{item}" if story in seen else story)
        seen.add(story)
    story_grades: dict[str, int] = {}
    for item, grade in grades.items():
        story = groups.get(item, item)
        if story != own:
            story_grades[story] = max(story_grades.get(story, 0), grade)
    return stories, story_grades


def _headline(ks) -> list[str]:
    """The table's metrics; with no k = 10 (or 5) the largest k stands in."""
    largest, fives = max(ks), (5 if 5 in ks else max(ks))
    tens = 10 if 10 in ks else largest
    names = {"ndcg@10": f"ndcg@{tens}", "recall@10": f"recall@{tens}", "hit@10": f"hit@{tens}", "p@5": f"p@{fives}"}
    return [names.get(key, key) for key in RETRIEVAL_HEADLINE]


def _retrieval_keys(ks) -> list[str]:
    keys = []
    for prefix in ("p", "recall", "ndcg", "hit"):
        keys += [f"{prefix}@{k}" for k in ks]
    return [*keys, "mrr", "map", f"ild@{LIST_K}", f"freshness@{LIST_K}"]


# --- MIND impressions -------------------------------------------------------------------------

def evaluate_impressions(task, systems: Mapping[str, Ranker], *, reference: str | None = "engine", seed: int = 0,
                         n_resamples: int = 1000, progress: bool = True) -> dict:
    """Each impression's candidates scored by their mean score against the user's last clicks."""
    articles = list(task.articles)
    results = {}
    for name, ranker in systems.items():
        started = time.perf_counter()
        ranker.fit(articles)
        fitted = time.perf_counter()
        per_query: dict[str, list[float]] = {key: [] for key in IMPRESSION_HEADLINE}
        for impression in _bar(task.impressions, desc=f"{task.name} | {name}", total=len(task.impressions),
                               progress=progress):
            history = impression.history[-task.history_window:]
            scores = np.mean([_finite_scores(ranker.score(h, impression.candidates)) for h in history], axis=0)
            labels = impression.labels
            per_query["auc"].append(m.impression_auc(labels, scores))
            per_query["mrr"].append(m.impression_mrr(labels, scores))
            per_query["ndcg@5"].append(m.impression_ndcg(labels, scores, 5))
            per_query["ndcg@10"].append(m.impression_ndcg(labels, scores, 10))
        finished = time.perf_counter()
        results[name] = {"fit_seconds": round(fitted - started, 3), "rank_seconds": round(finished - fitted, 3),
                         "metrics": _summary(per_query, seed=seed, n_resamples=n_resamples), "per_query": per_query}
    return {"name": task.name, "kind": "impressions", "description": task.description, "n_articles": len(articles),
            "n_queries": len(task.impressions), "query_ids": [i.id for i in task.impressions],
            "headline": list(IMPRESSION_HEADLINE), "systems": results, "reference": reference,
            "paired": _paired(results, reference, seed=seed, n_resamples=n_resamples)}


def _finite_scores(scores) -> np.ndarray:
    """-inf (never ranked) becomes one below the lowest finite score, so means stay finite."""
    scores = np.asarray(scores, dtype=float)
    finite = np.isfinite(scores)
    floor = (scores[finite].min() - 1.0) if finite.any() else 0.0
    return np.where(finite, scores, floor)


# --- headline similarity ----------------------------------------------------------------------

def _correlations(human: np.ndarray, system: np.ndarray) -> dict[str, float]:
    if np.all(system == system[0]):
        return {"spearman": math.nan, "pearson": math.nan}
    return {"spearman": float(scipy_stats.spearmanr(human, system).statistic),
            "pearson": float(scipy_stats.pearsonr(human, system).statistic)}


def _bootstrap_pairs(statistic: Callable[[np.ndarray], float], n: int, *, seed: int, n_resamples: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.array([statistic(rng.integers(0, n, n)) for _ in range(n_resamples)])


def evaluate_similarity(task: SimilarityTask, systems: Mapping[str, Ranker], *, reference: str | None = "engine",
                        seed: int = 0, n_resamples: int = 1000, progress: bool = True) -> dict:
    """Spearman and Pearson correlation of each system's headline similarity with the human scores.

    Systems are fitted on the task's headlines (one article each); those without a text-to-text
    similarity are skipped. Intervals and paired p-values come from resampling pairs (the same
    resamples for every system, so differences are paired).
    """
    texts = sorted({text for a, b, _ in task.pairs for text in (a, b)})
    corpus = [Article(id=f"sts-{i}", headline=text) for i, text in enumerate(texts)]
    human = np.array([score for _, _, score in task.pairs])
    results: dict[str, dict] = {}
    similarities: dict[str, np.ndarray] = {}
    identical: list[str] = []
    for name, ranker in systems.items():
        started = time.perf_counter()
        ranker.fit(corpus)
        try:
            ranker.similarity("probe", "probe")
        except NotImplementedError:
            log.info("%s: no text similarity, skipped on %s", name, task.name)
            continue
        values = np.array([ranker.similarity(a, b) for a, b, _ in
                           _bar(task.pairs, desc=f"{task.name} | {name}", total=len(task.pairs), progress=progress)])
        if (reference in similarities and name.startswith(f"{reference}-")
                and np.array_equal(values, similarities[reference])):
            identical.append(name)  # an ablated signal the text similarity never uses: no row of its own
            continue
        similarities[name] = values
        point = _correlations(human, values)
        metrics = {}
        for key in SIMILARITY_HEADLINE:
            def statistic(idx: np.ndarray, values: np.ndarray = values, key: str = key) -> float:
                return _correlations(human[idx], values[idx])[key]

            draws = _bootstrap_pairs(statistic, len(values), seed=seed, n_resamples=n_resamples)
            low, high = np.nanpercentile(draws, [2.5, 97.5]) if np.isfinite(draws).any() else (math.nan, math.nan)
            metrics[key] = {"mean": point[key], "low": float(low), "high": float(high)}
        results[name] = {"fit_seconds": round(time.perf_counter() - started, 3), "metrics": metrics,
                         "similarity": values.tolist()}
    paired: dict[str, dict] = {}
    if reference in similarities:
        for name, values in similarities.items():
            if name == reference:
                continue
            paired[name] = {}
            for key in SIMILARITY_HEADLINE:
                base = similarities[reference]
                diff = _correlations(human, values)[key] - _correlations(human, base)[key]
                def difference(idx: np.ndarray, values: np.ndarray = values, base: np.ndarray = base,
                               key: str = key) -> float:
                    return _correlations(human[idx], values[idx])[key] - _correlations(human[idx], base[idx])[key]

                draws = _bootstrap_pairs(difference, len(values), seed=seed, n_resamples=n_resamples)
                draws = draws[np.isfinite(draws)]
                p = min(1.0, 2 * min(np.mean(draws <= 0), np.mean(draws >= 0))) if draws.size else math.nan
                low, high = np.percentile(draws, [2.5, 97.5]) if draws.size else (math.nan, math.nan)
                paired[name][key] = {"diff": diff, "low": float(low), "high": float(high), "p": float(p),
                                     "n": len(values)}
    description = task.description
    if identical:
        description += f"; identical to {reference} (rows left out): {', '.join(identical)}"
    return {"name": task.name, "kind": "similarity", "description": description, "n_articles": len(corpus),
            "n_queries": len(task.pairs), "human": human.tolist(), "headline": list(SIMILARITY_HEADLINE),
            "systems": results, "reference": reference, "paired": paired}
