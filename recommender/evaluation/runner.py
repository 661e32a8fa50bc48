"""The one entry point: load every ground truth found, run the systems, write the reports.

``run()`` is what ``readalso evaluate`` and ``scripts/evaluate.py`` call; ``compare()`` is
``readalso evaluate --compare A.json B.json``.
"""

from __future__ import annotations

import logging
import math
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from recommender.evaluation import datasets, harness, report
from recommender.evaluation.datasets import DatasetMissing
from recommender.evaluation.mind import load_mind
from recommender.evaluation.stats import paired_test, significance_mark
from recommender.evaluation.systems import default_systems

log = logging.getLogger(__name__)

TASKS = ("demo-stories", "news-events", "news-events+distractors", "reading-lists", "news-readmore", "demo-links",
         "sts-headlines", "mind")
DEFAULT_DATA_DIR = Path("../shared/data")
"""The public data sets, relative to the working directory: beside the checkout, run from its top folder."""
DEFAULT_DEMO = Path("data/demo/articles.jsonl")
"""The demo corpus, relative to the working directory: the checkout's own, run from its top folder."""

__all__ = ["run", "compare", "TASKS", "DEFAULT_DATA_DIR", "DEFAULT_DEMO", "UnknownName"]


class UnknownName(ValueError):
    """A task or system name the evaluation does not know; the message lists the known ones."""


def _systems(names, *, seed: int, ablation: bool, engine_config=None):
    systems = default_systems(seed=seed, ablation=ablation, config=engine_config)
    if names:
        unknown = sorted(set(names) - set(systems))
        if unknown:
            raise UnknownName(f"unknown systems {', '.join(unknown)}; known: {', '.join(systems)}")
        systems = {name: systems[name] for name in names}
    return systems


def run(data_dir: str | Path | None = None, output_dir: str | Path = "reports", *, tasks=None, systems=None,
        seed: int = 0, n_resamples: int = 1000, max_distractors: int | None = 20_000,
        demo_path: str | Path | None = None, mind_dir: str | Path | None = None, ablation: bool = True,
        plots: bool = True, progress: bool = True, stem: str = "evaluation", command: str | None = None,
        engine_config=None) -> dict:
    """Evaluate every system on every ground truth found; write ``<stem>.json/.md/.html``.

    ``data_dir`` defaults to :data:`DEFAULT_DATA_DIR` and ``demo_path`` to :data:`DEFAULT_DEMO`; ``tasks`` picks among
    :data:`TASKS`; ``systems`` among the engine, ``engine-no-<signal>`` ablations and the baselines.
    ``engine_config`` (an ``EngineConfig``) sets the engine under test and its ablations.
    MIND is read from ``mind_dir`` (default ``<data_dir>/mind``). Missing data sets are skipped
    with the reason in the report. Returns ``{"results": ..., "paths": {...}, "summary": str}``.
    """
    data_dir = Path(data_dir) if data_dir else DEFAULT_DATA_DIR
    chosen = list(tasks or TASKS)
    unknown = sorted(set(chosen) - set(TASKS))
    if unknown:
        raise UnknownName(f"unknown tasks {', '.join(unknown)}; known: {', '.join(TASKS)}")
    rankers = _systems(systems, seed=seed, ablation=ablation, engine_config=engine_config)
    reference = "engine" if "engine" in rankers else ("tfidf" if "tfidf" in rankers else next(iter(rankers)))
    options = dict(reference=reference, seed=seed, n_resamples=n_resamples, progress=progress)
    results: dict[str, Any] = {"readalso_evaluation": 1, "created": datetime.now(UTC).isoformat(timespec="seconds"),
               "command": command or " ".join(["readalso evaluate", *sys.argv[1:]]),
               "settings": {"data_dir": str(data_dir), "seed": seed, "n_resamples": n_resamples,
                            "max_distractors": max_distractors, "systems": list(rankers), "reference": reference,
                            "python": platform.python_version()},
               "tasks": [], "skipped": []}
    for name in chosen:
        try:
            outcome = _run_task(name, data_dir, rankers, options, seed=seed, max_distractors=max_distractors,
                                demo_path=demo_path, mind_dir=mind_dir)
        except DatasetMissing as missing:
            log.warning("skipping %s: %s", name, missing)
            results["skipped"].append({"name": name, "reason": f"data not found - {missing}"})
            continue
        for task in outcome:
            reason = degenerate(task)
            if reason:
                log.warning("not reporting %s: degenerate - %s", task["name"], reason)
                results["skipped"].append({"name": task["name"], "reason": f"degenerate - {reason}"})
            else:
                results["tasks"].append(task)
    paths = report.write_reports(results, output_dir, stem=stem, plots=plots)
    return {"results": results, "paths": {k: str(v) for k, v in paths.items()}, "summary": report.summary_line(results)}


def degenerate(task: dict) -> str | None:
    """Why a task's result says nothing (no query left to score, or a headline metric without a value), or None.

    MIND logs whose impressions mostly reference news missing from ``news.tsv`` leave no usable
    impression: the means would be NaN, which the JSON report cannot hold.
    """
    if not task.get("n_queries"):
        return (f"no usable {'impressions' if task.get('kind') == 'impressions' else 'queries'} "
                f"({task.get('description', '')})")
    for system, result in task.get("systems", {}).items():
        for metric in task.get("headline", []):
            mean = result.get("metrics", {}).get(metric, {}).get("mean")
            if mean is None or (isinstance(mean, float) and not math.isfinite(mean)):
                return f"{system} has no value for {metric} over {task['n_queries']} queries"
    return None


