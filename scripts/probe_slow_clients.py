#!/usr/bin/env python3
"""How a readalso server answers while slow clients hold connections open.

Opens N connections that each send one request header line every few seconds (a slow client,
or a "slowloris"), then times plain GET requests to a path while they are open, and prints
p50, p95 and max latency. The server should answer as fast as without them.

    python scripts/probe_slow_clients.py http://127.0.0.1:8000 --slow 8 --requests 40
"""

from __future__ import annotations

import argparse
import socket
import statistics
import threading
import time
import urllib.request
from urllib.parse import urlsplit


def slow_client(host: str, port: int, stop: threading.Event, interval: float) -> None:
    """Send a request line and then one header line every ``interval`` seconds until ``stop``."""
    try:
        with socket.create_connection((host, port), timeout=5) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: probe\r\n")
            number = 0
            while not stop.wait(interval):
                number += 1
                sock.sendall(f"X-Slow-{number}: {'a' * 10}\r\n".encode())
    except OSError:
        pass  # the server closed the connection: also fine


def probe(base: str, *, slow: int = 8, requests: int = 40, path: str = "/healthz", interval: float = 4.0,
          settle: float = 1.0, timeout: float = 20.0) -> dict:
    """Latencies (seconds) of ``requests`` GETs of ``path`` while ``slow`` slow clients are connected."""
    parts = urlsplit(base)
    stop = threading.Event()
    threads = [threading.Thread(target=slow_client, args=(parts.hostname, parts.port or 80, stop, interval),
                                daemon=True) for _ in range(slow)]
    for thread in threads:
        thread.start()
    time.sleep(settle)  # let them connect and start trickling
    latencies, failures = [], 0
    try:
        for _ in range(requests):
            started = time.perf_counter()
            try:
                with urllib.request.urlopen(base.rstrip("/") + path, timeout=timeout) as response:
                    response.read()
                latencies.append(time.perf_counter() - started)
            except OSError:
                failures += 1
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=interval + 5)
    ordered = sorted(latencies) or [float("nan")]
    return {"slow_clients": slow, "requests": requests, "failures": failures,
            "p50": statistics.median(ordered), "p95": ordered[int(0.95 * (len(ordered) - 1))], "max": ordered[-1]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("base", help="server base URL, e.g. http://127.0.0.1:8000")
    parser.add_argument("--slow", type=int, default=8, help="slow clients held open [8]")
    parser.add_argument("--requests", type=int, default=40, help="timed requests [40]")
    parser.add_argument("--path", default="/healthz", help="path to time [/healthz]")
    parser.add_argument("--interval", type=float, default=4.0, help="seconds between a slow client's lines [4]")
    args = parser.parse_args()
    result = probe(args.base, slow=args.slow, requests=args.requests, path=args.path, interval=args.interval)
    print(f"{args.path} with {result['slow_clients']} slow clients open: {result['requests']} requests, "
          f"{result['failures']} failed, p50 {result['p50'] * 1000:.1f} ms, p95 {result['p95'] * 1000:.1f} ms, "
          f"max {result['max'] * 1000:.1f} ms")


if __name__ == "__main__":
    main()
