"""Latency of live ``Engine.related(id, 5)`` on a built store, and a check that rankings did not change.

Usage:
    .venv/bin/python scripts/bench_live.py DB [--limit N]                  # p50/p99 over every id, warm
    .venv/bin/python scripts/bench_live.py DB --dump before.json [--limit N]
    .venv/bin/python scripts/bench_live.py DB --compare before.json [--limit N]

The plain run also times each ranking's first search alone (the exact top-k kernel at the
pipeline's depth): the floor of a live ranking, whatever the shaping costs; and, on a sample,
how much of that search safe dynamic pruning (MaxScore) could not skip.

``--dump`` writes ``related(id, k)`` for k = 5 and 10 of every article (plus, for a sample, with
diversity 0.3 and with a max-age filter) at a fixed ``now``; ``--compare`` recomputes them and
reports every query whose ids, order, reasons or scores (to 1e-6) differ. Run ``--dump`` before a
change to the scoring path and ``--compare`` after it (docs/performance.md, "Live queries and HTTP").
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recommender.candidates import search_depth
from recommender.pipeline import search
from recommender.ranking import Filters
from recommender.versions import open_engine

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def rankings(engine, ids: list[str]) -> dict[str, list]:
    out = {}
    for k in (5, 10):
        for i in ids:
            out[f"{i}|{k}"] = [[r.id, r.score, r.reason] for r in engine.related(i, k, now=NOW)]
    for i in ids[:: max(1, len(ids) // 200)]:
        out[f"{i}|div"] = [[r.id, r.score, r.reason] for r in engine.related(i, 8, diversity=0.3, now=NOW)]
        out[f"{i}|age"] = [[r.id, r.score, r.reason]
                           for r in engine.related(i, 5, filters=Filters(max_age_days=4000), now=NOW)]
    return out


def same(a: list, b: list) -> bool:
    """Same ids, order and reasons, scores within one unit of their sixth decimal (they are rounded there)."""
    return len(a) == len(b) and all(x[0] == y[0] and round(abs(x[1] - y[1]), 9) <= 1e-6 and x[2] == y[2]
                                    for x, y in zip(a, b))


def unprunable_share(engine, ids: list[str]) -> list[float]:
    """For each query, the share of its search's postings that safe dynamic pruning (MaxScore with each term's
    largest weight as its bound) would still read in full: the postings of the strongest-bound terms until
    the bounds of the terms left sum below the search's last kept score. The rest could only be skipped to,
    not skipped. Queries with fewer related rows than the search depth are left out."""
    by_term = engine.index.expanded.tocsc()
    lengths = np.diff(by_term.indptr)
    largest = np.zeros(by_term.shape[1])
    filled = lengths > 0
    largest[filled] = np.maximum.reduceat(by_term.data, by_term.indptr[:-1][filled])
    depth, shares = search_depth(5, engine.model_active), []
    for i in ids:
        query = engine.query(i)
        hits = search(engine, query.search_vector, depth, search_mask(engine, query), np.asarray([query.row]), 1)
        kept = hits.scores[0][hits.indices[0] >= 0]
        if kept.size < depth:  # fewer related rows than the depth: nothing to prune against
            continue
        last = float(kept[-1])
        terms = query.search_vector.indices
        bounds = query.search_vector.data * largest[terms]
        order = np.argsort(-bounds, kind="stable")
        left = np.cumsum(bounds[order][::-1])[::-1]  # bound of the terms from each position on
        read = int(np.argmax(left < last)) if (left < last).any() else order.size
        postings = lengths[terms[order]]
        shares.append(float(postings[:read].sum() / max(1, postings.sum())))
    return shares


def search_alone(engine, ids: list[str]) -> list[float]:
    """Seconds of each ranking's first search alone (the exact top-k kernel at the pipeline's depth for k = 5):
    the part of a live ranking no shaping work can remove."""
    depth, times = search_depth(5, engine.model_active), []
    for i in ids:
        query = engine.query(i)
        mask = search_mask(engine, query)
        start = time.perf_counter()
        search(engine, query.search_vector, depth, mask, np.asarray([query.row]), 1)
        times.append(time.perf_counter() - start)
    return times


def search_mask(engine, query):
    """The rows a live ranking of a stored article searches without filters: its language's live rows, not itself."""
    language = engine.index.languages[query.row] if engine.config.same_language else None
    return engine.index.mask(language=language, exclude=[query.id])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db", type=Path)
    parser.add_argument("--limit", type=int, default=None, help="only the first N live ids")
    parser.add_argument("--dump", type=Path, help="write the rankings here")
    parser.add_argument("--compare", type=Path, help="compare the rankings with a dump")
    args = parser.parse_args()
    _, engine = open_engine(args.db)
    ids = [i for r, i in enumerate(engine.index.ids) if engine.index.alive[r]][: args.limit]
    if args.dump or args.compare:
        found = rankings(engine, ids)
        if args.dump:
            args.dump.write_text(json.dumps(found))
            print(f"{args.db}: wrote {len(found)} rankings (model active: {engine.model_active})")
            return 0
        reference = json.loads(args.compare.read_text())
        differ = [key for key, ranking in found.items() if not same(reference.get(key, []), ranking)]
        for key in differ[:5]:
            print("differs:", key, reference.get(key), found[key])
        print(f"{args.db}: {len(found)} rankings, {len(differ)} differ (model active: {engine.model_active})")
        return 1 if differ else 0
    for i in ids[:20]:
        engine.related(i, 5)
    times = []
    for _ in range(2 if len(ids) < 1000 else 1):
        for i in ids:
            start = time.perf_counter()
            engine.related(i, 5)
            times.append(time.perf_counter() - start)
    ms, alone = np.asarray(times) * 1000, np.asarray(search_alone(engine, ids)) * 1000
    print(f"{args.db}: {len(ids)} queries over {len(engine.index.ids)} rows, model active: {engine.model_active}; "
          f"p50 {np.percentile(ms, 50):.2f} ms, p99 {np.percentile(ms, 99):.2f} ms; "
          f"its search alone p50 {np.percentile(alone, 50):.2f} ms, p99 {np.percentile(alone, 99):.2f} ms")
    essential = np.asarray(unprunable_share(engine, ids[:: max(1, len(ids) // 300)]))
    print(f"share of a search's postings an exact pruned search (MaxScore, per-term maxima) must still read in "
          f"full: median {np.median(essential):.2f}, p10 {np.percentile(essential, 10):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
