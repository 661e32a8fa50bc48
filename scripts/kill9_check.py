"""kill -9 during `readalso ingest` and during `readalso build`: nothing lost, nothing duplicated, the old model serves.

Builds a store and a first model, starts a server-side EngineHolder on it, then for each trial
starts the real CLI in a child process and SIGKILLs it part-way (ingest: once some articles are
stored; build: at a random moment, and every second trial as soon as the new version's partial
directory exists, i.e. while it writes the version). After
each kill it checks:

* the SQLite file passes ``PRAGMA integrity_check``;
* every stored article has all its Read-also links (each article is one transaction);
* CURRENT still names an intact version, the running holder still answers, and a freshly
  started holder loads a version without falling back (not degraded);
* running the same command again completes: every article stored exactly once, the abandoned
  partial build removed.

Usage: python scripts/kill9_check.py [--articles 5000] [--trials 3] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from recommender import artifacts  # noqa: E402
from service.holder import EngineHolder  # noqa: E402

WORDS = ("storm flood barrier river coastal mayor election ballot recount chip wafer plant output council "
         "rescue levee tide cabinet turnout silicon engineers supply orders capacity shares").split()


def write_articles(path: Path, n: int, seed: int, prefix: str = "k", *, linked: bool = True) -> None:
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as handle:
        headlines = [f"{rng.choice(WORDS).title()} {rng.choice(WORDS)} story {prefix}{i}" for i in range(n)]
        for i in range(n):
            words = " ".join(rng.choice(WORDS) for _ in range(60))
            links = [{"headline": headlines[j], "url": f"https://news.example/{prefix}/{j}"} for j in (i - 1, i - 2)] \
                if linked else [{"headline": f"Archive note {prefix}{i} {part}", "url": None} for part in "ab"]
            handle.write(json.dumps({
                "id": f"{prefix}{i}", "url": f"https://news.example/{prefix}/{i}", "headline": headlines[i],
                "body": words + ".", "published_at": f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}T08:00:00Z",
                "read_also": links}) + "\n")  # linked: each links the two before it, so a link model is learned


def cli(db: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-c", "from recommender.cli import main; main()", "--db", str(db), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def stored(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute("SELECT count(*) FROM articles").fetchone()[0]
    except sqlite3.Error:
        return 0


def check_store(db: Path, links_per_article: int = 2) -> dict:
    with sqlite3.connect(db) as conn:
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
        articles = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
        urls = conn.execute("SELECT count(DISTINCT canonical_url) FROM articles").fetchone()[0]
        partial = conn.execute("SELECT count(*) FROM (SELECT a.id FROM articles a LEFT JOIN read_also r "
                               "ON r.source_id = a.id GROUP BY a.id HAVING count(r.position) != ?)",
                               (links_per_article,)).fetchone()[0]
    return {"integrity": integrity, "articles": articles, "distinct_urls": urls, "half_written": partial}


def check_model(db: Path, holder: EngineHolder, probe: str) -> dict:
    root = db.with_suffix(".artifacts")
    current = artifacts.current(root)
    fresh = EngineHolder(db, root)
    fresh.start()
    answered = bool(holder.snapshot().engine.related(probe, 3))
    return {"current": current.name, "current_sound": artifacts.intact(current) and not artifacts.verify(current),
            "old_holder_answers": answered, "fresh_holder": fresh.current().version,
            "fresh_degraded": fresh.degraded, "partials": sorted(p.name for p in root.glob(".v*.partial"))}


def kill_ingest(db: Path, source: Path, after: int) -> dict:
    process = cli(db, "ingest", str(source))
    killed_at = None
    while process.poll() is None:
        count = stored(db)
        if count >= after:
            process.send_signal(signal.SIGKILL)
            killed_at = count
            break
        time.sleep(0.005)
    process.wait()
    return {"killed_with_stored": killed_at, "returncode": process.returncode}


def kill_build(db: Path, rng: random.Random, duration: float, *, at_save: bool = False) -> dict:
    """Kill a build at a random moment, or (``at_save``) as soon as its new version's partial directory appears."""
    root = db.with_suffix(".artifacts")
    process = cli(db, "build")
    started = time.monotonic()
    deadline = started + (10 * duration + 60 if at_save else rng.uniform(0.3, 1.0) * duration)
    during_save = False
    while process.poll() is None:
        if any(root.glob(".v*.partial")):
            during_save = True
            process.send_signal(signal.SIGKILL)
            break
        if time.monotonic() > deadline:
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.001)
    process.wait()
    return {"killed_after_s": round(time.monotonic() - started, 2), "during_save": during_save,
            "returncode": process.returncode}


def run(n: int, trials: int, seed: int, workdir: Path, *, linked: bool = True) -> list[dict]:
    rng = random.Random(seed)
    db = workdir / "store.db"
    first, rest = workdir / "first.jsonl", workdir / "rest.jsonl"
    write_articles(first, 300, seed, prefix="f", linked=linked)
    assert cli(db, "ingest", str(first)).wait() == 0
    assert cli(db, "build").wait() == 0
    holder = EngineHolder(db, db.with_suffix(".artifacts"))
    holder.start()
    results = []
    write_articles(rest, n, seed + 1, prefix="k", linked=linked)
    for trial in range(trials):
        before = stored(db)
        outcome = {"trial": trial, "kind": "ingest",
                   **kill_ingest(db, rest, after=before + rng.randint(n // 20, n // 3) if before < 300 + n else 0)}
        outcome.update(check_store(db), **check_model(db, holder, "f0"))
        results.append(outcome)
    finish = cli(db, "ingest", str(rest))
    out, _err = finish.communicate()
    results.append({"kind": "ingest again", "returncode": finish.returncode, "summary": out.strip().splitlines()[-1:],
                    **check_store(db)})
    started = time.monotonic()
    assert cli(db, "build").wait() == 0
    duration = time.monotonic() - started
    for trial in range(trials):
        outcome = {"trial": trial, "kind": "build", **kill_build(db, rng, duration, at_save=trial % 2 == 1)}
        outcome.update(check_store(db), **check_model(db, holder, "f0"))
        results.append(outcome)
    rebuild = cli(db, "build")
    out, _ = rebuild.communicate()
    results.append({"kind": "build again", "returncode": rebuild.returncode, "summary": out.strip().splitlines()[-1:],
                    **check_model(db, holder, "f0")})
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=5_000)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--unlinked", action="store_true",
                        help="Read-also items that resolve to nothing (no link model).")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="readalso-kill9-") as workdir:
        for result in run(options.articles, options.trials, options.seed, Path(workdir), linked=not options.unlinked):
            print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
