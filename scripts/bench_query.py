"""Latency of single related queries: precomputed lists, live (exact and pruned), unseen text, vs scikit-learn.

Usage:
    .venv/bin/python scripts/bench_query.py --sizes 10000,100000 --queries 300 [--json out.json]

For each corpus size a synthetic TF-IDF matrix (recommender.synthetic: Zipfian words, planted
stories) is wrapped in an Engine (pseudo-words ``w<column>`` as vocabulary, one language, no
link model, neighbour expansion as a build makes it: ``expansion_s`` is its time), and the same
sampled articles are queried through:

* ``precomputed``: ``Engine.related`` answered from the store's ``related_lists`` (SQLite lookup);
  the lists are made by the batch code (``batch.score_rows``) for the sampled articles only;
* ``live exact``: ``Engine.related`` with no precomputed list (inverted postings, all terms);
* ``live pruned``: the same with ``EngineConfig.query_terms = 25`` (More Like This's default);
* ``live exact, link model``: ``live exact`` with the link model on (:func:`plant_link_model`: editors'
  links planted within the synthetic stories, a ``LinkModel`` fitted on the serving candidates' pair
  features; its cost, not its quality);
* ``search exact`` / ``search pruned``: ``ArticleIndex.search`` alone (candidate retrieval);
* ``text``: ``Engine.related_to_text`` for unseen text (vectorise, then the live exact path);
* ``load_s`` / ``first_live_after_load_ms``: the engine saved as an artifact (``artifact_mb``), loaded
  as a server worker loads it (checksums verified), and that worker's first live answer;
* ``sklearn``: ``NearestNeighbors(metric="cosine", algorithm="brute").kneighbors`` on the same matrix.

With ``--batch-sizes``, also ``batch.run_batch`` end to end at those sizes (the synthetic engine
saved as an artifact beside an empty store, ``--jobs`` processes): articles per second.

Pruning loss, over the sampled queries: mean overlap of the pruned top-k with the exact top-k
(recall@k), share of identical top-k lists, and recall of the cosine candidate set.
Timings are single-threaded wall clock per query; p50/p99 in milliseconds.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import normalize

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recommender import synthetic
from recommender.artifacts import load_engine, save_engine
from recommender.batch import run_batch, score_rows
from recommender.candidates import CANDIDATE_POOL, candidate_count
from recommender.engine import Engine, EngineConfig
from recommender.features import LinkGraph, pair_features
from recommender.index import ArticleIndex, prune_rows
from recommender.model import LinkModel
from recommender.store import Store
from recommender.vectorize import FieldVectorizer

DAY = 86400.0


class Catalogue:
    """The store's lookups the engine uses; ``lists=False`` hides the precomputed lists (live path)."""

    def __init__(self, store: Store, lists: bool):
        self.store = store
        self.lists = lists

    def precomputed(self, article_id, model_version, k):
        return self.store.precomputed(article_id, model_version, k) if self.lists else None

    def list_reaches(self, model_version):
        return self.store.list_reaches(model_version) if self.lists else {}

    def feedback_for(self, article_id):
        return None

    def get_many(self, ids):
        return {}


def synthetic_engine(n: int, seed: int = 0, *, expanded: bool = True) -> tuple[Engine, np.ndarray]:
    """An engine over a synthetic corpus, and the story of each article."""
    matrix, labels = synthetic.generate_tfidf(n, seed=seed)
    vocabulary = {f"w{j}": j for j in range(matrix.shape[1])}
    vectorizer = FieldVectorizer.from_state(
        {"weights": {"body": 1.0, "headline": 0.0, "lead": 0.0}, "min_df": 1, "max_df": 1.0, "sublinear_tf": True,
         "max_features": None, "vocabulary": vocabulary}, {"idf": np.ones(matrix.shape[1], dtype=np.float32)})
    rng = np.random.default_rng(seed)
    published = 1.7e9 + rng.uniform(0, 3 * 365 * DAY, n)
    index = ArticleIndex(matrix, [f"a{i}" for i in range(n)], published, [None] * n, ["en"] * n)
    engine = Engine(EngineConfig())  # fitted by hand: the synthetic vocabulary and index
    engine.vectorizer, engine.index, engine.terms, engine.version = vectorizer, index, vectorizer.terms_, "bench"
    if expanded:
        engine.expand_rows()  # neighbour expansion, as a build makes it
    return engine, labels


