"""Build time with and without neighbour expansion, measured in one run.

Usage:
    .venv/bin/python scripts/bench_build.py --size 100000 [--repeats 1]

A synthetic corpus (recommender.synthetic: Zipfian words, planted stories) is rendered as text
articles (pseudo-words ``w<id>``, one language, no links) and ``Engine(config).fit`` fits it twice
per repeat: with ``EngineConfig(expansion=0)`` (the build before neighbour expansion) and with the
default configuration (every vector blended with its nearest neighbours: one all-pairs top-k pass
with the exact kernel). Prints both wall times, the ratio, and the search rows' sizes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recommender import synthetic
from recommender.articles import Article
from recommender.engine import Engine, EngineConfig


def articles(n: int, seed: int = 0) -> list[Article]:
    corpus = synthetic.generate_counts(n, seed=seed)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    return [Article(id=f"a{i}", headline=" ".join(text.split()[:12]), body=text,
                    published_at=start + timedelta(minutes=15 * i))
            for i, text in enumerate(synthetic.texts(corpus, max_docs=n))]


def timed_build(corpus: list[Article], config: EngineConfig) -> tuple[float, Engine]:
    started = time.perf_counter()
    engine = Engine(config).fit(corpus)
    return time.perf_counter() - started, engine


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    corpus = articles(args.size)
    rows = []
    for _ in range(args.repeats):
        plain, engine = timed_build(corpus, EngineConfig(expansion=0))
        expanded, engine = timed_build(corpus, EngineConfig())
        rows.append({"plain_s": round(plain, 1), "expanded_s": round(expanded, 1),
                     "ratio": round(expanded / plain, 2)})
        print(json.dumps(rows[-1]), flush=True)
    index = engine.index
    print(json.dumps({"articles": args.size, "nnz_per_row": round(index.matrix.nnz / args.size, 1),
                      "expanded_nnz_per_row": round(index.expanded.nnz / args.size, 1),
                      "median_ratio": sorted(r["ratio"] for r in rows)[len(rows) // 2]}))


if __name__ == "__main__":
    main()
