#!/usr/bin/env python
"""The one evaluation command: ``readalso evaluate`` with the same options.

    .venv/bin/python scripts/evaluate.py                      # everything under ../shared/data -> reports/
    .venv/bin/python scripts/evaluate.py --tasks news-events --systems engine --systems tfidf
    .venv/bin/python scripts/evaluate.py --compare reports/a.json reports/b.json
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recommender.cli import cli

if __name__ == "__main__":
    cli(["evaluate", *sys.argv[1:]], prog_name="readalso")