def plant_link_model(engine: Engine, stories: np.ndarray, *, n_training: int = 300, seed: int = 0) -> None:
    """Give a synthetic engine editors' links and a link model, so that its live path ranks with the model on.

    Each article links to the two latest earlier articles of its story (an editor's Read-also, time-honest);
    the headline field is each row's 8 strongest terms, the body field the row itself, and no article has
    link headlines of its own. The model is a ``LinkModel`` fitted on the pair features of ``n_training``
    articles' serving candidates (label: linked), blended at 0.5: what the path costs, not a measure of
    the model's quality, which the evaluation measures on real links.
    """
    index = engine.index
    n, width = index.matrix.shape
    pairs: list[tuple[int, int]] = []
    earlier: dict[int, list[int]] = {}
    for row in np.argsort(index.published, kind="stable").tolist():
        story = earlier.setdefault(int(stories[row]), [])
        pairs.extend((row, target) for target in story[-2:])
        story.append(row)
    engine.graph = LinkGraph.from_pairs(pairs, index.published)
    engine.fields = {"headline": normalize(prune_rows(index.matrix, 8)), "body": index.matrix,
                     "links": sp.csr_matrix((n, width), dtype=np.float32)}
    features, labels = [], []
    for row in np.random.default_rng(seed).choice(n, size=min(n_training, n), replace=False).tolist():
        query = engine.query(index.ids[row])
        hits = index.search(query.search_vector, CANDIDATE_POOL, index.mask(language="en", exclude=[index.ids[row]]))
        rows = hits.indices[0][hits.indices[0] >= 0]
        features.append(pair_features(query, rows, matrix=index.matrix, fields=engine.fields,
                                      published=index.published, sections=index.sections, graph=engine.graph,
                                      duplicate_threshold=engine.config.duplicate_threshold, sites=index.sites,
                                      expanded=index.expanded))
        labels.append(engine.graph.linked(row, rows))
    model = LinkModel(features=engine.config.model_features()).fit(np.vstack(features),
                                                                   np.concatenate(labels).astype(np.int64))
    model.blend_ = 0.5
    engine.model = model


def percentiles(seconds: list[float]) -> dict[str, float]:
    ms = np.asarray(seconds) * 1e3
    return {"p50_ms": round(float(np.percentile(ms, 50)), 3), "p99_ms": round(float(np.percentile(ms, 99)), 3)}


def timed(call, items) -> tuple[list, dict[str, float]]:
    results, seconds = [], []
    for item in items:
        start = time.perf_counter()
        results.append(call(item))
        seconds.append(time.perf_counter() - start)
    return results, percentiles(seconds)


