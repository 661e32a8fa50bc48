"""Requests per second and p99 of ``GET /v1/articles/{id}/related`` under the production server, on loopback.

Usage:
    .venv/bin/python scripts/bench_http.py [--data FILE [--map ...] | --articles 3000] [--duration 10]

    .venv/bin/python scripts/bench_http.py --data ../shared/data/news-readmore/NewsArticles.csv \
        --map id=article_id,headline=title,body=text,published_at=publish_date,url=article_source_link

Ingests ``--data`` (any file ``readalso ingest`` reads, e.g. ../shared/data/news-readmore/NewsArticles.csv,
whose Read-also links train the link model) or builds a synthetic store (stories over a Zipfian
background vocabulary, Read-also links between articles of a story), builds the model, and serves
three copies of that store at once with ``readalso serve`` (gunicorn, ``--workers`` processes each),
with the per-worker ranking cache off (``READALSO_RANKING_CACHE_SECONDS=0``: every request ranks;
per-client rate limits off, as the one load generator is every reader at once):

* ``live``: no ``readalso batch``, every request computes its ranking;
* ``stored``: after ``readalso batch -k 10``, requests without filters read the stored list;
* ``after_ingest``: the stored copy again, after one more article is ingested with the CLI (which
  stores the lists it reaches again) and ``POST /v1/admin/reload`` serves that new version.

``wrk`` drives the three servers in turn, rotating over every article id, for ``--rounds`` rounds
(the order rotates from round to round, so no server always follows another's load): the machine's
speed drifts between runs, so each round's ratios compare runs made side by side,
and the medians over rounds are reported. Each run also reports the share of answers each path
gave (``X-Readalso-Path`` counted on /metrics); the last line holds the medians and the ratios
the serving targets are stated in: live / stored and after_ingest / stored requests per second.

Each run prints requests/s, p50/p99 and the server's CPU time per request (all its processes,
from /proc): the steadiest figure when other jobs share the machine. ``--no-access-log`` serves
without gunicorn's access log (as behind a proxy that logs); ``--threads`` sets the threads per worker
(``readalso serve --threads``). Needs ``wrk`` on the PATH. The client
shares the machine's cores with the server.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import numpy as np

REPO = Path(__file__).resolve().parents[1]
READALSO = [str(Path(sys.executable).with_name("readalso"))] if Path(sys.executable).with_name("readalso").exists() \
    else [shutil.which("readalso") or "readalso"]
TOKEN = "bench-token"
STEPS = ("live", "stored", "after_ingest")
ROTATE = """
local ids = {%s}
local i = 0
request = function()
  i = i %% #ids + 1
  return wrk.format("GET", "/v1/articles/" .. ids[i] .. "/related?k=%d")
end
"""


def corpus(n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    background = [f"word{i}" for i in range(5000)]
    weights = [1.0 / (i + 1) for i in range(len(background))]
    stories = max(1, n // 8)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    records = []
    for i in range(n):
        story = i % stories
        words = rng.choices(background, weights, k=220) + rng.choices([f"story{story}n{j}" for j in range(20)], k=40)
        rng.shuffle(words)
        links = [{"headline": records[i - stories]["headline"], "url": records[i - stories]["url"]}] \
            if i >= stories and i % 2 else []
        records.append({"id": f"s{i:06d}", "url": f"https://news.example/{i}", "headline": " ".join(words[:8]),
                        "body": " ".join(words[8:]), "section": ("world", "sport", "money")[i % 3],
                        "published_at": (start + timedelta(hours=3 * i)).isoformat(), "read_also": links})
    return records


def readalso(db: Path, *args: str) -> str:
    result = subprocess.run([*READALSO, "--db", str(db), *args], cwd=REPO, capture_output=True, text=True, check=True)
    return result.stdout.strip()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_cpu_seconds(leader: int) -> float:
    """User + system CPU seconds of the server's processes so far (gunicorn master and workers)."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == leader:  # process group: the server runs in its own session
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def wrk(url: str, script: Path, duration: int, connections: int, leader: int) -> dict:
    cpu = server_cpu_seconds(leader)
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(script), url],
                         capture_output=True, text=True, check=True).stdout
    cpu = server_cpu_seconds(leader) - cpu
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50, p99 = (re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out).groups() for p in (50, 99))
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"requests_per_s": rps, "p50_ms": round(float(p50[0]) * scale[p50[1]], 2),
            "p99_ms": round(float(p99[0]) * scale[p99[1]], 2), "non_2xx": int(errors.group(1)) if errors else 0,
            "server_cpu_ms_per_request": round(1e3 * cpu / max(1, requests), 3)}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, help="a real data set to ingest (default: a synthetic corpus)")
    parser.add_argument("--map", help="field mapping for --data, as 'readalso ingest --map' takes it")
    parser.add_argument("--articles", type=int, default=3000, help="synthetic corpus size")
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of one run per server; medians are reported")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None,
                        help="threads per worker (default: readalso serve's)")
    parser.add_argument("-k", type=int, default=5, help="stories per request (the widget's default)")
    parser.add_argument("--no-access-log", action="store_true", help="serve without gunicorn's access log")
    args = parser.parse_args(argv)
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (apt-get install wrk)")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        db = {step: tmp / step / "bench.db" for step in STEPS}
        db["live"].parent.mkdir()
        if args.data is None:
            with open(tmp / "articles.jsonl", "w", encoding="utf-8") as handle:
                handle.writelines(json.dumps(r) + "\n" for r in corpus(args.articles))
        mapping = ["--map", args.map] if args.map else []
        readalso(db["live"], "ingest", str(args.data.resolve() if args.data else tmp / "articles.jsonl"), *mapping)
        print(readalso(db["live"], "build"), flush=True)
        shutil.copytree(db["live"].parent, db["stored"].parent)
        print(readalso(db["stored"], "batch", "-k", "10"), flush=True)
        shutil.copytree(db["stored"].parent, db["after_ingest"].parent)
        ids = stored_ids(db["live"])
        script = tmp / "rotate.lua"
        script.write_text(ROTATE % (", ".join(json.dumps(quote(i, safe="")) for i in ids), args.k), encoding="utf-8")
        results: dict = {"data": str(args.data or f"synthetic {args.articles}"), "articles": len(ids),
                         "workers": args.workers, "threads": args.threads or "default", "connections": args.connections,
                         "k": args.k,
                         "access_log": not args.no_access_log, "rounds": []}
        servers: dict[str, tuple[subprocess.Popen, str]] = {}
        try:
            for step in STEPS:
                servers[step] = serve(db[step], args.workers, args.threads, args.no_access_log)
            for _, base in servers.values():
                wait_ready(base, ids[0], args.k)
            one = tmp / "one.jsonl"
            one.write_text(json.dumps(follow_up(db["live"], ids)) + "\n", encoding="utf-8")
            print(readalso(db["after_ingest"], "ingest", str(one)), flush=True)
            reload_model(servers["after_ingest"][1])
            for r in range(args.rounds):
                order = STEPS[r % len(STEPS):] + STEPS[:r % len(STEPS)]  # each server first, second, last in turn
                runs = {step: measured(servers[step][1], servers[step][0].pid, script, args) for step in order}
                results["rounds"].append({step: runs[step] for step in STEPS})
                print(json.dumps(runs), flush=True)
        finally:
            for server, _ in servers.values():
                os.killpg(server.pid, signal.SIGTERM)
                server.wait(timeout=30)
    rounds = results["rounds"]
    for step in STEPS:
        results[step] = {figure: float(np.median([r[step][figure] for r in rounds]))
                         for figure in ("requests_per_s", "p50_ms", "p99_ms", "server_cpu_ms_per_request")}
        results[step]["paths"] = rounds[-1][step]["paths"]
    for step in ("live", "after_ingest"):
        ratios = [r[step]["requests_per_s"] / r["stored"]["requests_per_s"] for r in rounds]
        results[f"{step}_vs_stored"] = {"median": round(float(np.median(ratios)), 3),
                                        "rounds": [round(x, 3) for x in ratios]}
    print(json.dumps({key: value for key, value in results.items() if key != "rounds"}), flush=True)


