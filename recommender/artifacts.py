"""Versioned artifact directories: arrays as .npy, parameters as JSON, a manifest with versions and checksums.

Loading needs no pickle: arrays load with ``allow_pickle=False`` (memory-mapped, so several
server processes share the pages) and everything else is JSON.

Versions are safe to replace under a running server:

* a new version is written into ``.<name>.<host>-<pid>.partial`` and renamed into place whole,
  then ``CURRENT`` is replaced atomically; a build killed half-way leaves only a partial
  directory, removed by the next save or prune once its process is gone;
* a process serving a version holds a lease on it (:func:`lease`, a ``SERVING-<host>-<pid>``
  file in the version), and :func:`prune` never removes ``CURRENT``, a leased version, a
  version the caller names (the store's served model), nor the newest intact versions;
* :func:`verify` re-reads every file against the manifest's checksums; :func:`intact` is the
  cheap check (manifest readable, every file present with its recorded size).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from recommender.catalogue import Catalogue
from recommender.cosine import Postings
from recommender.engine import Engine, EngineConfig
from recommender.features import LinkGraph
from recommender.index import ArticleIndex, inverted_postings
from recommender.model import LinkModel
from recommender.vectorize import FieldVectorizer

FORMAT_VERSION = 2  # 2: neighbour-expanded search rows, time-honest link model features
CURRENT = "CURRENT"
LEASE_PREFIX = "SERVING-"
LEASE_SECONDS = 24 * 3600
"""A lease (or a partial build) of another host, or of a process whose liveness cannot be checked,
counts for this long after it was last touched."""
_LIBRARIES = ("readalso", "numpy", "scipy", "scikit-learn")
log = logging.getLogger(__name__)


class ArtifactError(RuntimeError):
    """An artifact is missing, incomplete, corrupted or from an incompatible format."""


def library_versions() -> dict[str, str]:
    return {name: version(name) for name in _LIBRARIES}


def save(root: str | os.PathLike, arrays: dict[str, np.ndarray], params: dict, *, fingerprint: str) -> Path:
    """Write a new version under ``root`` and point ``root/CURRENT`` at it (atomically). Returns its path."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    clean_partials(root)
    name = f"v{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{fingerprint[:8]}"
    staging = root / f".{name}.{_owner()}.partial"
    staging.mkdir()
    try:
        checksums, sizes = {}, {}
        for key, array in arrays.items():
            path = staging / f"{key}.npy"
            np.save(path, np.ascontiguousarray(array), allow_pickle=False)
            checksums[path.name], sizes[path.name] = _sha256(path), path.stat().st_size
        params_path = staging / "params.json"
        params_path.write_text(json.dumps(params, ensure_ascii=False), encoding="utf-8")
        checksums[params_path.name], sizes[params_path.name] = _sha256(params_path), params_path.stat().st_size
        manifest = {"format": FORMAT_VERSION, "version": name, "created_at": datetime.now(UTC).isoformat(),
                    "libraries": library_versions(), "fingerprint": fingerprint, "checksums": checksums,
                    "sizes": sizes}
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    except BaseException:  # a full disk, an interrupt: leave no half-written version behind
        shutil.rmtree(staging, ignore_errors=True)
        raise
    final = root / name
    staging.rename(final)
    _point_current(root, name)
    return final


def current(root: str | os.PathLike) -> Path:
    """The directory ``root/CURRENT`` names; ``ArtifactError`` when it is missing or names no version."""
    root = Path(root)
    try:
        name = (root / CURRENT).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as error:
        if isinstance(error, FileNotFoundError):
            raise ArtifactError(f"no built model under {root} (run 'readalso build')") from None
        raise ArtifactError(f"{root / CURRENT} is unreadable: {error}") from None
    if not name or Path(name).name != name or not name.startswith("v") or not (root / name).is_dir():
        raise ArtifactError(f"{root / CURRENT} is corrupt: it names {name[:80]!r}, which is not a version under {root}")
    return root / name


