"""Model versions under a running server: pruning, partial builds, checksums, a corrupt CURRENT."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from recommender import artifacts
from recommender.articles import Article
from recommender.artifacts import load_engine, save_engine
from recommender.cli import cli
from recommender.store import SERVED_MODEL, Store
from service.holder import EngineHolder


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _save(root: Path, n: int = 1) -> list[Path]:
    return [artifacts.save(root, {"a": np.arange(10 + i)}, {"i": i}, fingerprint=f"{i:08d}") for i in range(n)]


def _write_jsonl(path: Path, articles) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for a in articles:
            handle.write(json.dumps({"id": a.id, "url": a.url, "headline": a.headline, "body": a.body,
                                     "section": a.section, "published_at": a.published_at.isoformat()}) + "\n")


def _more(i: int, corpus) -> Article:
    base = corpus[i % len(corpus)]
    return Article(id=f"more-{i}", headline=f"{base.headline} ({i})", body=base.body, section=base.section,
                   url=f"https://news.example/more/{i}", published_at=base.published_at)


# -- pruning -----------------------------------------------------------------------------------
def test_cli_ingests_after_a_build_never_prune_the_version_a_worker_serves(tmp_path, corpus):
    """Each ingest after a build saves a version and prunes; the served one used to go after three."""
    db = tmp_path / "store.db"
    runner = CliRunner()
    _write_jsonl(tmp_path / "first.jsonl", corpus)
    assert runner.invoke(cli, ["--db", str(db), "ingest", str(tmp_path / "first.jsonl")]).exit_code == 0
    assert runner.invoke(cli, ["--db", str(db), "build"]).exit_code == 0
    root = db.with_suffix(".artifacts")
    holder = EngineHolder(db, root)
    served = holder.start().version
    assert (root / served / f"{artifacts.LEASE_PREFIX}{artifacts._owner()}").exists()
    for round_ in range(5):
        _write_jsonl(tmp_path / f"more{round_}.jsonl", [_more(round_, corpus)])
        result = runner.invoke(cli, ["--db", str(db), "ingest", str(tmp_path / f"more{round_}.jsonl")])
        assert "1 added to the model" in result.output, result.output
    names = [p.name for p in artifacts.versions(root)]
    assert served in names and len(names) == 4  # the newest three, and the one being served
    assert holder.snapshot().engine.related("storm-1", 2)  # still answering from its files
    restarted = EngineHolder(db, root)  # a worker restarted by gunicorn loads the same version
    with Store(db) as store:
        store.meta.set(SERVED_MODEL, served)
    assert restarted.start().version == served and restarted.degraded is None


def test_prune_keeps_current_protected_leased_and_newest_intact(tmp_path):
    root = tmp_path / "models"
    old, leased, protected, broken, newer, newest = _save(root, 6)
    (broken / "a.npy").unlink()  # not intact: counts for nothing
    (leased / f"{artifacts.LEASE_PREFIX}{artifacts._owner()}").touch()  # this live process serves it
    (old / f"{artifacts.LEASE_PREFIX}{artifacts._owner(_dead_pid())}").touch()  # a dead one did
    removed = artifacts.prune(root, keep=2, protect=(protected.name,))
    assert sorted(removed) == sorted([old.name, broken.name])
    assert [p.name for p in artifacts.versions(root)] == [newest.name, newer.name, protected.name, leased.name]
    artifacts.release(leased)
    assert leased.name in artifacts.prune(root, keep=2)


def test_prune_with_a_corrupt_current_keeps_the_newest_intact_versions(tmp_path):
    root = tmp_path / "models"
    paths = _save(root, 4)
    (root / artifacts.CURRENT).write_text("garbage\x00")
    assert artifacts.prune(root, keep=2) == [paths[1].name, paths[0].name]


# -- partial builds ----------------------------------------------------------------------------
def test_an_abandoned_partial_build_is_cleaned_by_the_next_save(tmp_path):
    root = tmp_path / "models"
    (first,) = _save(root)
    dead = root / f".v20260101T000000000000-deadbeef.{artifacts._owner(_dead_pid())}.partial"
    live = root / f".v20260101T000000000001-cafecafe.{artifacts._owner()}.partial"  # a build still running
    foreign = root / ".v20260101T000000000002-feedfeed.otherhost-123.partial"
    for path in (dead, live, foreign):
        path.mkdir()
        (path / "a.npy").write_bytes(b"half")
    os.utime(foreign, (0, 0))  # another host's, untouched for far longer than a lease
    _save(root)
    assert not dead.exists() and not foreign.exists() and live.exists()
    assert artifacts.current(root).name != first.name


def test_a_save_that_fails_half_way_leaves_no_partial_directory(tmp_path, monkeypatch):
    root = tmp_path / "models"
    (first,) = _save(root)
    real_save = np.save

    def full_disk(path, array, **kwargs):
        if str(path).endswith("b.npy"):
            raise OSError(28, "No space left on device")
        return real_save(path, array, **kwargs)

    monkeypatch.setattr(np, "save", full_disk)
    with pytest.raises(OSError, match="No space left"):
        artifacts.save(root, {"a": np.arange(3), "b": np.arange(4)}, {}, fingerprint="fullfull")
    assert list(root.glob(".v*.partial")) == [] and artifacts.current(root) == first
    assert artifacts.versions(root) == [first]


# -- checksums ---------------------------------------------------------------------------------
def test_flipped_bytes_in_the_served_model_are_found_and_readyz_says_not_ready(make_app, service_db):
    app = make_app()
    client = app.test_client()
    assert client.get("/readyz").status_code == 200
    holder = app.extensions["readalso"]
    directory = holder.current().directory
    assert holder.artifact_problem() is None
    target = max(directory.glob("*.npy"), key=lambda p: p.stat().st_size)
    data = bytearray(target.read_bytes())
    data[-5] ^= 0xFF
    target.write_bytes(bytes(data))
    assert f"checksum mismatch for {target}" in holder.artifact_problem()
    response = client.get("/readyz")
    assert response.status_code == 503 and "is damaged" in response.get_json()["error"]["message"]
    assert artifacts.verify(directory) == [f"checksum mismatch for {target}: the artifact is corrupted"]


# -- a corrupt CURRENT at start-up ------------------------------------------------------------
@pytest.mark.parametrize("damage", ["garbage", "missing-version", "flipped-bytes"])
def test_a_corrupt_current_falls_back_to_the_newest_intact_version_loudly(service_db, make_app, caplog, damage):
    root = service_db.with_suffix(".artifacts")
    intact = artifacts.current(root)
    with Store(service_db) as store:
        newer = save_engine(load_engine(intact, store), root)  # CURRENT now names this one
        store.meta.set(SERVED_MODEL, None)
    if damage == "garbage":
        (root / artifacts.CURRENT).write_bytes(b"\x00\xffnot a version")
    elif damage == "missing-version":
        (root / artifacts.CURRENT).write_text("v29990101T000000000000-00000000")
    else:
        path = next(newer.glob("matrix_data.npy"))
        path.write_bytes(path.read_bytes()[:-8] + b"\xff" * 8)
    with caplog.at_level(logging.WARNING):
        app = make_app()
    holder = app.extensions["readalso"]
    expected = intact if damage == "flipped-bytes" else newer  # the newest version that is whole
    assert holder.current().version == expected.name
    assert holder.degraded and f"serving {expected.name} instead" in holder.degraded
    assert any("DEGRADED" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    ready = app.test_client().get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["degraded"] == holder.degraded
    assert app.test_client().get("/v1/articles/storm-1/related").status_code == 200


def test_only_a_damaged_artifact_is_broken_and_a_bug_while_loading_propagates(service_db, monkeypatch):
    root = service_db.with_suffix(".artifacts")
    intact = artifacts.current(root)
    with Store(service_db) as store:
        newer = save_engine(load_engine(intact, store), root)
        store.meta.set(SERVED_MODEL, None)
    path = newer / "matrix_data.npy"
    path.write_bytes(path.read_bytes()[:-8] + b"\xff" * 8)
    holder = EngineHolder(service_db, root)
    assert holder.start().version == intact.name and "checksum mismatch" in holder.degraded
    with pytest.raises(artifacts.ArtifactError, match="checksum"):
        holder._load(newer)

    def buggy(*args, **kwargs):
        raise KeyError("a bug in the loader")

    monkeypatch.setattr(artifacts, "load_engine", buggy)
    with pytest.raises(KeyError, match="a bug in the loader"):
        EngineHolder(service_db, root).start()
    with pytest.raises(KeyError, match="a bug in the loader"):
        holder.reload(intact.name)
    assert holder.current().version == intact.name  # the old model keeps serving


def test_readyz_is_not_degraded_normally(app):
    assert app.test_client().get("/readyz").get_json()["degraded"] is None
