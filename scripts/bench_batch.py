"""Benchmark all-pairs top-10 cosine neighbours: readalso's kernel against the usual alternatives.

Methods, each run in its own subprocess on the same saved matrix (clean peak memory):
  readalso  recommender.cosine.all_pairs_top_k (numba, all cores)
  untiled   the same kernel with a single tile (opt-in: --methods readalso,untiled)
  sdt       sparse_dot_topn.sp_matmul_topn(X, X.T, top_n=11, threshold=0, n_threads=2), self dropped
  scipy     naive chunked scipy product: 1000 rows @ X.T, dense block, argpartition
  sklearn   NearestNeighbors(metric="cosine", algorithm="brute", n_jobs=2)

Examples:
  .venv/bin/python scripts/bench_batch.py --synthetic 10000
  .venv/bin/python scripts/bench_batch.py --synthetic 100000 --slow-max 50000
  .venv/bin/python scripts/bench_batch.py --real
  .venv/bin/python scripts/bench_batch.py --synthetic 1000000 --methods readalso --queries 20000

With --queries Q only the first Q rows are queries (all rows stay candidates); the full time is
the one-off setup (inverting the matrix, timed apart) plus the query time scaled linearly to all rows.
"""

from __future__ import annotations

import argparse
import csv
import glob
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
K = 10
METHODS = ("readalso", "sdt", "scipy", "sklearn")


def real_texts(data: Path = DATA) -> list[str]:
    """The ~45k real articles of shared/data as 'title\\nbody' strings."""
    out = []
    with open(data / "reuters21578" / "reuters21578.jsonl", encoding="utf-8") as f:
        out += [f"{r.get('title') or ''}\n{r.get('body') or ''}" for r in map(json.loads, f)]
    with open(next((data / "huffpost-10k").glob("*.jsonl")), encoding="utf-8") as f:
        out += [f"{r.get('headline') or ''}\n{r.get('short_description') or ''}" for r in map(json.loads, f)]
    with open(data / "ag-news-test" / "test.csv", newline="", encoding="utf-8") as f:
        out += [f"{r['title']}\n{r['description']}" for r in csv.DictReader(f)]
    for path in sorted(glob.glob(str(data / "bbc-news" / "bbc" / "*" / "*.txt"))):
        out.append(Path(path).read_text(encoding="latin-1"))
    with open(data / "news-readmore" / "NewsArticles.csv", newline="", encoding="utf-8") as f:
        out += [f"{r['title']}\n{r['text']}" for r in csv.DictReader(f)]
    return out


def real_matrix() -> sp.csr_matrix:
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(sublinear_tf=True, stop_words="english", min_df=2, dtype=np.float32)
    return vectorizer.fit_transform(real_texts()).tocsr()


# --- the methods, run inside the child process -------------------------------------------------

def run_readalso(x, n_queries, tile_rows=None):
    from recommender.cosine import DEFAULT_TILE_ROWS, postings, top_k

    top_k(x[:50], x[:50], K)  # numba compiles (or loads its cache) outside the timing
    start = time.perf_counter()
    index = postings(x, tile_rows=tile_rows or DEFAULT_TILE_ROWS)
    setup = time.perf_counter() - start
    got = top_k(x[:n_queries], index, K, exclude=np.arange(n_queries))
    return time.perf_counter() - start, setup, got.indices


def run_untiled(x, n_queries):
    """readalso's kernel with one tile over all rows (as before tiling): the tiles' own gain."""
    return run_readalso(x, n_queries, tile_rows=x.shape[0])


def run_sdt(x, n_queries):
    from sparse_dot_topn import sp_matmul_topn

    start = time.perf_counter()
    xt = x.T.tocsr()
    setup = time.perf_counter() - start
    c = sp_matmul_topn(x[:n_queries], xt, top_n=K + 1, threshold=0.0, n_threads=2)
    seconds = time.perf_counter() - start
    c = c.tocsr()
    out = np.full((n_queries, K), -1, dtype=np.int64)
    for i in range(n_queries):
        cols, vals = c.indices[c.indptr[i]:c.indptr[i + 1]], c.data[c.indptr[i]:c.indptr[i + 1]]
        keep = cols != i
        cols, vals = cols[keep], vals[keep]
        order = np.lexsort((cols, -vals))[:K]
        out[i, : order.size] = cols[order]
    return seconds, setup, out


