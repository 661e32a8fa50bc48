"""Shared fixtures: a small planted corpus of news stories, and where the shared public data lives."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from recommender.articles import Article, ReadAlsoLink
from recommender.artifacts import save_engine
from recommender.engine import Engine
from recommender.store import Store

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
DEMO = REPO / "data" / "demo"
START = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)

# Three stories of three articles each, in three sections, one a day.
STORIES = {
    "storm": ("climate", [
        "Storm Ardent floods coastal towns as river barriers fail",
        "Storm Ardent: thousands evacuated as flood barriers give way",
        "After Storm Ardent, towns count the cost of failed flood barriers",
    ], "storm flood barrier river coastal evacuation rain surge levee water towns damage wind shelter "
       "rescue sandbag dyke estuary tide forecast"),
    "election": ("politics", [
        "Harbour city mayor wins re-election by narrow margin",
        "Mayoral recount confirms narrow re-election win",
        "Re-elected mayor names new cabinet after recount",
    ], "mayor election vote ballot recount council campaign cabinet turnout margin candidate party "
       "polling district coalition deputy manifesto opposition"),
    "chips": ("technology", [
        "Chipmaker Veltrix opens new fabrication plant",
        "Veltrix plant begins producing advanced chips",
        "Veltrix shares rise as chip plant output grows",
    ], "chip semiconductor fabrication plant wafer factory production silicon output investors Veltrix "
       "engineers lithography supply contract orders capacity"),
}
COMMON = ("report official statement week city people morning government local company public "
          "according number month region people change plan")


def planted_corpus() -> list[Article]:
    """Nine articles in three stories; each follow-up links to the first report of its story."""
    rng = random.Random(7)
    articles = []
    day = 0
    for story, (section, headlines, words) in STORIES.items():
        for i, headline in enumerate(headlines):
            sentences = [" ".join(rng.sample(words.split(), 4) + rng.sample(COMMON.split(), 3)) + "."
                         for _ in range(8)]
            links = (ReadAlsoLink(headlines[0]),) if i else ()
            articles.append(Article(id=f"{story}-{i + 1}", headline=headline, body=" ".join(sentences),
                                    section=section, url=f"https://news.example/{section}/{story}-{i + 1}",
                                    published_at=START + timedelta(days=day), read_also=links))
            day += 1
    return articles


@pytest.fixture
def corpus() -> list[Article]:
    return planted_corpus()


@pytest.fixture
def shared() -> Path:
    if not SHARED.exists():
        pytest.skip(f"shared public data not present at {SHARED}")
    return SHARED


# -- service fixtures -------------------------------------------------------------------------
API_TOKEN = "test-token-3f9a"
HOSTILE_HEADLINE = "<img src=x onerror=alert(1)> Storm Ardent flood barriers fail again"


def service_corpus() -> list[Article]:
    """The planted corpus plus a storm follow-up whose headline is hostile HTML."""
    articles = planted_corpus()
    hostile = Article(id="storm-hostile", headline=HOSTILE_HEADLINE, section="climate",
                      url="https://news.example/climate/storm-hostile", published_at=START + timedelta(days=10),
                      body="Flood barrier river coastal evacuation sandbag levee surge. Storm Ardent rescue crews "
                           "reached the estuary towns at dawn. The tide forecast warns of a second surge; shelter "
                           "places are full and the dyke damage is worse than the council feared. Wind and rain "
                           "kept water rising along the river all week.")
    return [*articles, hostile]


def build_service_db(directory: Path) -> Path:
    """A store of ``service_corpus()`` with a built model beside it (``<db>.artifacts``)."""
    from recommender.links import resolve_store

    db = directory / "service.db"
    with Store(db) as store:
        store.articles.upsert_many(service_corpus())
        resolve_store(store)
        build_model(store, db.with_suffix(".artifacts"))
    return db


@pytest.fixture(scope="session")
def _service_template(tmp_path_factory) -> Path:
    return build_service_db(tmp_path_factory.mktemp("service-template"))


@pytest.fixture
def service_db(_service_template, tmp_path) -> Path:
    """A fresh copy of the built service store and its model, for one test to change at will."""
    import shutil

    db = tmp_path / _service_template.name
    shutil.copy(_service_template, db)
    shutil.copytree(_service_template.with_suffix(".artifacts"), db.with_suffix(".artifacts"))
    return db


@pytest.fixture
def make_app(service_db, monkeypatch):
    """``make_app(**config)``: a service on ``service_db`` with the test token; no READALSO_* from outside."""
    import os

    from service import create_app

    for name in list(os.environ):
        if name.startswith("READALSO_"):
            monkeypatch.delenv(name)

    def make(**overrides):
        return create_app({"DB": service_db, "API_TOKEN": API_TOKEN, "TESTING": True,
                           "CONFIGURE_LOGGING": False, **overrides})
    return make


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {API_TOKEN}"}


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LiveServer:
    """``readalso --db DB serve`` (gunicorn) on a free loopback port, stopped with SIGTERM."""

    def __init__(self, db: Path, *, workers: int = 2, log: Path | None = None, env: dict | None = None):
        import os
        import subprocess
        import sys

        extra_env = env
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.db = db
        env = {k: v for k, v in os.environ.items() if not k.startswith(("READALSO_", "PROMETHEUS_"))}
        env.update(READALSO_API_TOKEN=API_TOKEN, READALSO_CORS_ORIGINS="*")
        env.update(extra_env or {})
        self.log = log or db.parent / "server.log"
        command = [str(Path(sys.executable).parent / "readalso"), "--db", str(db), "serve",
                   "--port", str(self.port), "--workers", str(workers)]
        self.process = subprocess.Popen(command, env=env, stdout=self.log.open("wb"), stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 20.0) -> LiveServer:
        import time
        import urllib.request

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log.read_text()}")
            try:
                with urllib.request.urlopen(self.url + "/readyz", timeout=2) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"server not ready after {timeout} s:\n{self.log.read_text()}")

    def stop(self) -> int:
        import signal
        import subprocess

        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


@pytest.fixture
def live_server(service_db):
    server = LiveServer(service_db)
    try:
        yield server.wait_ready()
    finally:
        server.stop()


def build_model(store: Store, root: Path) -> Path:
    """Fit an engine on every article of ``store`` (default settings) and save it as a new version under
    ``root``."""
    return save_engine(Engine(None, store).fit(store.articles.iter_articles()), root)
