#!/usr/bin/env python
"""nDCG@10 and MAP of the engine and of plain TF-IDF cosine (scikit-learn defaults on title + text)
on the news-events clusters, measured in the same run.

    .venv/bin/python scripts/evaluate_events.py [--data-dir ../shared/data]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recommender.evaluation import datasets, harness
from recommender.evaluation.baselines import PlainTfidfRanker
from recommender.evaluation.runner import DEFAULT_DATA_DIR
from recommender.evaluation.systems import EngineRanker


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR))
    args = parser.parse_args(argv)
    try:
        task = datasets.load_news_events(args.data_dir)
    except datasets.DatasetMissing as missing:
        print(f"skipped: {missing}", file=sys.stderr)
        return 1
    result = harness.evaluate_retrieval(task, {"engine": EngineRanker(), "tfidf": PlainTfidfRanker()},
                                        reference="engine", progress=False)
    print(f"{task.name}: {result['n_queries']} queries, {result['n_articles']} articles")
    print(f"{'system':8s}  {'nDCG@10':>22s}  {'MAP':>22s}")
    for name, system in result["systems"].items():
        cells = [f"{m['mean']:.3f} [{m['low']:.3f}, {m['high']:.3f}]"
                 for m in (system["metrics"][k] for k in ("ndcg@10", "map"))]
        print(f"{name:8s}  {cells[0]:>22s}  {cells[1]:>22s}")
    for metric in ("ndcg@10", "map"):
        test = result["paired"]["tfidf"][metric]
        print(f"tfidf - engine {metric}: {test['diff']:+.3f} [{test['low']:+.3f}, {test['high']:+.3f}], "
              f"Wilcoxon p={test['p']:.3g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
