"""Shared fixtures: a small planted corpus of news stories, and where the shared public data lives."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from recommender.articles import Article, ReadAlsoLink

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
DEMO = REPO / "data" / "demo"
START = datetime(2026, 10, 1, 8, 0, tzinfo=timezone.utc)

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