def versions(root: str | os.PathLike) -> list[Path]:
    """Every finished version directory under ``root``, newest first (names start with their UTC time)."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted((p for p in root.glob("v*") if p.is_dir()), key=lambda p: p.name, reverse=True)


def _manifest(directory: Path) -> dict:
    try:
        manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ArtifactError(f"unreadable manifest in {directory}: {error}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_VERSION:
        found = manifest.get("format") if isinstance(manifest, dict) else None
        raise ArtifactError(f"artifact format {found!r} in {directory}, expected {FORMAT_VERSION}")
    return manifest


def intact(directory: str | os.PathLike) -> bool:
    """Cheap check: the manifest reads and every file it lists is there (with its recorded size)."""
    directory = Path(directory)
    try:
        manifest = _manifest(directory)
    except ArtifactError:
        return False
    sizes = manifest.get("sizes", {})
    for file_name in manifest.get("checksums", {}):
        path = directory / file_name
        try:
            size = path.stat().st_size
        except OSError:
            return False
        if file_name in sizes and sizes[file_name] != size:
            return False
    return True


def verify(directory: str | os.PathLike) -> list[str]:
    """Every problem of an artifact (missing files, checksum mismatches), read in full; ``[]`` when sound."""
    directory = Path(directory)
    try:
        manifest = _manifest(directory)
    except ArtifactError as error:
        return [str(error)]
    problems = []
    for file_name, expected in manifest.get("checksums", {}).items():
        path = directory / file_name
        try:
            actual = _sha256(path)
        except OSError:
            problems.append(f"artifact {directory} lacks {file_name}")
            continue
        if actual != expected:
            problems.append(f"checksum mismatch for {path}: the artifact is corrupted")
    return problems


_verify = verify  # for load(), whose ``verify`` argument hides the function


def newest_intact(root: str | os.PathLike, *, exclude=()) -> Path | None:
    """The newest version that passes :func:`verify` (names in ``exclude`` left out), or None."""
    for path in versions(root):
        if path.name not in exclude and intact(path) and not verify(path):
            return path
    return None


def load(directory: str | os.PathLike, *, verify: bool = True,
         mmap: bool = True) -> tuple[dict, dict[str, np.ndarray], dict]:
    """``(params, arrays, manifest)`` of an artifact; raises ArtifactError when it is unusable."""
    directory = Path(directory)
    manifest = _manifest(directory)
    for file_name in manifest.get("checksums", {}):
        if not (directory / file_name).exists():
            raise ArtifactError(f"artifact {directory} lacks {file_name}")
    if verify:
        problems = _verify(directory)
        if problems:
            raise ArtifactError(problems[0])
    differing = {k: v for k, v in manifest.get("libraries", {}).items() if library_versions().get(k) != v}
    if differing:
        log.warning("artifact %s was built with %s; running %s", directory.name, differing,
                    {k: library_versions()[k] for k in differing})
    try:
        params = json.loads((directory / "params.json").read_text(encoding="utf-8"))
        arrays = {path.stem: np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
                  for path in sorted(directory.glob("*.npy"))}
    except (OSError, ValueError) as error:
        raise ArtifactError(f"unreadable artifact {directory}: {error}") from None
    return params, arrays, manifest


def prune(root: str | os.PathLike, keep: int = 3, *, protect=()) -> list[str]:
    """Remove old versions and abandoned partial builds; returns the names removed.

    Kept: the version ``CURRENT`` names, every name in ``protect`` (e.g. the version the store
    says every server worker serves), every version a live process leases, and the newest
    ``keep`` intact versions (so the newest intact one before ``CURRENT`` always stays).
    Versions that are not intact count for nothing and go unless protected.
    """
    root = Path(root)
    clean_partials(root)
    keep_names = {name for name in protect if name}
    try:
        keep_names.add(current(root).name)
    except ArtifactError as error:
        log.warning("pruning without a usable CURRENT (%s): only intact and leased versions are kept", error)
    found = versions(root)
    keep_names.update(p.name for p in [p for p in found if intact(p)][:max(keep, 2)])
    keep_names.update(p.name for p in found if leases(p))
    removed = []
    for path in found:
        if path.name not in keep_names:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path.name)
    return removed


# -- leases: which versions running processes serve ------------------------------------------------
def _host() -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", socket.gethostname())


def _owner(pid: int | None = None) -> str:
    return f"{_host()}-{pid or os.getpid()}"


def _alive(owner: str, touched: float) -> bool:
    """Whether ``host-pid`` may still be running: checked for this host, assumed for a while elsewhere."""
    host, _, pid = owner.rpartition("-")
    if host == _host() and pid.isdigit():
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # another user's live process
            return True
        return True
    return time.time() - touched < LEASE_SECONDS


def lease(directory: str | os.PathLike) -> None:
    """Mark ``directory`` as served by this process (until :func:`release` or the process ends)."""
    path = Path(directory) / f"{LEASE_PREFIX}{_owner()}"
    try:
        path.touch()
    except OSError as error:  # a read-only model folder: pruning then relies on CURRENT and ``protect``
        log.warning("cannot lease %s: %s", directory, error)


def release(directory: str | os.PathLike) -> None:
    """Drop this process's lease on ``directory``."""
    with contextlib.suppress(OSError):
        (Path(directory) / f"{LEASE_PREFIX}{_owner()}").unlink()


