"""Measure the link model through the evaluation harness: engine (with the model) vs engine-no-model.

Tasks: held-out editor links (demo corpus, news-readmore) and event clusters (news-events, with
distractors).

    .venv/bin/python scripts/eval_link_model.py [--tasks demo-cv,readmore-cv,events,distractors] [--folds 10]

``--config relatedness_floor=0.5,editor_mix=0.2`` sets ``EngineConfig`` fields of the engine under test.
``--curve`` measures the trade-off between the reader's view and imitating editors: for a grid of
relatedness floors and editor shares, the same-story share of the demo corpus's top 5 against the
cross-validated held-out link MRR (``--tasks``), printed and plotted to ``--plot``.

``demo-cv`` / ``readmore-cv``: cross-validated, grouped by linking article (``datasets.link_folds``):
each fold's linking articles hide all their links and are the queries, the engine (and its model) is
fitted on the corpus with the other folds' links; the folds' queries are pooled into one result
(``harness.pool_retrieval``), so every resolved link is tested once. ``demo`` / ``readmore``: half of
each article's links hidden. ``demo-newest`` / ``readmore-newest``: the time-aware variant (links of
older articles visible, the newest half of the linking articles are the queries, all their links
hidden). ``--targets`` prints each hidden target's rank under both systems, age, source and cosine.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

from recommender.articles import ReadAlsoLink
from recommender.engine import EngineConfig
from recommender.evaluation import datasets, harness
from recommender.evaluation.systems import EngineRanker

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
METRICS = ("mrr", "recall@5", "ndcg@10")


def systems(config: EngineConfig | None = None):
    config = config or EngineConfig()
    return {"engine": EngineRanker(config=config),
            "engine-no-model": EngineRanker(config=config.without("model"), name="engine-no-model")}



def newest_held_out(task, share: float = 0.5):
    """Time-aware hold-out: the older queries get their hidden links back (the past to learn from);
    only the newest ``share`` of queries stay queries, with all their links hidden."""
    by_id = {a.id: a for a in task.articles}
    queries = sorted(task.relevance, key=lambda q: (by_id[q].published_at is not None, by_id[q].published_at, q))
    old = set(queries[: len(queries) - max(1, round(share * len(queries)))])
    articles = tuple(a.with_links([*a.read_also, *(ReadAlsoLink(by_id[t].headline, target_id=t, resolution="dataset")
                                                   for t in task.relevance[a.id])]) if a.id in old else a
                     for a in task.articles)
    return replace(task, name=f"{task.name}-newest", articles=articles,
                   relevance={q: g for q, g in task.relevance.items() if q not in old},
                   description=f"{task.description}; time-aware: links of the older {len(old)} queries visible, "
                               f"the newest {len(task.relevance) - len(old)} queries' links all hidden")


def cv_folds(names, folds: int, seed: int):
    """(name, description, fold tasks) of the cross-validated held-out-links tasks asked for."""
    if "demo-cv" in names:
        articles, description = datasets.demo_link_articles(REPO / "data" / "demo" / "articles.jsonl")
        yield "demo-links-cv", description, datasets.link_folds(articles, folds=folds, seed=seed, name="demo-links",
                                                   description=description)
    if "readmore-cv" in names:
        articles, description = datasets.news_readmore_articles(DATA)
        yield "news-readmore-cv", description, datasets.link_folds(
            articles, folds=folds, seed=seed, name="news-readmore", description=description)


def target_rows(task, rankers) -> list[dict]:
    """Each hidden target of each query: its rank (1-based, None past 100) under every system, age, cosine."""
    by_id = {a.id: a for a in task.articles}
    engine = rankers["engine-no-model"].engine_
    rows = []
    for query in task.query_ids:
        ranked = {name: list(ranker.rank(query, k=100).ids) for name, ranker in rankers.items()}
        for target in sorted(task.relevant(query)):
            q, t = by_id[query], by_id[target]
            age = ((q.published_at - t.published_at).total_seconds() / 86400
                   if q.published_at and t.published_at else None)
            cosine = float(engine.index.vector(query).multiply(engine.index.vector(target)).sum())
            rows.append({"query": query, "target": target, "age_days": age, "cosine": round(cosine, 3),
                         "source": _domain(q.url), "target_source": _domain(t.url),
                         **{f"rank {name}": (ids.index(target) + 1 if target in ids else None)
                            for name, ids in ranked.items()},
                         "headline": q.headline[:40], "target_headline": t.headline[:40]})
    return rows


def _domain(url: str | None) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).netloc.removeprefix("www.") if url else ""


def report(result) -> None:
    for name, system in result["systems"].items():
        cells = []
        for metric in METRICS:
            s = system["metrics"][metric]
            cells.append(f"{metric} {s['mean']:.3f} [{s['low']:.3f}, {s['high']:.3f}]")
        print(f"   {name:<16} " + "  ".join(cells))
    for metric in METRICS:
        p = result["paired"]["engine"][metric]
        print(f"   engine - engine-no-model {metric}: {p['diff']:+.3f} [{p['low']:+.3f}, {p['high']:+.3f}] "
              f"p={p['p']:.3g} (n={p['n']})")


def tasks(names, distractors: int, seed: int):
    if "demo-newest" in names:
        yield newest_held_out(datasets.load_demo_links(REPO / "data" / "demo" / "articles.jsonl", fraction=1.0,
                                                       seed=seed))
    if "readmore-newest" in names:
        yield newest_held_out(datasets.load_news_readmore(DATA, fraction=1.0, seed=seed))
    if "demo" in names:
        path = REPO / "data" / "demo" / "articles.jsonl"
        if path.exists():
            yield datasets.load_demo_links(path, fraction=0.5, seed=seed)
        else:
            print(f"skip demo: no {path}", file=sys.stderr)
    if "readmore" in names:
        yield datasets.load_news_readmore(DATA, fraction=0.5, seed=seed)
    if "events" in names:
        yield datasets.load_news_events(DATA)
    if "distractors" in names:
        yield datasets.with_distractors(datasets.load_news_events(DATA),
                                        datasets.load_distractors(DATA, limit=distractors, seed=seed))


def cross_validated(names, folds: int, seed: int, config: EngineConfig, targets: bool = False):
    """Pooled results of the cross-validated held-out-links tasks asked for (``cv_folds``)."""
    for pooled_name, description, fold_tasks in cv_folds(names, folds, seed):
        fold_results, blends, rows = [], [], []
        for task in fold_tasks:
            rankers = systems(config)
            fold = harness.evaluate_retrieval(task, rankers, reference="engine-no-model", seed=seed, progress=False)
            model = rankers["engine"].engine_.model
            fold["link_model"] = model.report_ if model is not None else None
            blends.append(None if model is None else model.blend_)
            fold_results.append(fold)
            if targets:
                rows.extend(target_rows(task, rankers))
        result = harness.pool_retrieval(fold_results, name=pooled_name, seed=seed, description=(
            f"{description}; {len(fold_tasks[0].articles):,} articles, {len(fold_tasks)} folds grouped by linking "
            "article, each fold's linking articles hide all their links; folds pooled"))
        result["link_model"] = [f["link_model"] for f in fold_results]
        result["blends"] = blends
        result["hidden_links"] = sum(len(t.relevance[q]) for t in fold_tasks for q in t.relevance)
        yield result, rows


def same_story_share(config: EngineConfig, seed: int) -> float:
    """The reader's view: mean same-story share of the demo corpus's top 5 (``demo-stories``)."""
    task = datasets.with_duplicate_groups(datasets.load_demo_stories(REPO / "data" / "demo" / "articles.jsonl"))
    result = harness.evaluate_retrieval(task, {"engine": EngineRanker(config=config)}, reference="engine",
                                        seed=seed, n_resamples=200, progress=False)
    return result["systems"]["engine"]["metrics"]["same-story@5"]["mean"]


def curve(names, folds: int, seed: int, plot: Path) -> None:
    """Same-story share of the demo's top 5 against held-out link MRR, over floors and editor shares."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = [(floor, mix) for mix in (0.0, 0.2) for floor in (0.0, 0.5, 0.7, 0.9)]
    points = []
    print("floor  mix   demo same-story@5  " + "  ".join(f"{n} MRR (model / no model)" for n in names))
    for floor, mix in grid:
        config = EngineConfig(relatedness_floor=floor, editor_mix=mix)
        share = same_story_share(config, seed)
        mrrs = {r["name"]: (r["systems"]["engine"]["metrics"]["mrr"]["mean"],
                            r["systems"]["engine-no-model"]["metrics"]["mrr"]["mean"])
                for r, _ in cross_validated(names, folds, seed, config)}
        points.append((floor, mix, share, mrrs))
        print(f"{floor:<5}  {mix:<4}  {share:.3f}              "
              + "  ".join(f"{m:.3f} / {c:.3f}" for m, c in mrrs.values()), flush=True)
    figure, axes = plt.subplots(1, len(points[0][3]), figsize=(5.5 * len(points[0][3]), 4.2), squeeze=False)
    for axis, task in zip(axes[0], points[0][3]):
        for mix in sorted({p[1] for p in points}):
            chosen = [p for p in points if p[1] == mix]
            axis.plot([p[3][task][0] for p in chosen], [p[2] for p in chosen], marker="o", label=f"editor_mix {mix}")
            for p in chosen:
                axis.annotate(f"floor {p[0]}", (p[3][task][0], p[2]), fontsize=7, xytext=(3, 3),
                              textcoords="offset points")
        axis.axvline(points[0][3][task][1], color="grey", linestyle="--", label="relatedness alone")
        axis.set_xlabel(f"{task}: held-out link MRR")
        axis.set_ylabel("demo: same-story share of the top 5")
        axis.legend(fontsize=7)
    figure.suptitle("The reader's view against imitating editors")
    figure.tight_layout()
    plot.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(plot, dpi=110)
    print(f"plot: {plot}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", default="demo-cv,readmore-cv,events,distractors")
    parser.add_argument("--distractors", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--folds", type=int, default=10)
    parser.add_argument("--config", default="", help="EngineConfig fields of the engine, key=value,...")
    parser.add_argument("--curve", action="store_true", help="the reader's view against held-out link MRR")
    parser.add_argument("--plot", type=Path, default=REPO / "reports" / "editor-tradeoff.png")
    parser.add_argument("--targets", action="store_true", help="print every hidden target's rank, age and cosine")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    names = args.tasks.split(",")
    if args.curve:
        curve([n for n in names if n.endswith("-cv")], args.folds, args.seed, args.plot)
        return
    config = EngineConfig.parse(args.config)
    results = []
    for result, targets in cross_validated(names, args.folds, args.seed, config, args.targets):
        results.append(result)
        print(f"\n== {result['name']}: {result['description']}; {result['n_queries']} queries, "
              f"{result['hidden_links']} hidden links")
        print(f"   link model blend per fold: {result['blends']}")
        report(result)
        for row in targets:
            print("   " + "  ".join(f"{k}={v}" for k, v in row.items()))
    for task in tasks(names, args.distractors, args.seed):
        rankers = systems(config)
        result = harness.evaluate_retrieval(task, rankers, reference="engine-no-model", seed=args.seed, progress=False)
        model = rankers["engine"].engine_.model
        result["link_model"] = model.report_ if model is not None else None
        results.append(result)
        print(f"\n== {task.name}: {task.description}")
        print(f"   link model: {'none (too few links)' if model is None else f'blend {model.blend_}'}")
        report(result)
    if args.json:
        args.json.write_text(json.dumps([{k: v for k, v in r.items() if k != "systems"} | {
            "systems": {n: s["metrics"] for n, s in r["systems"].items()}} for r in results], indent=1, default=str))


if __name__ == "__main__":
    main()