def serve(db: Path, workers: int, threads: int | None, no_access_log: bool) -> tuple[subprocess.Popen, str]:
    """``readalso serve`` on ``db`` in its own session, ranking cache and rate limits off; (process, base URL)."""
    port = free_port()
    env = {**os.environ, "READALSO_RANKING_CACHE_SECONDS": "0", "READALSO_API_TOKEN": TOKEN,
           "READALSO_RATE_LIMITS_ENABLED": "false"}  # the server's capacity, not one client's allowance
    command = ["serve", "--port", str(port), "--workers", str(workers),
               *(["--threads", str(threads)] if threads else []), *(["--no-access-log"] if no_access_log else [])]
    server = subprocess.Popen([*READALSO, "--db", str(db), *command], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    return server, f"http://127.0.0.1:{port}"


def wait_ready(base: str, article_id: str, k: int) -> None:
    for _ in range(240):
        try:
            urllib.request.urlopen(f"{base}/readyz", timeout=2)
            break
        except OSError:
            time.sleep(0.5)
    urllib.request.urlopen(f"{base}/v1/articles/{quote(article_id)}/related?k={k}", timeout=30)


def measured(base: str, leader: int, script: Path, args) -> dict:
    """One wrk run against one server, with the share of answers each path gave during it."""
    before = answered_paths(base)
    run = wrk(base, script, args.duration, args.connections, leader)
    after = answered_paths(base)
    total = sum(after.values()) - sum(before.values())
    run["paths"] = {path: round((after.get(path, 0) - before.get(path, 0)) / max(1, total), 3) for path in after}
    return run


def stored_ids(db: Path) -> list[str]:
    """Every article id of the store, in store order."""
    with sqlite3.connect(db) as connection:
        return [row[0] for row in connection.execute("SELECT id FROM articles ORDER BY rowid")]


def follow_up(db: Path, ids: list[str]) -> dict:
    """One new article: a follow-up worded like a stored one (so it reaches some stored lists)."""
    with sqlite3.connect(db) as connection:
        headline, body = connection.execute("SELECT headline, body FROM articles WHERE id = ?", (ids[0],)).fetchone()
    return {"id": "bench-follow-up", "headline": f"Update: {headline}", "body": f"{body} The story develops.",
            "published_at": datetime.now(UTC).isoformat()}


def reload_model(base: str) -> None:
    request = urllib.request.Request(f"{base}/v1/admin/reload", method="POST",
                                     headers={"Authorization": f"Bearer {TOKEN}"})
    urllib.request.urlopen(request, timeout=120).read()


def answered_paths(base: str) -> dict[str, float]:
    """``readalso_rankings_total`` by path, summed over the server's workers."""
    text = urllib.request.urlopen(f"{base}/metrics", timeout=10).read().decode("utf-8")
    counts: dict[str, float] = {}
    for path, value in re.findall(r'^readalso_rankings_total\{path="(\w+)"\} ([\d.e+]+)$', text, re.M):
        counts[path] = counts.get(path, 0.0) + float(value)
    return counts


if __name__ == "__main__":
    main()
