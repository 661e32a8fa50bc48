#!/usr/bin/env python
"""Evaluate the engine and every baseline on every ground truth found; write JSON, Markdown, HTML.

    .venv/bin/python scripts/evaluate.py                      # everything under ../shared/data -> reports/
    .venv/bin/python scripts/evaluate.py --tasks news-events --systems engine tfidf
    .venv/bin/python scripts/evaluate.py --compare reports/a.json reports/b.json
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recommender.evaluation import TASKS, compare, run  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", help="folder of the public data sets (default ../shared/data)")
    parser.add_argument("--output-dir", default="reports", help="where the reports go (default reports/)")
    parser.add_argument("--stem", default="evaluation", help="file name stem of the reports")
    parser.add_argument("--tasks", nargs="+", choices=TASKS, help="ground truths to run (default all)")
    parser.add_argument("--systems", nargs="+", help="systems to run (default engine, ablations and baselines)")
    parser.add_argument("--no-ablation", action="store_true", help="skip the engine-no-<signal> variants")
    parser.add_argument("--max-distractors", type=int, default=20_000, help="distractor articles (default 20000)")
    parser.add_argument("--demo", help="demo corpus JSON Lines (default data/demo/articles.jsonl)")
    parser.add_argument("--mind-dir", help="folder with MIND news.tsv + behaviors.tsv (default <data-dir>/mind)")
    parser.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples (default 1000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-plots", action="store_true")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--compare", nargs=2, metavar=("A.json", "B.json"), help="print B - A with significance")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.compare:
        print(compare(*args.compare, seed=args.seed, n_resamples=args.resamples)["text"])
        return 0
    command = " ".join(shlex.quote(part) for part in [".venv/bin/python", "scripts/evaluate.py", *sys.argv[1:]]) \
        if argv is None else "scripts/evaluate.py " + " ".join(argv)
    outcome = run(args.data_dir, args.output_dir, tasks=args.tasks, systems=args.systems, seed=args.seed,
                  n_resamples=args.resamples, max_distractors=args.max_distractors, demo_path=args.demo,
                  mind_dir=args.mind_dir, ablation=not args.no_ablation, plots=not args.no_plots,
                  progress=not args.quiet, stem=args.stem, command=command)
    print(outcome["summary"])
    for kind, path in outcome["paths"].items():
        print(f"{kind}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
