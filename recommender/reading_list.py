"""Reading lists: catch up on a developing story, or what to read next after a reading history.

Both lists are built on the engine's one scoring path (``Engine.related`` and its index), honour
editors' blocks, and fit a time budget from each article's reading time (``Article.reading_minutes``).

* :func:`story_list` - the story's articles, oldest first, the latest marked; of several copies of
  one text (a wire story and its reprints) only the original.
* :func:`history_list` - stories related to what was read, never what was read (nor a near copy),
  chosen for relevance with diversity (MMR), then ordered freshest first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from recommender import pipeline
from recommender.cosine import block_dots
from recommender.engine import UnknownArticle
from recommender.ranking import Filters, maximal_marginal_relevance

STORY_THRESHOLD = 0.5
"""Minimum relatedness (cosine of the expanded vectors) to the article for another article to belong to
its story; measured on news-events' hand-labelled events and the demo corpus's stories (docs/evaluation.md)."""
STORY_CANDIDATES = 60


@dataclass(frozen=True)
class ReadingItem:
    id: str
    headline: str
    url: str | None
    published_at: str | None
    minutes: float
    score: float
    latest: bool = False


@dataclass(frozen=True)
class ReadingList:
    kind: str  # "story" or "history"
    items: tuple[ReadingItem, ...]
    budget_minutes: float | None

    @property
    def total_minutes(self) -> float:
        return round(sum(item.minutes for item in self.items), 1)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "budget_minutes": self.budget_minutes, "total_minutes": self.total_minutes,
                "items": [asdict(item) for item in self.items]}


def fit_budget(order: Sequence[str], minutes: dict[str, float], budget: float | None) -> list[str]:
    """Take ids in priority order while they fit in the budget (an item too long is skipped, later ones may fit)."""
    if budget is None:
        return list(order)
    if not budget > 0:
        raise ValueError(f"minutes must be positive, got {budget}")
    chosen, used = [], 0.0
    for item in order:
        if used + minutes[item] <= budget + 1e-9:
            chosen.append(item)
            used += minutes[item]
    return chosen


def _blocked(engine, article_id: str) -> frozenset[str]:
    feedback = engine.catalogue.feedback_for(article_id)
    return feedback.blocks if feedback is not None else frozenset()


def _check(engine, article_id: str) -> int:
    row = engine.index.row_of.get(article_id)
    if row is None or not engine.index.alive[row]:
        raise UnknownArticle(article_id)
    return row


def _items(engine, ids: Sequence[str], scores: dict[str, float], latest: str | None = None) -> tuple[ReadingItem, ...]:
    articles = engine.articles(ids)
    return tuple(ReadingItem(i, articles[i].headline, articles[i].url,
                             articles[i].published_at.isoformat() if articles[i].published_at else None,
                             round(articles[i].reading_minutes, 1), round(float(scores.get(i, 0.0)), 6),
                             latest=(i == latest)) for i in ids if i in articles)


def _published(engine, row: int) -> float:
    value = engine.index.published[row]
    return -np.inf if np.isnan(value) else float(value)


def story_list(engine, article_id: str, *, minutes: float | None = None,
               threshold: float = STORY_THRESHOLD) -> ReadingList:
    """The developing story around ``article_id``: its articles oldest first, the latest one marked.

    Members are the article and every article whose relatedness to it reaches ``threshold``; of
    several copies of one text (the engine's duplicate test) only the original, the first
    published, stays. In a budget the latest article comes first, then the closest to the article.
    """
    row = _check(engine, article_id)
    index = engine.index
    blocked = _blocked(engine, article_id)
    mask = index.mask(language=index.languages[row] if engine.config.same_language else None,
                      exclude=[article_id, *blocked])
    hits = pipeline.search(engine, index.expanded[row], STORY_CANDIDATES, mask, None, 1)
    found = (hits.indices[0] >= 0) & (hits.scores[0] >= threshold)
    rows = [row, *hits.indices[0][found].tolist()]
    score = {index.ids[row]: 1.0}
    score.update((index.ids[r], float(s)) for r, s in zip(hits.indices[0][found], hits.scores[0][found]))
    rows.sort(key=lambda r: (_published(engine, r), r))  # oldest first: of several copies the original stays
    kept = _originals(engine, rows)
    members = [index.ids[r] for r in kept]
    latest = members[-1]
    articles = engine.articles(members)
    reading = {i: articles[i].reading_minutes for i in members}
    priority = [latest, *sorted(members[:-1], key=lambda i: (-score[i], i))]
    chosen = set(fit_budget(priority, reading, minutes))
    return ReadingList("story", _items(engine, [i for i in members if i in chosen], score, latest=latest), minutes)


def _originals(engine, rows: Sequence[int]) -> list[int]:
    """``rows`` (in priority order) without the copies of an earlier one (the pipeline's copy collapse)."""
    array = np.asarray(rows, dtype=np.int64)
    return array[pipeline.originals(engine, array)].tolist()


def history_list(engine, history: Sequence[str], *, minutes: float | None = None, k: int = 10,
                 diversity: float = 0.3, per_article: int = 20) -> ReadingList:
    """What to read next after ``history`` (oldest read first): related, unread, varied, freshest first.

    Each read article's related list (:meth:`Engine.related`) adds its relatedness, the latest read
    counting most; a copy of something read, or of a better candidate, never appears.
    """
    if not history:
        raise ValueError("history needs at least one article id")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    read = list(dict.fromkeys(history))
    read_rows = [_check(engine, i) for i in read]
    index = engine.index
    pooled: dict[str, float] = {}
    for position, article_id in enumerate(read):
        weight = 0.5 ** (len(read) - 1 - position)  # the latest read counts most
        for rec in engine.related(article_id, per_article, filters=Filters(exclude=frozenset(read))):
            pooled[rec.id] = pooled.get(rec.id, 0.0) + weight * rec.score
    ids = sorted((i for i in pooled if i not in read), key=lambda i: (-pooled[i], i))
    kept = _originals(engine, read_rows + [index.row_of[i] for i in ids])  # the read articles come first
    rows = [r for r in kept if r not in set(read_rows)]
    if not rows:
        return ReadingList("history", (), minutes)
    ids = [index.ids[r] for r in rows]
    relevance = np.asarray([pooled[i] for i in ids])
    relevance = relevance / relevance.max() if relevance.max() > 0 else relevance
    similarity = block_dots(index.matrix, np.asarray(rows, dtype=np.int64))
    order = [ids[p] for p in maximal_marginal_relevance(relevance, similarity, len(ids), diversity)]
    articles = engine.articles(order)
    chosen = fit_budget(order, {i: articles[i].reading_minutes for i in order}, minutes)[:k]
    chosen.sort(key=lambda i: (-_published(engine, index.row_of[i]), i))
    return ReadingList("history", _items(engine, chosen, pooled), minutes)


__all__ = ["ReadingItem", "ReadingList", "story_list", "history_list", "fit_budget", "STORY_THRESHOLD"]
