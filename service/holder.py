"""The served model: the current ``Engine`` and its ``Store``, swapped atomically on reload.

A request takes one ``Snapshot`` at its start and uses it to the end, so a reload never
changes the model under a request in flight: the new snapshot is loaded fully, verified,
and only then replaces the reference. A broken artifact is refused and the old snapshot
keeps serving. Broken means what the artifact layer reports (``ArtifactError``: missing
or unreadable files, checksum mismatches, another format); any other error while loading is
a bug and propagates rather than passing for a damaged file.

Several server processes (gunicorn workers) serve the same store. Each keeps its own
snapshot and agrees with the others through two cheap reads of the store's ``meta`` table
per request: ``articles_changed`` (bumped by a trigger on every article write, by any
process) makes the engine ``sync`` new or changed articles; ``served_model`` (written by a
reload) makes every worker load the artifact version the last reload chose.

Each process leases the version it serves (``artifacts.lease``), so pruning never removes it.
At start-up an unusable ``CURRENT`` (or served version) falls back to the newest intact
version, with a warning, and ``EngineHolder.degraded`` says why until a reload succeeds.
``EngineHolder.artifact_problem()`` re-checks the served files' checksums whenever their size
or modification time changes (cheap otherwise), so flipped bytes are found without a restart.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from recommender import artifacts
from recommender.engine import Engine
from recommender.store import CHANGE_COUNTER, SERVED_MODEL, Store
from recommender.sync import sync_with_store

log = logging.getLogger(__name__)
MAX_CACHED = 10_000


class ModelUnavailable(RuntimeError):
    """No model is loaded (nothing built yet, or the artifact could not be read)."""


class ReloadRefused(RuntimeError):
    """The artifact asked for is broken; the old model keeps serving."""


class Busy(RuntimeError):
    """No turn at the engine within the request's time budget."""


@dataclass
class Snapshot:
    """One loaded model with the store connection it reads articles from.

    ``lock`` serialises use of the engine and the connection within a process: the engine
    grows in place when articles are added, and a threaded server must not rank meanwhile.
    With gunicorn's sync workers there is one request per process and the lock is free.
    """

    store: Store
    engine: Engine | None
    changes_seen: int
    lock: threading.RLock = field(default_factory=threading.RLock)
    rankings: dict = field(default_factory=dict)  # key -> (expires, payload): answers reused for a short while
    directory: Path | None = None  # the artifact version loaded

    def cached(self, key, ttl: float, compute):
        """``compute()``'s answer for ``key``, reused for ``ttl`` seconds or until an article changes."""
        if ttl <= 0:
            return compute()
        now = time.monotonic()
        with self.lock:
            hit = self.rankings.get(key)
            if hit is not None and hit[0] > now:
                return hit[1]
            payload = compute()
            if len(self.rankings) >= MAX_CACHED:
                self.rankings.clear()
            self.rankings[key] = (now + ttl, payload)
            return payload

    def forget_rankings(self) -> None:
        with self.lock:
            self.rankings.clear()

    @property
    def version(self) -> str | None:
        return self.engine.version if self.engine else None

    def article(self, article_id: str):
        """A stored article, or None."""
        with self.lock:
            return self.store.articles.get(article_id)

    def require_engine(self) -> Engine:
        if self.engine is None:
            raise ModelUnavailable("no model is loaded: run 'readalso build', then POST /v1/admin/reload")
        return self.engine

    def sync(self, changes: int | None = None, *, timeout: float | None = None) -> int:
        """Bring the engine up to date with the store; returns how many articles were added.

        ``changes``: the store's change counter if the caller has just read it. ``timeout``: the
        longest wait for the lock (``Busy`` after it); None waits as long as it takes.
        """
        if not self.lock.acquire(timeout=-1 if timeout is None else timeout):
            raise Busy(f"no turn at the engine within {timeout:g} s")
        try:
            changes = self.store.changes.count() if changes is None else changes
            if changes == self.changes_seen or self.engine is None:
                self.changes_seen = changes
                return 0
            added = sync_with_store(self.engine, self.store)
            self.changes_seen = changes
            self.rankings.clear()
            if added:
                log.info("synced %d new or changed articles into model %s", added, self.engine.version)
            return added
        finally:
            self.lock.release()