def _run_task(name, data_dir, rankers, options, *, seed, max_distractors, demo_path, mind_dir) -> list[dict]:
    if name == "demo-stories":
        task = datasets.with_duplicate_groups(
            datasets.load_demo_stories(Path(demo_path) if demo_path else DEFAULT_DEMO))
        return [harness.evaluate_retrieval(task, rankers, **options)]
    if name == "news-events":
        task = datasets.with_duplicate_groups(datasets.load_news_events(data_dir))
        return [harness.evaluate_retrieval(task, rankers, **options)]
    if name == "reading-lists":
        task = datasets.with_duplicate_groups(datasets.load_news_events(data_dir))
        return [harness.evaluate_reading_lists(task, seed=options["seed"], n_resamples=options["n_resamples"],
                                               progress=options["progress"])]
    if name == "news-events+distractors":
        events = datasets.load_news_events(data_dir)
        distractors = datasets.load_distractors(data_dir, limit=max_distractors, seed=seed)
        task = datasets.with_duplicate_groups(datasets.with_distractors(events, distractors))
        return [harness.evaluate_retrieval(task, rankers, **options)]
    if name == "news-readmore":
        return [harness.evaluate_retrieval(datasets.load_news_readmore(data_dir, seed=seed), rankers, **options)]
    if name == "demo-links":
        task = datasets.load_demo_links(Path(demo_path) if demo_path else DEFAULT_DEMO, seed=seed)
        if not task.relevance:
            raise DatasetMissing("demo corpus has no Read-also link that resolves to another of its articles")
        return [harness.evaluate_retrieval(task, rankers, **options)]
    if name == "sts-headlines":
        return [harness.evaluate_similarity(datasets.load_sts_headlines(data_dir), rankers, **options)]
    if name == "mind":
        directory = Path(mind_dir) if mind_dir else Path(data_dir) / "mind"
        impressions, coclicks = load_mind(directory, seed=seed)
        return [harness.evaluate_impressions(impressions, rankers, **options),
                harness.evaluate_retrieval(coclicks, rankers, **options)]
    raise ValueError(f"unknown task {name!r}")


# --- comparing two result files --------------------------------------------------------------

def compare(a_path: str | Path, b_path: str | Path, *, seed: int = 0, n_resamples: int = 1000) -> dict:
    """Differences B - A for every task, system and headline metric found in both result files.

    Per-query values are paired by query id (Wilcoxon signed-rank, bootstrap interval); STS
    correlations are compared by a paired bootstrap over pairs. Returns ``{"rows": [...], "text": str}``;
    print ``text``.
    """
    a, b = report.read_json(a_path), report.read_json(b_path)
    tasks_b = {task["name"]: task for task in b["tasks"]}
    rows = []
    for task_a in a["tasks"]:
        task_b = tasks_b.get(task_a["name"])
        if task_b is None:
            continue
        for system in task_a["systems"]:
            if system not in task_b["systems"]:
                continue
            for metric in task_a["headline"]:
                row = _compare_metric(task_a, task_b, system, metric, seed=seed, n_resamples=n_resamples)
                if row:
                    rows.append(row)
    lines = [f"B - A   A={a_path}   B={b_path}"]
    width = max((len(f"{r['task']} {r['system']} {r['metric']}") for r in rows), default=20)
    for r in rows:
        label = f"{r['task']} {r['system']} {r['metric']}".ljust(width)
        lines.append(f"{label}  {r['a']:.4f} -> {r['b']:.4f}  {r['diff']:+.4f} [{r['low']:+.4f}, {r['high']:+.4f}]"
                     f"  p={r['p']:.3g} {significance_mark(r['p'])}".rstrip())
    if not rows:
        lines.append("no task and system in common")
    return {"rows": rows, "text": "\n".join(lines)}


def _compare_metric(task_a, task_b, system, metric, *, seed, n_resamples):
    sys_a, sys_b = task_a["systems"][system], task_b["systems"][system]
    if metric not in sys_a["metrics"] or metric not in sys_b["metrics"]:
        return None
    mean_a, mean_b = sys_a["metrics"][metric]["mean"], sys_b["metrics"][metric]["mean"]
    if task_a["kind"] == "similarity":
        if task_a.get("human") != task_b.get("human"):
            return None
        human = np.asarray(task_a["human"])
        x, y = np.asarray(sys_a["similarity"]), np.asarray(sys_b["similarity"])

        def stat(values, idx):
            fn = stats.spearmanr if metric == "spearman" else stats.pearsonr
            return float(fn(human[idx], values[idx]).statistic)

        rng = np.random.default_rng(seed)
        resampled = [stat(y, idx) - stat(x, idx)
                     for idx in (rng.integers(0, human.size, human.size) for _ in range(n_resamples))]
        draws = np.array([d for d in resampled if not math.isnan(d)])
        low, high = np.percentile(draws, [2.5, 97.5])
        p = min(1.0, 2 * float(min(np.mean(draws <= 0), np.mean(draws >= 0))))
        return {"task": task_a["name"], "system": system, "metric": metric, "a": mean_a, "b": mean_b,
                "diff": mean_b - mean_a, "low": float(low), "high": float(high), "p": float(p), "n": int(human.size)}
    values_a = dict(zip(task_a["query_ids"], sys_a["per_query"][metric]))
    values_b = dict(zip(task_b["query_ids"], sys_b["per_query"][metric]))
    common = [q for q in task_a["query_ids"] if q in values_b]
    if not common:
        return None
    before = [math.nan if values_a[q] is None else values_a[q] for q in common]
    after = [math.nan if values_b[q] is None else values_b[q] for q in common]
    test = paired_test(after, before, seed=seed, n_resamples=n_resamples)
    return {"task": task_a["name"], "system": system, "metric": metric, "a": mean_a, "b": mean_b,
            "diff": test.diff, "low": test.low, "high": test.high, "p": test.p_value, "n": test.n}