def leases(directory: str | os.PathLike) -> list[str]:
    """The owners (``host-pid``) of the live leases on ``directory``."""
    owners = []
    for path in Path(directory).glob(f"{LEASE_PREFIX}*"):
        try:
            touched = path.stat().st_mtime
        except OSError:
            continue
        owner = path.name[len(LEASE_PREFIX):]
        if _alive(owner, touched):
            owners.append(owner)
    return owners


def clean_partials(root: str | os.PathLike) -> list[str]:
    """Remove partial builds whose process is gone (on this host) or older than ``LEASE_SECONDS``."""
    removed = []
    for path in Path(root).glob(".v*.partial"):
        owner = path.name[: -len(".partial")].rpartition(".")[2]
        try:
            touched = path.stat().st_mtime
        except OSError:
            continue
        if "-" not in owner or not _alive(owner, touched):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path.name)
            log.info("removed the abandoned partial build %s", path.name)
    return removed


def _point_current(root: Path, name: str) -> None:
    tmp = root / f".{CURRENT}.tmp"
    tmp.write_text(name, encoding="utf-8")
    os.replace(tmp, root / CURRENT)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# -- the engine's artifact ----------------------------------------------------------------------
def save_engine(engine: Engine, root: str | os.PathLike) -> Path:
    """Write the engine as a new artifact version under ``root``, make it current and record it as the
    engine's ``version``. Replaced articles' hidden rows are left out. A fitted engine's batch lists are
    stored under its first version's name (``lists_key``), which versions that only appended articles keep."""
    vectorizer_params, vectorizer_arrays = engine.vectorizer.get_state()
    index = engine.index
    rows = np.flatnonzero(index.alive)
    every = rows.size == index.matrix.shape[0]
    ids = [index.ids[r] for r in rows]
    hashes = [engine.hashes.get(i, "") for i in ids]
    params: dict = {"config": asdict(engine.config), "vectorizer": vectorizer_params, "ids": ids,
              "sections": [str(s) for s in index.sections[rows]],
              "languages": [str(s) for s in index.languages[rows]],
              "sites": [str(s) for s in index.sites[rows]],
              "hashes": hashes}
    arrays = {**_csr_arrays("matrix", index.matrix if every else index.matrix[rows]),
              **_csr_arrays("copies", index.copies if every else index.copies[rows]),
              "published": index.published[rows], **vectorizer_arrays}
    if index.expansion:
        arrays.update(_csr_arrays("expanded", index.expanded[rows]))
        arrays.update(_postings_arrays("neighbour_postings",
                                       index.neighbour_postings if every else inverted_postings(index.matrix[rows])))
    arrays.update(_postings_arrays("postings", index.postings if every else inverted_postings(index.expanded[rows])))
    if engine.model is not None and engine.graph is not None:
        params["model"], model_arrays = engine.model.get_state()
        arrays.update(model_arrays)
        for name, field in engine.fields.items():
            arrays.update(_csr_arrays(f"field_{name}", field[rows]))
        position = np.full(len(index.ids), -1, dtype=np.int64)
        position[rows] = np.arange(rows.size)
        pairs = np.asarray([(position[s], position[t]) for s, t in engine.graph.pairs()
                            if position[s] >= 0 and position[t] >= 0], dtype=np.int64).reshape(-1, 2)
        arrays["link_pairs"] = pairs
    params["lists_key"] = engine.lists_key  # None after a fit: the new version's own name
    path = save(root, arrays, params, fingerprint=_fingerprint(ids, hashes))
    engine.version = path.name
    engine.lists_key = engine.lists_key or path.name
    return path