def bench(n: int, n_queries: int, k: int, query_terms: int, workdir: Path) -> dict:
    started = time.perf_counter()
    engine, stories = synthetic_engine(n, expanded=False)
    expanding = time.perf_counter()
    engine.expand_rows()
    expansion = time.perf_counter() - expanding
    index, matrix = engine.index, engine.index.matrix
    _ = index.postings  # built once, as a server (and each batch process) does at start
    setup = time.perf_counter() - started
    rng = np.random.default_rng(1)
    rows = np.sort(rng.choice(n, size=min(n_queries, n), replace=False))
    ids = [index.ids[r] for r in rows]
    report = {"articles": n, "queries": len(ids), "k": k, "nnz_per_row": round(matrix.nnz / n, 1),
              "expanded_nnz_per_row": round(index.expanded.nnz / n, 1), "setup_s": round(setup, 1),
              "expansion_s": round(expansion, 1)}

    store = Store(workdir / f"bench-{n}.db")
    saved = save_engine(engine, workdir / f"bench-{n}.artifacts")
    report["artifact_mb"] = round(sum(f.stat().st_size for f in saved.iterdir()) / 2**20)
    start = time.perf_counter()
    worker = load_engine(saved, Catalogue(store, lists=False), verify=True)  # as a server worker loads it
    report["load_s"] = round(time.perf_counter() - start, 2)
    start = time.perf_counter()
    worker.related(ids[0], k)
    report["first_live_after_load_ms"] = round(1e3 * (time.perf_counter() - start), 1)
    del worker
    start = time.perf_counter()
    engine.lists_key = engine.version
    store.lists.replace(engine.lists_key, score_rows(engine, rows, k))
    report["batch_lists_per_s"] = round(len(ids) / (time.perf_counter() - start), 1)

    engine.catalogue = Catalogue(store, lists=True)
    _, report["precomputed"] = timed(lambda i: engine.related(i, k), ids)
    engine.catalogue = Catalogue(store, lists=False)
    exact, report["live_exact"] = timed(lambda i: engine.related(i, k), ids)
    exact_config = engine.config
    engine.config = replace(exact_config, query_terms=query_terms)
    pruned, report[f"live_pruned_{query_terms}"] = timed(lambda i: engine.related(i, k), ids)
    engine.config = exact_config
    plant_link_model(engine, stories)
    _, report["live_exact_link_model"] = timed(lambda i: engine.related(i, k), ids)
    engine.model, engine.fields, engine.graph = None, {}, None

    wanted = candidate_count(k)
    masks = {i: index.mask(language="en", exclude=[i]) for i in ids[:50]}
    sample = ids[: len(masks)]
    hits_exact, report["search_exact"] = timed(lambda i: index.search(index.vector(i), wanted, masks[i]), sample)
    hits_pruned, report[f"search_pruned_{query_terms}"] = timed(
        lambda i: index.search(index.vector(i), wanted, masks[i], max_terms=query_terms), sample)

    texts = [" ".join(f"w{j}" for j in matrix[r].indices[: 200]) for r in rows[:100]]
    _, report["text"] = timed(lambda t: engine.related_to_text(t[:60], t, k), texts)

    neighbours = NearestNeighbors(n_neighbors=k + 1, metric="cosine", algorithm="brute").fit(matrix)
    _, report["sklearn_kneighbors"] = timed(lambda r: neighbours.kneighbors(matrix[r], k + 1), rows[:100])

    overlap = [len({r.id for r in a} & {r.id for r in b}) / max(1, len(a)) for a, b in zip(exact, pruned)]
    same = [[r.id for r in a] == [r.id for r in b] for a, b in zip(exact, pruned)]
    candidates = [len(set(a.indices[0]) & set(b.indices[0])) / wanted for a, b in zip(hits_exact, hits_pruned)]
    report["pruning_loss"] = {"terms": query_terms, f"recall_at_{k}": round(float(np.mean(overlap)), 4),
                              "identical_lists": round(float(np.mean(same)), 4),
                              f"candidate_recall_at_{wanted}": round(float(np.mean(candidates)), 4)}
    store.close()
    return report


def bench_batch(n: int, k: int, jobs: int, workdir: Path) -> dict:
    """``run_batch`` end to end; with a kept ``workdir`` the artifact and finished blocks are reused (resume)."""
    artifacts = workdir / f"batch-{n}.artifacts"
    saved = sorted(artifacts.glob("*/manifest.json"))
    artifact = saved[-1].parent if saved else save_engine(synthetic_engine(n)[0], artifacts)
    db = workdir / f"batch-{n}.db"
    Store(db).close()
    report = run_batch(artifact, db, k=k, n_jobs=jobs, out=workdir / f"batch-{n}.jsonl")
    return {"batch_articles": n, "k": k, "jobs": jobs, "blocks": report.blocks, "block_rows": report.block_rows,
            "computed_blocks": report.computed_blocks, "reused_blocks": report.reused_blocks,
            "seconds": round(report.seconds, 1), "articles_per_s": round(report.articles_per_second, 1)}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated corpus sizes")
    parser.add_argument("--queries", type=int, default=300, help="queries per size")
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument("--query-terms", type=int, default=25, help="terms kept by the pruned live path")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--batch-sizes", default="", help="comma-separated sizes for an end-to-end batch run")
    parser.add_argument("--jobs", type=int, default=2, help="processes of the batch run")
    parser.add_argument("--keep-dir", type=Path, help="keep the batch artifact and finished blocks here: rerunning "
                                                      "resumes an interrupted batch (a 1M run takes hours)")
    args = parser.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(s) for s in args.batch_sizes.split(",") if s):
            if args.keep_dir:
                args.keep_dir.mkdir(parents=True, exist_ok=True)
            result = bench_batch(n, args.k, args.jobs, args.keep_dir or Path(tmp))
            results.append(result)
            print(json.dumps(result), flush=True)
        for n in (int(s) for s in args.sizes.split(",") if s):
            result = bench(n, args.queries, args.k, args.query_terms, Path(tmp))
            results.append(result)
            print(json.dumps(result), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
