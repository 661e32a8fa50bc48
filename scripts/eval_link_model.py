"""Measure the link model through the evaluation harness: engine (with the model) vs engine-no-model.

Tasks: held-out editor links (demo corpus, news-readmore with half of each article's links hidden,
so the other half is there to learn from) and event clusters (news-events, with distractors).

    .venv/bin/python scripts/eval_link_model.py [--tasks demo,readmore,events,distractors] [--distractors 2000]

``demo-newest`` / ``readmore-newest``: the time-aware variant (links of older articles visible,
the newest half of the linking articles are the queries, all their links hidden).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from dataclasses import replace

from recommender.articles import ReadAlsoLink
from recommender.engine import EngineConfig
from recommender.evaluation import datasets, harness
from recommender.evaluation.systems import EngineRanker

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
METRICS = ("mrr", "recall@5", "ndcg@10")


def systems():
    return {"engine": EngineRanker(), "engine-no-model": EngineRanker(config=EngineConfig().without("model"),
                                                                      name="engine-no-model")}


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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", default="demo,readmore,events,distractors")
    parser.add_argument("--distractors", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = []
    for task in tasks(args.tasks.split(","), args.distractors, args.seed):
        rankers = systems()
        result = harness.evaluate_retrieval(task, rankers, reference="engine-no-model", seed=args.seed, progress=False)
        model = rankers["engine"].engine_.model
        result["link_model"] = model.report_ if model is not None else None
        results.append(result)
        print(f"\n== {task.name}: {task.description}")
        print(f"   link model: {'none (too few links)' if model is None else f'blend {model.blend_}'}")
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
    if args.json:
        args.json.write_text(json.dumps([{k: v for k, v in r.items() if k != "systems"} | {
            "systems": {n: s["metrics"] for n, s in r["systems"].items()}} for r in results], indent=1, default=str))


if __name__ == "__main__":
    main()
