"""kill -9 during ingest, during build and during an artifact save: nothing lost, nothing duplicated, the old model
serves."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from recommender import artifacts

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
sys.path.insert(0, str(SCRIPTS))
import kill9_check  # noqa: E402


@pytest.mark.slow
def test_kill_9_during_ingest_and_build(tmp_path):
    results = kill9_check.run(n=800, trials=1, seed=3, workdir=tmp_path, linked=False)  # no link model: quicker
    killed = [r for r in results if r["kind"] in ("ingest", "build")]
    assert all(r["returncode"] == -signal.SIGKILL for r in killed), results
    for r in results:
        if "integrity" in r:
            assert r["integrity"] == "ok" and r["half_written"] == 0 and r["distinct_urls"] == r["articles"], r
        if "current" in r:
            assert r["current_sound"] and r["old_holder_answers"] and r["fresh_degraded"] is None, r
            assert r["fresh_holder"] == r["current"], r
    ingest_kill, again = results[0], results[1]
    assert 0 < ingest_kill["articles"] < 300 + 800
    assert again["returncode"] == 0 and again["articles"] == 300 + 800  # every article once
    assert again["summary"][0].startswith(f"{1100 - ingest_kill['articles']} new, 0 updated, "
                                          f"{ingest_kill['articles'] - 300} unchanged, 0 skipped")
    build_kill, rebuilt = results[2], results[3]
    assert rebuilt["returncode"] == 0 and rebuilt["partials"] == [] and rebuilt["current"] != build_kill["current"]


SAVE = """
import sys, numpy as np
from recommender import artifacts
arrays = {f"a{i}": np.random.default_rng(i).random(200_000) for i in range(300)}
artifacts.save(sys.argv[1], arrays, {"big": True}, fingerprint="killedxx")
"""


def test_kill_9_in_the_middle_of_writing_a_version(tmp_path):
    root = tmp_path / "models"
    old = artifacts.save(root, {"a": np.arange(5)}, {"old": True}, fingerprint="oldoldol")
    process = subprocess.Popen([sys.executable, "-c", SAVE, str(root)], cwd=Path(__file__).resolve().parents[1])
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline:
        partial = list(root.glob(".v*.partial"))
        if partial and len(list(partial[0].glob("*.npy"))) >= 3:
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.002)
    assert process.wait() == -signal.SIGKILL, "the save finished before it could be killed"
    assert len(list(root.glob(".v*.partial"))) == 1  # the killed build's leftovers
    assert artifacts.current(root) == old and not artifacts.verify(old)  # the old version still serves
    assert artifacts.versions(root) == [old]
    artifacts.save(root, {"a": np.arange(6)}, {"new": True}, fingerprint="newnewne")
    assert list(root.glob(".v*.partial")) == []  # cleaned: its process is gone