class EngineHolder:
    """Owns the current snapshot of one process; thread-safe."""

    def __init__(self, db: str | os.PathLike, model_root: str | os.PathLike):
        self.db = Path(db)
        self.model_root = Path(model_root)
        self._current: Snapshot | None = None
        self._swap = threading.Lock()
        self._refused: set[str] = set()
        self.reloads = 0
        self.degraded: str | None = None
        """Why the process serves another version than the one asked for (None: it serves that one)."""
        self._checked: tuple[Path, tuple, str | None] | None = None  # (directory, file stats, problem)

    # -- loading ------------------------------------------------------------------------------
    def start(self) -> Snapshot:
        """Open the store and load the model the store says is served, else the newest built.

        When that version (or ``CURRENT``) is unusable, the newest intact version is loaded
        instead, loudly, and ``degraded`` says so. A missing model is not fatal: the service
        answers 503 on rankings until a reload.
        """
        store = Store(self.db)
        asked, errors = [], []
        wanted = store.meta.get(SERVED_MODEL)
        if isinstance(wanted, str) and wanted and Path(wanted).name == wanted and (self.model_root / wanted).is_dir():
            asked.append(self.model_root / wanted)
        try:
            asked.append(artifacts.current(self.model_root))
        except artifacts.ArtifactError as error:
            if artifacts.versions(self.model_root):  # versions exist, so CURRENT is damaged rather than unwritten
                errors.append(str(error))
        snapshot = None
        for directory in dict.fromkeys(asked):
            try:
                snapshot = self._load(directory, store)
                break
            except artifacts.ArtifactError as error:
                errors.append(f"{directory.name}: {error}")
        if snapshot is None and errors:
            for directory in artifacts.versions(self.model_root):
                if directory in asked or not artifacts.intact(directory):
                    continue
                try:
                    snapshot = self._load(directory, store)
                except artifacts.ArtifactError as error:
                    errors.append(f"{directory.name}: {error}")
                    continue
                break
        if snapshot is None:
            log.warning("serving without a model: %s", "; ".join(errors) or "nothing built yet")
            snapshot = Snapshot(store, None, store.changes.count())
        elif errors:
            self.degraded = f"serving {snapshot.version} instead: " + "; ".join(errors)
            log.warning("DEGRADED: %s", self.degraded)
        self._current = snapshot
        return snapshot

    def _load(self, directory: Path, store: Store | None = None) -> Snapshot:
        """Load and verify an artifact into a new snapshot; raises ArtifactError if it is unusable."""
        store = store or Store(self.db)
        changes = store.changes.count()  # read before syncing: a write racing the load is caught next request
        engine = artifacts.load_engine(directory, store, verify=True)
        _smoke_test(engine)
        sync_with_store(engine, store)
        artifacts.lease(directory)
        self._checked = (Path(directory), _file_stats(directory), None)  # just verified in full
        log.info("loaded model %s (%d articles)", engine.version, len(engine.index))
        return Snapshot(store, engine, changes, directory=Path(directory))

    def _swapped(self, old: Snapshot, new: Snapshot) -> None:
        if old.directory is not None and old.directory != new.directory:
            artifacts.release(old.directory)

    def artifact_problem(self) -> str | None:
        """What is wrong with the served version's files (a checksum mismatch, a missing file), or None.

        Checksums are re-read only when a file's size or modification time changed since the last check.
        """
        snapshot = self._current
        if snapshot is None or snapshot.directory is None:
            return None
        stats = _file_stats(snapshot.directory)
        if self._checked is not None and self._checked[:2] == (snapshot.directory, stats):
            return self._checked[2]
        problems = artifacts.verify(snapshot.directory)
        problem = "; ".join(problems) if problems else None
        if problem:
            log.error("the served model %s is damaged: %s", snapshot.version, problem)
        self._checked = (snapshot.directory, stats, problem)
        return problem

    def reload(self, version: str | None = None) -> tuple[Snapshot, Snapshot]:
        """Swap in ``version`` (default: the newest built, ``CURRENT``); returns ``(old, new)``.

        Other processes follow through the store's ``served_model`` key.
        """
        with self._swap:
            old = self.current()
            try:
                directory = self.model_root / version if version else artifacts.current(self.model_root)
                if version and (Path(version).name != version or not directory.is_dir()):
                    raise artifacts.ArtifactError(f"no artifact version {version!r} under {self.model_root}")
                new = self._load(directory)
            except artifacts.ArtifactError as error:
                log.error("reload refused, still serving %s: %s", old.version, error)
                raise ReloadRefused(f"artifact refused, still serving {old.version}: {error}") from None
            self._current = new
            self._swapped(old, new)
            self.degraded = None
            self.reloads += 1
            new.store.meta.set(SERVED_MODEL, new.version)
            log.info("reloaded: %s -> %s", old.version, new.version)
            return old, new

    # -- per request --------------------------------------------------------------------------
    def current(self) -> Snapshot:
        if self._current is None:
            raise ModelUnavailable("the service has not started")
        return self._current

    def snapshot(self, *, timeout: float | None = None) -> Snapshot:
        """The snapshot for one request, first brought in line with what other processes did.

        ``timeout``: the longest wait for the engine when it must sync (``Busy`` after it).
        """
        first = snapshot = self.current()
        meta = snapshot.store.meta.get_many(SERVED_MODEL, CHANGE_COUNTER)
        wanted = meta.get(SERVED_MODEL)
        if wanted and wanted != snapshot.version and wanted not in self._refused and self._swap.acquire(blocking=False):
            try:
                if self._current is snapshot:
                    try:
                        self._current = snapshot = self._load(self.model_root / wanted)
                        self._swapped(first, snapshot)
                        self.degraded = None
                    except artifacts.ArtifactError as error:
                        self._refused.add(wanted)
                        log.error("cannot follow reload to %s, still serving %s: %s", wanted, snapshot.version, error)
            finally:
                self._swap.release()
        snapshot.sync(int(meta.get(CHANGE_COUNTER, 0)) if snapshot is first else None, timeout=timeout)
        return snapshot


def _file_stats(directory: Path) -> tuple:
    """``(name, size, mtime_ns)`` of an artifact's files (leases left out): changes when a file is written."""
    stats = []
    for path in sorted(Path(directory).iterdir()):
        if path.name.startswith(artifacts.LEASE_PREFIX):
            continue
        try:
            info = path.stat()
        except OSError:
            continue
        stats.append((path.name, info.st_size, info.st_mtime_ns))
    return tuple(stats)


def _smoke_test(engine: Engine) -> None:
    """Rank once, so a model that cannot rank fails at load and not on a reader's request.

    An empty artifact is refused (``ArtifactError``); any other failure here is a bug and propagates.
    """
    index = engine.index
    if len(index) == 0:
        raise artifacts.ArtifactError("the artifact holds no articles")
    first = next(i for i, alive in zip(index.ids, index.alive) if alive)
    engine.related(first, 1)


def serve_newest(db: str | os.PathLike, model_root: str | os.PathLike) -> str | None:
    """At server boot: make the newest built artifact the one every worker serves. Returns its version."""
    with Store(db) as store:
        try:
            version = artifacts.current(model_root).name
        except artifacts.ArtifactError:
            version = None
        store.meta.set(SERVED_MODEL, version)
    return version