def load_engine(directory: str | os.PathLike, catalogue: Catalogue, *, verify: bool = True) -> Engine:
    """The engine saved in an artifact directory (memory-mapped arrays); ``catalogue`` is the store."""
    params, arrays, manifest = load(directory, verify=verify)
    copies = _csr_from_arrays("copies", arrays) if "copies_shape" in arrays else None
    expanded = _csr_from_arrays("expanded", arrays) if "expanded_shape" in arrays else None
    engine = Engine(EngineConfig.from_dict(params["config"]), catalogue)
    engine.index = ArticleIndex(_csr_from_arrays("matrix", arrays), params["ids"], arrays["published"],
                                params["sections"], params["languages"], copies, params["sites"], expanded)
    if "postings_rows" in arrays:  # a version saved without postings inverts its rows on first search
        engine.index.attach_postings(_postings_from_arrays("postings", arrays),
                                     _postings_from_arrays("neighbour_postings", arrays)
                                     if "neighbour_postings_rows" in arrays else None)
    engine.vectorizer = FieldVectorizer.from_state(params["vectorizer"], arrays)
    engine.terms = engine.vectorizer.terms_
    engine.hashes = dict(zip(params["ids"], params["hashes"]))
    engine.version = manifest["version"]
    engine.lists_key = params.get("lists_key") or engine.version
    if "model" in params:
        engine.model = LinkModel.from_state(params["model"], arrays)
        engine.fields = {name: _csr_from_arrays(f"field_{name}", arrays) for name in ("headline", "body", "links")}
        engine.graph = LinkGraph.from_pairs([tuple(p) for p in np.asarray(arrays["link_pairs"]).tolist()],
                                            engine.index.published)
    return engine


def _csr_arrays(prefix: str, matrix: sp.csr_matrix) -> dict[str, np.ndarray]:
    return {f"{prefix}_data": matrix.data, f"{prefix}_indices": matrix.indices, f"{prefix}_indptr": matrix.indptr,
            f"{prefix}_shape": np.asarray(matrix.shape, dtype=np.int64)}


def _csr_from_arrays(prefix: str, arrays: Mapping[str, np.ndarray]) -> sp.csr_matrix:
    shape = tuple(int(n) for n in arrays[f"{prefix}_shape"])
    return sp.csr_matrix((arrays[f"{prefix}_data"], arrays[f"{prefix}_indices"], arrays[f"{prefix}_indptr"]),
                         shape=shape)


def _postings_arrays(prefix: str, inverted: Postings) -> dict[str, np.ndarray]:
    return {f"{prefix}_tiles": inverted.tiles, f"{prefix}_rows": inverted.rows, f"{prefix}_values": inverted.values,
            f"{prefix}_shape": np.asarray([inverted.n_rows, inverted.tile_rows], dtype=np.int64)}


def _postings_from_arrays(prefix: str, arrays: Mapping[str, np.ndarray]) -> Postings:
    n_rows, tile_rows = (int(n) for n in arrays[f"{prefix}_shape"])
    return Postings(arrays[f"{prefix}_tiles"], arrays[f"{prefix}_rows"], arrays[f"{prefix}_values"], n_rows,
                    tile_rows)


def _fingerprint(ids: Sequence[str], hashes: Sequence[str]) -> str:
    digest = hashlib.sha256()
    for article_id, content_hash in zip(ids, hashes):
        digest.update(f"{article_id}\x1f{content_hash}\n".encode())
    return digest.hexdigest()
