"""Evaluation: metrics (pure functions), ground-truth loaders, baselines, harness and reports.

>>> from recommender.evaluation import run, compare
>>> outcome = run(output_dir="reports")          # every ground truth found under ../shared/data
>>> print(outcome["summary"])
>>> print(compare("reports/a.json", "reports/b.json")["text"])
"""

from recommender.evaluation.runner import TASKS, compare, run

__all__ = ["run", "compare", "TASKS"]
