"""Prometheus metrics: requests and latency per route, model version, article count.

Built on ``prometheus_client`` (the maintained implementation of the text format, with
histogram buckets and label escaping done right). Under gunicorn several processes serve,
and a scrape reaches one of them; ``readalso serve`` therefore sets
``PROMETHEUS_MULTIPROC_DIR`` before the workers start, each process writes its values
there, and ``/metrics`` merges them (``MultiProcessCollector``). Without that variable
(tests, one process) each app has its own registry.
"""

from __future__ import annotations

import os
import time

from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from .holder import Snapshot

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


def multiprocess_mode() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


class Metrics:
    """The service's instruments, registered in a registry of their own."""

    def __init__(self):
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("readalso_http_requests_total", "HTTP requests answered.",
                                ["route", "method", "status"], registry=self.registry)
        self.latency = Histogram("readalso_http_request_duration_seconds", "Time to answer a request.",
                                 ["route", "method"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.model = Gauge("readalso_model_info", "1 for the model version served (by any live worker).",
                           ["version"], registry=self.registry, multiprocess_mode="livemax")
        self.articles = Gauge("readalso_articles", "Articles the served model can recommend.",
                              registry=self.registry, multiprocess_mode="livemax")
        self.reloads = Counter("readalso_model_reloads_total", "Model reloads, by outcome.", ["outcome"],
                               registry=self.registry)
        self.rankings = Counter("readalso_rankings_total", "Ranking answers, by the path that answered: stored "
                                "(a batch list), live (ranked now) or cached (a recent ranking reused).", ["path"],
                                registry=self.registry)
        self._version: str | None = None
        # the snapshot last shown by ``follow`` and its change count
        self._followed: tuple[Snapshot | None, int | None] = (None, None)

    def follow(self, snapshot: Snapshot) -> None:
        """The model gauges of a request's snapshot, recomputed only when the snapshot or its articles changed."""
        if self._followed[0] is not snapshot or self._followed[1] != snapshot.changes_seen:
            self._followed = (snapshot, snapshot.changes_seen)
            self.set_model(snapshot.version, len(snapshot.engine.index) if snapshot.engine else 0)

    def set_model(self, version: str | None, articles: int) -> None:
        if version != self._version:
            if self._version is not None:
                self.model.labels(self._version).set(0)
            if version is not None:
                self.model.labels(version).set(1)
            self._version = version
        self.articles.set(articles)

    def exposition(self) -> bytes:
        if multiprocess_mode():
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)

    # -- Flask wiring -------------------------------------------------------------------------
    def init_app(self, app: Flask) -> None:
        app.extensions["readalso.metrics"] = self
        app.before_request(self._start)
        app.after_request(self._observe)

    @staticmethod
    def _start() -> None:
        g.started = time.perf_counter()

    def _observe(self, response: Response) -> Response:
        started = g.get("started")
        if started is not None:
            route = request.url_rule.rule if request.url_rule else "unmatched"
            self.requests.labels(route, request.method, str(response.status_code)).inc()
            self.latency.labels(route, request.method).observe(time.perf_counter() - started)
        return response


def metrics_response(metrics: Metrics) -> Response:
    return Response(metrics.exposition(), mimetype=CONTENT_TYPE_LATEST.split(";")[0],
                    headers={"Content-Type": CONTENT_TYPE_LATEST, "Cache-Control": "no-store"})


def worker_exit(pid: int) -> None:
    """gunicorn ``child_exit`` hook: drop a dead worker's live gauges."""
    if multiprocess_mode():
        multiprocess.mark_process_dead(pid)