def run_scipy(x, n_queries, step=1000):
    start = time.perf_counter()
    xt = x.T.tocsr()
    setup = time.perf_counter() - start
    out = np.full((n_queries, K), -1, dtype=np.int64)
    for lo in range(0, n_queries, step):
        hi = min(n_queries, lo + step)
        block = (x[lo:hi] @ xt).toarray()
        block[np.arange(hi - lo), np.arange(lo, hi)] = -np.inf
        part = np.argpartition(-block, K - 1, axis=1)[:, :K]
        vals = np.take_along_axis(block, part, axis=1)
        order = np.argsort(-vals, axis=1, kind="stable")
        part = np.take_along_axis(part, order, axis=1)
        vals = np.take_along_axis(vals, order, axis=1)
        out[lo:hi] = np.where(vals > 0, part, -1)
    return time.perf_counter() - start, setup, out


def run_sklearn(x, n_queries):
    from sklearn.neighbors import NearestNeighbors

    start = time.perf_counter()
    nn = NearestNeighbors(n_neighbors=K + 1, metric="cosine", algorithm="brute", n_jobs=2).fit(x)
    setup = time.perf_counter() - start
    dist, ind = nn.kneighbors(x[:n_queries])
    seconds = time.perf_counter() - start
    out = np.full((n_queries, K), -1, dtype=np.int64)
    for i in range(n_queries):
        keep = (ind[i] != i) & (dist[i] < 1 - 1e-7)  # drop self and zero similarity
        row = ind[i][keep][:K]
        out[i, : row.size] = row
    return seconds, setup, out


def child(method: str, matrix_path: str, n_queries: int, out_path: str) -> None:
    x = sp.load_npz(matrix_path).tocsr().astype(np.float32)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    seconds, setup, indices = globals()[f"run_{method}"](x, n_queries)
    np.save(out_path, indices)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": seconds, "setup_seconds": setup, "peak_mib": peak / 1024, "loaded_mib": base / 1024}))


# --- the parent --------------------------------------------------------------------------------

def agreement(x, reference, other, n_queries):
    """Share of queries whose neighbour sets equal the reference's, exactly and modulo ties."""
    exact = tied = 0
    for i in range(n_queries):
        a, b = set(reference[i][reference[i] >= 0]), set(other[i][other[i] >= 0])
        if a == b:
            exact += 1
            tied += 1
            continue
        cols = np.array(sorted(a | b), dtype=np.int64)
        scores = (x[i] @ x[cols].T).toarray().ravel()
        score = dict(zip(cols.tolist(), scores.tolist()))
        kth = min(score[j] for j in a) if a else 0.0
        differing = (a ^ b)
        if len(a) == len(b) and all(abs(score[j] - kth) <= 1e-6 for j in differing):
            tied += 1
    return exact / n_queries, tied / n_queries


