"""Click logs in the MIND format (Wu et al., ACL 2020): ``news.tsv`` + ``behaviors.tsv``.

``news.tsv`` (no header): NewsID, Category, SubCategory, Title, Abstract, URL, TitleEntities,
AbstractEntities. ``behaviors.tsv`` (no header): ImpressionID, UserID, Time
(``11/15/2019 8:55:22 AM``), History (space-separated NewsIDs, may be empty), Impressions
(``N123-1 N456-0``: candidate shown, 1 = clicked). Test-split impressions without labels are
skipped. Two ground truths come from one log:

* :class:`ImpressionTask` - rank each impression's candidates for the user's history; scored with
  AUC, MRR, nDCG@5 and nDCG@10 as the MIND benchmark defines them.
* a co-click :class:`~recommender.evaluation.datasets.RetrievalTask` - two articles are related when
  one user clicked both close together: both clicked in one impression, or one clicked right after
  the other was among the user's last ``coclick_window`` history items. A pair counts when at least
  ``min_support`` users co-clicked it.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import combinations
from pathlib import Path

from recommender.articles import Article
from recommender.evaluation.datasets import DatasetMalformed, DatasetMissing, RetrievalTask

__all__ = ["Impression", "ImpressionTask", "read_mind_news", "read_mind_behaviors", "load_mind"]


@dataclass(frozen=True)
class Impression:
    id: str
    user: str
    time: datetime | None
    history: tuple[str, ...]
    candidates: tuple[str, ...]
    labels: tuple[int, ...]


@dataclass(frozen=True)
class ImpressionTask:
    """Score each impression's candidates from the user's last ``history_window`` clicks."""

    name: str
    description: str
    articles: tuple[Article, ...]
    impressions: tuple[Impression, ...]
    history_window: int = 10
    kind: str = field(default="impressions", init=False)


def _mind_time(text: str) -> datetime | None:
    try:
        return datetime.strptime(text.strip(), "%m/%d/%Y %I:%M:%S %p").replace(tzinfo=UTC)
    except ValueError:
        return None


def read_mind_news(path: Path | str) -> list[Article]:
    """Articles of a MIND ``news.tsv``; MIND has no publication dates, so ``published_at`` is None."""
    path = Path(path)
    if not path.is_file():
        raise DatasetMissing(f"MIND: no news.tsv at {path}")
    articles, seen = [], set()
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            cells = line.rstrip("\n").split("\t")
            if len(cells) < 4:
                raise DatasetMalformed(f"{path}:{number}: expected at least 4 tab-separated columns, got {len(cells)}")
            news_id, category, _subcategory, title = cells[:4]
            if news_id in seen or not title.strip():
                continue
            seen.add(news_id)
            articles.append(Article(id=news_id, headline=title, body=cells[4] if len(cells) > 4 else "",
                                    url=cells[5] if len(cells) > 5 and cells[5] else None,
                                    section=category or None))
    return articles


def read_mind_behaviors(path: Path | str) -> list[Impression]:
    """Impressions of a MIND ``behaviors.tsv`` that carry click labels."""
    path = Path(path)
    if not path.is_file():
        raise DatasetMissing(f"MIND: no behaviors.tsv at {path}")
    impressions = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            cells = line.rstrip("\n").split("\t")
            if len(cells) != 5:
                raise DatasetMalformed(f"{path}:{number}: expected 5 tab-separated columns, got {len(cells)}")
            impression_id, user, time, history, shown = cells
            pairs = [item.rsplit("-", 1) for item in shown.split()]
            if not pairs or any(len(pair) != 2 for pair in pairs):
                continue  # test split: candidates without labels
            impressions.append(Impression(id=impression_id, user=user, time=_mind_time(time),
                                          history=tuple(history.split()),
                                          candidates=tuple(pair[0] for pair in pairs),
                                          labels=tuple(int(pair[1]) for pair in pairs)))
    return impressions


def _sorted_pair(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a <= b else (b, a)


def load_mind(directory: Path | str, *, min_support: int = 1, coclick_window: int = 5, max_queries: int | None = 2000,
              max_impressions: int | None = 5000, seed: int = 0) -> tuple[ImpressionTask, RetrievalTask]:
    """Both MIND ground truths from one ``news.tsv`` + ``behaviors.tsv`` directory.

    Impressions whose history, candidates or clicks fall outside ``news.tsv`` are dropped, as are
    those without both a click and a non-click (AUC is undefined there). Large logs are sampled
    (seeded) down to ``max_impressions`` impressions and ``max_queries`` co-click queries.
    """
    directory = Path(directory)
    articles = read_mind_news(directory / "news.tsv")
    known = {article.id for article in articles}
    rng = random.Random(seed)
    usable = []
    user_pairs: dict[str, set[tuple[str, str]]] = defaultdict(set)
    clicks: Counter[str] = Counter()
    for impression in read_mind_behaviors(directory / "behaviors.tsv"):
        clicked = [c for c, label in zip(impression.candidates, impression.labels) if label and c in known]
        history = tuple(item for item in impression.history if item in known)
        clicks.update(clicked)
        pairs = user_pairs[impression.user]
        pairs.update(_sorted_pair(a, b) for a, b in combinations(set(clicked), 2))
        pairs.update(_sorted_pair(c, h) for c in clicked for h in history[-coclick_window:] if c != h)
        keep = [i for i, c in enumerate(impression.candidates) if c in known]
        labels = [impression.labels[i] for i in keep]
        if history and 0 < sum(labels) < len(labels):
            usable.append(Impression(impression.id, impression.user, impression.time, history,
                                     tuple(impression.candidates[i] for i in keep), tuple(labels)))
    if max_impressions is not None and len(usable) > max_impressions:
        usable = sorted(rng.sample(usable, max_impressions), key=lambda imp: imp.id)
    relevance: dict[str, dict[str, int]] = defaultdict(dict)
    support = Counter(pair for pairs in user_pairs.values() for pair in pairs)
    for (a, b), users in support.items():
        if users >= min_support:
            relevance[a][b] = 1
            relevance[b][a] = 1
    if max_queries is not None and len(relevance) > max_queries:
        chosen = set(rng.sample(sorted(relevance), max_queries))
        relevance = {q: grades for q, grades in relevance.items() if q in chosen}
    impressions_task = ImpressionTask(
        name="mind-impressions",
        description=f"MIND impressions from {directory}: {len(usable):,} impressions, {len(articles):,} news",
        articles=tuple(articles), impressions=tuple(usable))
    coclick_task = RetrievalTask(
        name="mind-coclicks",
        description=(f"MIND co-clicks from {directory}: related = clicked by the same user "
                     f"(at least {min_support} user(s)); {len(relevance):,} queries"),
        articles=tuple(articles), relevance=dict(relevance), popularity=dict(clicks), n_events=sum(clicks.values()))
    return impressions_task, coclick_task
