"""Offline scoring of the archive: the related list of every article, in parallel row blocks.

Each block of rows goes through the one ranking pipeline (``recommender.pipeline.rank``) as a block
of queries, the way a live query goes through it as a block of one: the same top-k kernel over the
expanded search rows (the article itself excluded, only rows of its language when the engine ranks
within a language), the same model and shaping. So a batch list equals ``engine.related(id, k)``
for the same model version.

Blocks run on joblib (local processes) or on dask.distributed workers through joblib's Dask
backend; the code path is the same. Workers receive the artifact directory (and store) *paths*
and load the engine memory-mapped once per process, so Dask workers must see the same paths
(same machine or a shared file system). A worker only computes; the calling process writes each
finished block to ``<work>/block-NNNNNN.jsonl`` (temporary file, then rename), so an interrupted
run resumes: blocks with a finished file are not recomputed. Finished blocks are then merged, in
row order, into the JSON Lines output and the store's ``related_lists`` table.

Memory (bytes), for N index rows of T terms with nnz stored terms, J parallel jobs, B rows per
block and C = candidates.search_depth(k) candidates:

    peak ~ S + J * (P + 8 T (N / 131072 + 2) + 12 B C),   S = 8 nnz + 8 N,   P = 8 nnz + 8 T

S is the CSR matrix (float32 values, int32 term ids, int64 row pointers): memory-mapped from the
artifact, so its pages are shared. Each job builds the inverted postings P once (the index's
``postings``, which live queries use too) and their tile boundaries (``cosine.term_postings``: one
pointer per term and tile of 131,072 rows); the kernel adds a 1 MiB accumulator per thread. For
1M articles of ~185 terms (S ~ P ~ 1.5 GB) and J = 2 that is ~4.5 GB. See docs/batch.md.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed, parallel_config
from tqdm import tqdm

from recommender import articles, pipeline
from recommender.artifacts import load_engine as load_artifact
from recommender.engine import Engine, check_k
from recommender.ranking import Ranking
from recommender.store import Store

log = logging.getLogger(__name__)

MIN_BLOCK_ROWS = 64
MAX_BLOCK_ROWS = 8192


@dataclass(frozen=True)
class BatchReport:
    """What a batch run did."""

    model_version: str
    articles: int
    blocks: int
    computed_blocks: int
    reused_blocks: int
    block_rows: int
    seconds: float
    out: Path | None

    @property
    def articles_per_second(self) -> float:
        return self.articles / self.seconds if self.seconds > 0 else float("inf")


def default_block_rows(n_selected: int, n_jobs: int) -> int:
    """Rows per block: about four blocks per job (progress, resumability), within 64..8192.

    Each process builds the postings once and keeps them, so a block costs little beyond its rows;
    smaller blocks lose less work on an interruption. Memory hardly depends on it (see the module docstring).
    """
    return int(min(MAX_BLOCK_ROWS, max(MIN_BLOCK_ROWS, math.ceil(n_selected / max(1, 4 * n_jobs)))))


def select_rows(engine: Engine, *, ids: Sequence[str] | None = None, since: datetime | None = None) -> np.ndarray:
    """Index rows to score, in row order: every live article, or only ``ids``, or only those published since."""
    index = engine.index
    alive = index.alive.copy()
    if ids is not None:
        unknown = [i for i in ids if i not in index.row_of or not alive[index.row_of[i]]]
        if unknown:
            shown = ", ".join(repr(i) for i in unknown[:5]) + (" ..." if len(unknown) > 5 else "")
            raise articles.UnknownIds(f"{len(unknown)} unknown article id(s): {shown}")
        chosen = np.zeros_like(alive)
        chosen[[index.row_of[i] for i in ids]] = True
        alive &= chosen
    if since is not None:
        with np.errstate(invalid="ignore"):
            alive &= index.published >= since.timestamp()
    return np.flatnonzero(alive)


def score_rows(engine: Engine, rows: np.ndarray, k: int, *,
               n_threads: int | None = None) -> list[tuple[str, list[tuple[str, float, str, float | None]], float]]:
    """``(article_id, Ranking.rows(), Ranking.reach)`` for index rows: the ranking ``engine.related`` gives them.

    ``n_threads`` goes to the top-k kernel (1 inside parallel workers, so they do not oversubscribe the cores).
    """
    index = engine.index
    rows = np.asarray(rows, dtype=np.int64)
    results: dict[int, Ranking] = {}
    groups = np.unique(index.languages[rows]) if engine.config.same_language else [None]
    for language in groups:
        group = rows if language is None else rows[index.languages[rows] == language]
        queries = [engine.query(index.ids[row]) for row in group]
        rankings = pipeline.rank(engine, queries, k, index.mask(language=language), n_threads=n_threads,
                                 vectors=index.expanded[group])
        results.update((int(row), ranking) for row, ranking in zip(group, rankings))
    return [(index.ids[row], results[int(row)].rows(), results[int(row)].reach) for row in rows]


def run_batch(artifact: str | os.PathLike, db: str | os.PathLike, *, k: int = 10,
              out: str | os.PathLike | None = None, ids: Sequence[str] | None = None, since: datetime | None = None,
              block_rows: int | None = None, n_jobs: int = 1, dask: str | None = None,
              work_dir: str | os.PathLike | None = None, write_store: bool = True, progress: bool | None = None,
              on_block: Callable[[int], None] | None = None) -> BatchReport:
    """Score the selected articles of the model in ``artifact``; write JSON Lines and/or the store's lists.

    ``db`` is the store (editors' pins and blocks shape the lists, as they do live; the lists are
    written to its ``related_lists`` table unless ``write_store`` is false).

    ``dask`` is ``"local"`` (a LocalCluster of ``n_jobs`` single-threaded worker processes) or a
    scheduler address such as ``tcp://host:8786``; otherwise joblib runs ``n_jobs`` local processes.
    Finished blocks are kept under ``work_dir`` (default: beside the artifact) until the merge
    succeeds, so rerunning after an interruption redoes only unfinished blocks. ``on_block`` is
    called with each finished block's number (after its file is written).
    """
    check_k(k)
    if n_jobs < 1:
        raise ValueError(f"n_jobs must be at least 1, got {n_jobs}")
    artifact = Path(artifact).resolve()
    db_path = str(Path(db).resolve())
    engine = load_engine(str(artifact), db_path)
    version = engine.version
    assert version is not None  # an engine loaded from an artifact knows its version
    rows = select_rows(engine, ids=ids, since=since)
    block = block_rows or default_block_rows(rows.size, n_jobs)
    if block < 1:
        raise ValueError(f"block_rows must be at least 1, got {block}")
    blocks = [rows[start : start + block] for start in range(0, rows.size, block)]
    work = (Path(work_dir) if work_dir is not None
            else artifact.parent / "batch" / _run_key(version, k, block, rows))
    work.mkdir(parents=True, exist_ok=True)
    pending = [(n, b) for n, b in enumerate(blocks) if not _block_path(work, n).exists()]
    reused = len(blocks) - len(pending)
    log.info("batch %s: %d articles in %d blocks of %d rows (%d already done) in %s",
             engine.version, rows.size, len(blocks), block, reused, work)
    started = time.perf_counter()
    done_rows = int(sum(blocks[n].size for n in range(len(blocks)) if _block_path(work, n).exists()))
    with tqdm(total=int(rows.size), initial=done_rows, unit=" articles", desc="batch", file=sys.stderr,
              disable=None if progress is None else not progress, smoothing=0.1) as bar:
        for n, results in _run_blocks(str(artifact), db_path, k, pending, n_jobs, dask):
            _write_block(work, n, results)
            bar.update(len(results))
            if on_block is not None:
                on_block(n)
    computed_seconds = time.perf_counter() - started
    _merge(work, len(blocks), engine.lists_key or version, out, db_path if write_store else None)
    shutil.rmtree(work, ignore_errors=True)
    return BatchReport(model_version=version, articles=int(rows.size), blocks=len(blocks),
                       computed_blocks=len(pending), reused_blocks=reused, block_rows=block,
                       seconds=computed_seconds, out=Path(out) if out is not None else None)


@lru_cache(maxsize=2)
def load_engine(artifact: str, db: str) -> Engine:
    """The engine of an artifact directory with its store, loaded once per process (arrays memory-mapped).

    Batch workers (local processes or Dask workers) call this with paths, never receive the engine.
    """
    return load_artifact(artifact, Store(db, create=False), verify=False)


def _score_block(artifact: str, db: str, k: int, number: int, rows: np.ndarray, n_threads: int | None = 1):
    return number, score_rows(load_engine(artifact, db), rows, k, n_threads=n_threads)


def _run_blocks(artifact: str, db: str, k: int, pending: list[tuple[int, np.ndarray]], n_jobs: int,
                dask: str | None) -> Iterable[tuple[int, list]]:
    """Finished blocks, as they finish, from joblib processes or from Dask workers."""
    if not pending:
        return
    tasks = (delayed(_score_block)(artifact, db, k, n, rows) for n, rows in pending)
    if dask is None:
        if n_jobs == 1:
            yield from (_score_block(artifact, db, k, n, rows, n_threads=None) for n, rows in pending)
            return
        with parallel_config(backend="loky", n_jobs=n_jobs):
            yield from Parallel(return_as="generator_unordered")(tasks)
        return
    from distributed import Client, LocalCluster
    if dask == "local":
        cluster = LocalCluster(n_workers=n_jobs, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
    else:
        cluster, client = None, Client(dask)
    try:
        with parallel_config(backend="dask", n_jobs=-1):
            yield from Parallel(return_as="generator_unordered")(tasks)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _run_key(version: str | None, k: int, block: int, rows: np.ndarray) -> str:
    digest = hashlib.sha256(f"{version}|{k}|{block}|".encode() + np.ascontiguousarray(rows, dtype=np.int64).tobytes())
    return f"{version}-k{k}-{digest.hexdigest()[:12]}"


def _block_path(work: Path, number: int) -> Path:
    return work / f"block-{number:06d}.jsonl"


def _write_block(work: Path, number: int,
                 results: list[tuple[str, list[tuple[str, float, str, float | None]], float]]) -> None:
    """One finished block, written to a temporary file and renamed (a block file is complete or absent)."""
    path = _block_path(work, number)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        for article_id, related, reach in results:
            handle.write(json.dumps([article_id, related, reach], ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def _read_block(work: Path, number: int) -> list[tuple[str, list[tuple[str, float, str, float | None]], float]]:
    with open(_block_path(work, number), encoding="utf-8") as handle:
        return [(item[0], [(r[0], r[1], r[2], r[3]) for r in item[1]], item[2]) for item in map(json.loads, handle)]


def _merge(work: Path, n_blocks: int, version: str, out: str | os.PathLike | None, db: str | None) -> None:
    """Finished blocks, in row order, into the JSON Lines file (atomically) and the store table."""
    tmp = None if out is None else Path(out).with_name(f".{Path(out).name}.partial")
    with contextlib.ExitStack() as stack:
        store = stack.enter_context(Store(db, create=False)) if db is not None else None
        handle = stack.enter_context(open(tmp, "w", encoding="utf-8")) if tmp is not None else None
        for number in range(n_blocks):
            results = _read_block(work, number)
            if handle is not None:
                for article_id, related, _reach in results:
                    handle.write(json.dumps({"id": article_id,
                                             "related": [{"id": t, "score": s, "reason": r, "editor_probability": p}
                                                         for t, s, r, p in related]},
                                            ensure_ascii=False) + "\n")
            if store is not None:
                store.lists.replace(version, results)
    if tmp is not None and out is not None:
        os.replace(tmp, out)


__all__ = ["BatchReport", "default_block_rows", "load_engine", "run_batch", "score_rows", "select_rows"]
