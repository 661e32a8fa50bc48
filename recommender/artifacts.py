"""Versioned artifact directories: arrays as .npy, parameters as JSON, a manifest with versions and checksums.

Loading needs no pickle: arrays load with ``allow_pickle=False`` (memory-mapped, so several
server processes share the pages) and everything else is JSON.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path

import numpy as np

FORMAT_VERSION = 2  # 2: neighbour-expanded search rows, time-honest link model features
CURRENT = "CURRENT"
_LIBRARIES = ("readalso", "numpy", "scipy", "scikit-learn")
log = logging.getLogger(__name__)


class ArtifactError(RuntimeError):
    """An artifact is missing, incomplete, corrupted or from an incompatible format."""


def library_versions() -> dict[str, str]:
    return {name: version(name) for name in _LIBRARIES}


def save(root: str | os.PathLike, arrays: dict[str, np.ndarray], params: dict, *, fingerprint: str) -> Path:
    """Write a new version under ``root`` and point ``root/CURRENT`` at it (atomically). Returns its path."""
    root = Path(root)
    name = f"v{datetime.now(timezone.utc):%Y%m%dT%H%M%S%f}-{fingerprint[:8]}"
    staging = root / f".{name}.partial"
    staging.mkdir(parents=True)
    checksums = {}
    for key, array in arrays.items():
        path = staging / f"{key}.npy"
        np.save(path, np.ascontiguousarray(array), allow_pickle=False)
        checksums[path.name] = _sha256(path)
    params_path = staging / "params.json"
    params_path.write_text(json.dumps(params, ensure_ascii=False), encoding="utf-8")
    checksums[params_path.name] = _sha256(params_path)
    manifest = {"format": FORMAT_VERSION, "version": name, "created_at": datetime.now(timezone.utc).isoformat(),
                "libraries": library_versions(), "fingerprint": fingerprint, "checksums": checksums}
    (staging / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    final = root / name
    staging.rename(final)
    _point_current(root, name)
    return final


def current(root: str | os.PathLike) -> Path:
    """The directory ``root/CURRENT`` names."""
    root = Path(root)
    try:
        name = (root / CURRENT).read_text(encoding="utf-8").strip()
    except OSError:
        raise ArtifactError(f"no built model under {root} (run 'readalso build')") from None
    return root / name


def load(directory: str | os.PathLike, *, verify: bool = True, mmap: bool = True) -> tuple[dict, dict[str, np.ndarray], dict]:
    """``(params, arrays, manifest)`` of an artifact; raises ArtifactError when it is unusable."""
    directory = Path(directory)
    try:
        manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ArtifactError(f"unreadable manifest in {directory}: {error}") from None
    if manifest.get("format") != FORMAT_VERSION:
        raise ArtifactError(f"artifact format {manifest.get('format')!r} in {directory}, expected {FORMAT_VERSION}")
    for file_name, expected in manifest.get("checksums", {}).items():
        path = directory / file_name
        if not path.exists():
            raise ArtifactError(f"artifact {directory} lacks {file_name}")
        if verify and _sha256(path) != expected:
            raise ArtifactError(f"checksum mismatch for {path}: the artifact is corrupted")
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


def prune(root: str | os.PathLike, keep: int = 3) -> None:
    """Remove all but the newest ``keep`` versions (never the current one)."""
    root = Path(root)
    keep_names = {current(root).name}
    versions = sorted((p for p in root.glob("v*") if p.is_dir()), reverse=True)
    keep_names.update(p.name for p in versions[:keep])
    for path in versions:
        if path.name not in keep_names:
            shutil.rmtree(path, ignore_errors=True)


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
