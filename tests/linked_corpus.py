"""A corpus whose editors link like real ones: one topical pick (the story's previous article) and one
trending pick (the newest explainer, which shares no words with the stories)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from recommender.articles import Article, ReadAlsoLink

START = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)
STORY_WORDS = [
    "storm flood barrier river coastal evacuation rain surge levee water",
    "mayor election vote ballot recount council campaign cabinet turnout margin",
    "chip semiconductor fabrication wafer factory silicon lithography foundry transistor yield",
    "football league striker goal penalty season coach stadium transfer derby",
    "vaccine hospital doctors patients clinic virus nurses treatment ward trial",
]
HUB_WORDS = "explainer history timeline background guide context origins map glossary chronology"
COMMON = "report official statement week people morning government local public number month plan"


def linked_corpus(days: int = 60, hub_every: int = 10, seed: int = 3) -> list[Article]:
    rng = random.Random(seed)

    def body(words: str) -> str:
        return " ".join(" ".join(rng.sample(words.split(), 4) + rng.sample(COMMON.split(), 3)) + "."
                        for _ in range(8))

    articles, last_of_story, hub = [], {}, None
    for day in range(days):
        when = START + timedelta(days=day)
        if day % hub_every == 0:
            hub = Article(id=f"hub-{day}", headline=f"Explainer {day}: the background guide and timeline",
                          body=body(HUB_WORDS), section="explainers", published_at=when - timedelta(hours=1))
            articles.append(hub)
        story = day % len(STORY_WORDS)
        words = STORY_WORDS[story]
        links = [ReadAlsoLink(hub.headline, target_id=hub.id)]
        if story in last_of_story:
            previous = last_of_story[story]
            links.insert(0, ReadAlsoLink(previous.headline, target_id=previous.id))
        article = Article(id=f"s{story}-d{day}", headline=f"{words.split()[0].title()} news on day {day}: "
                          f"{' '.join(rng.sample(words.split(), 3))}", body=body(words), section=f"story{story}",
                          published_at=when, read_also=tuple(links))
        articles.append(article)
        last_of_story[story] = article
    return articles


def without_links_to(articles: list[Article], source: str, prefix: str) -> list[Article]:
    """The corpus with ``source``'s links to ids starting with ``prefix`` removed (held out)."""
    return [a.with_links([link for link in a.read_also if not (link.target_id or "").startswith(prefix)])
            if a.id == source
            else a for a in articles]