def bench(name: str, x: sp.csr_matrix, methods, n_queries: int, timeout: float) -> list[dict]:
    n = x.shape[0]
    print(f"\n== {name}: {n} rows, {x.shape[1]} terms, {x.nnz / n:.1f} terms per row, "
          f"{n_queries} queries", flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        matrix_path = os.path.join(tmp, "x.npz")
        sp.save_npz(matrix_path, x, compressed=False)
        results = {}
        for method in methods:
            print(f"  running {method} ...", flush=True)
            out_path = os.path.join(tmp, f"{method}.npy")
            cmd = [sys.executable, __file__, "--child", method, matrix_path, str(n_queries), out_path]
            try:
                done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
            except subprocess.TimeoutExpired:
                print(f"  {method}: timed out after {timeout:.0f} s", flush=True)
                rows.append({"method": method, "seconds": None})
                continue
            if done.returncode != 0:
                print(f"  {method}: failed\n{done.stderr[-2000:]}", flush=True)
                continue
            info = json.loads(done.stdout.strip().splitlines()[-1])
            info["method"] = method
            results[method] = np.load(out_path)
            rows.append(info)
            print(f"  {method}: {info['seconds']:.2f} s, peak RSS {info['peak_mib']:.0f} MiB "
                  f"(after loading the matrix {info['loaded_mib']:.0f} MiB)", flush=True)
    anchor = next((r["seconds"] for r in rows if r["method"] == "sdt" and r.get("seconds")), None)
    scale = n / n_queries
    print(f"\n  {'method':<10}{'seconds':>10}{'full run s':>12}{'vs sdt':>9}{'peak MiB':>10}"
          f"{'same set':>10}{'mod ties':>10}")
    for r in rows:
        if r.get("seconds") is None:
            print(f"  {r['method']:<10}{'timeout':>10}")
            continue
        ratio = f"{anchor / r['seconds']:.2f}x" if anchor else "-"
        same = tied = float("nan")
        if "readalso" in results and r["method"] in results:
            same, tied = agreement(x, results["readalso"], results[r["method"]], n_queries)
        full = r["setup_seconds"] + (r["seconds"] - r["setup_seconds"]) * scale
        r.update(ratio_to_sdt=(anchor / r["seconds"]) if anchor else None, same_set=same, modulo_ties=tied,
                 extrapolated_seconds=full)
        print(f"  {r['method']:<10}{r['seconds']:>10.2f}{full:>12.1f}{ratio:>9}"
              f"{r['peak_mib']:>10.0f}{same:>10.4f}{tied:>10.4f}")
    if n_queries < n:
        print(f"  ('full run s' = one-off setup (inverting the matrix) + query time scaled linearly from "
              f"{n_queries} queries to all {n} rows)")
    print("  'vs sdt' = sdt seconds / method seconds (above 1 is faster than sparse_dot_topn)")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--synthetic", type=int, nargs="*", default=[], help="synthetic corpus sizes")
    parser.add_argument("--real", action="store_true", help="the ~45k real articles of shared/data")
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated subset")
    parser.add_argument("--slow-max", type=int, default=50_000,
                        help="run scipy and sklearn only up to this many rows (they are slow)")
    parser.add_argument("--others-max", type=int, default=200_000,
                        help="run anything but readalso (and untiled) only up to this many rows")
    parser.add_argument("--queries", type=int, default=None, help="only the first Q rows are queries")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per method")
    parser.add_argument("--json", type=Path, default=None, help="append the figures to this file")
    args = parser.parse_args()
    wanted = [m for m in args.methods.split(",") if m]
    all_rows = []
    sets = [(f"synthetic {n}", n) for n in args.synthetic] + ([("real news", None)] if args.real else [])
    for name, n in sets:
        start = time.perf_counter()
        if n is None:
            x = real_matrix()
        else:
            from recommender.synthetic import generate_tfidf

            x, _ = generate_tfidf(n, seed=0)
        print(f"\n{name}: matrix built in {time.perf_counter() - start:.1f} s", flush=True)
        rows = x.shape[0]
        methods = []
        for m in wanted:
            if m not in ("readalso", "untiled") and rows > args.others_max:
                print(f"  skipping {m}: {rows} rows > --others-max {args.others_max} (too long here)")
            elif m in ("scipy", "sklearn") and rows > args.slow_max:
                print(f"  skipping {m}: {rows} rows > --slow-max {args.slow_max} (too long here)")
            else:
                methods.append(m)
        n_queries = min(rows, args.queries or rows)
        for r in bench(name, x, methods, n_queries, args.timeout):
            all_rows.append({"set": name, "rows": rows, "queries": n_queries, **r})
    if args.json:
        with open(args.json, "a", encoding="utf-8") as f:
            for r in all_rows:
                f.write(json.dumps(r) + "\n")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        sys.path.insert(0, str(ROOT))
        child(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
    else:
        sys.path.insert(0, str(ROOT))
        main()
