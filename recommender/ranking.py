"""Small pure functions that shape a ranking: filters, recency, near-duplicate collapse, diversity, reasons."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import overload

import numpy as np
import scipy.sparse as sp

from recommender.cosine import Row, strongest_shared_terms

SECONDS_PER_DAY = 86400.0


@dataclass(frozen=True)
class Filters:
    """What a caller allows in a ranking. ``max_age_days`` counts back from ``now``."""

    section: str | None = None
    max_age_days: float | None = None
    exclude: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self):
        if self.max_age_days is not None and not self.max_age_days > 0:
            raise ValueError(f"max_age_days must be positive, got {self.max_age_days}")
        object.__setattr__(self, "exclude", frozenset(self.exclude))

    def published_after(self, now: datetime) -> float | None:
        if self.max_age_days is None:
            return None
        return now.timestamp() - self.max_age_days * SECONDS_PER_DAY


@dataclass(frozen=True)
class Recommendation:
    """One related story.

    ``score`` is its relatedness to the article: the cosine of their neighbour-expanded TF-IDF
    vectors, in [0, 1], comparable across articles and queries. ``editor_probability`` is the link
    model's calibrated probability that an editor would pick it for this article (None when no model
    is active). The list's order blends the two within the relatedness floor, so it need not follow
    ``score`` alone. ``reason`` is a short human explanation.
    """

    id: str
    score: float
    reason: str
    editor_probability: float | None = None


@dataclass(frozen=True)
class Ranking(Sequence[Recommendation]):
    """A ranked list of related stories, best first: what every ranking path returns.

    ``path`` says what answered: ``"live"`` (ranked now) or ``"stored"`` (a batch list). ``reach``
    is the relatedness an article added later needs to become one of the ranking's candidates (the
    last searched candidate's; 0 when the search ran out), so a stored list knows when it is stale.
    A baseline's ranking (:meth:`from_scores`) has ids and scores only.
    """

    items: tuple[Recommendation, ...] = ()
    path: str = "live"
    reach: float = 0.0

    @overload
    def __getitem__(self, position: int) -> Recommendation: ...
    @overload
    def __getitem__(self, position: slice) -> Ranking: ...

    def __getitem__(self, position):
        if isinstance(position, slice):
            return Ranking(self.items[position], self.path, self.reach)
        return self.items[position]

    def __len__(self) -> int:
        return len(self.items)

    @property
    def ids(self) -> list[str]:
        return [item.id for item in self.items]

    @property
    def scores(self) -> np.ndarray:
        return np.asarray([item.score for item in self.items], dtype=np.float64)

    def rows(self) -> list[tuple[str, float, str, float | None]]:
        """``(id, score, reason, editor_probability)`` per item: how batch files and the store keep a list."""
        return [(r.id, r.score, r.reason, r.editor_probability) for r in self.items]

    @classmethod
    def from_rows(cls, rows, path: str = "stored") -> Ranking:
        return cls(tuple(Recommendation(*row) for row in rows), path)

    @classmethod
    def from_scores(cls, ids, scores) -> Ranking:
        """Ids with their scores, best first, without reasons (a baseline's ranking)."""
        return cls(tuple(Recommendation(i, float(s), "") for i, s in zip(ids, scores)))


def bounded_editor_share(scores: np.ndarray, relatedness: np.ndarray, rows: np.ndarray, *, floor: float,
                         mix: float) -> np.ndarray:
    """Positions in ranking order. By default: the related candidates in ``scores`` order (descending, then
    lower ``rows``), then the other candidates with some relatedness, by relatedness. An unrelated
    candidate the scores prefer (an editors' style pick) may come earlier only while every prefix of
    the list keeps such picks within its ``mix`` share (at most ``int(mix * n)`` of the first n
    places); a candidate with no relatedness at all can enter only so.

    A candidate is related when its relatedness reaches ``floor`` times the best one's. Relatedness is
    the floor and the editors' model orders within it: their taste may fill a bounded share of a list,
    never the whole of it. The order of a list is a prefix of the order of a longer one, so a stored
    list of 10 serves a box of 5.
    """
    relatedness = np.asarray(relatedness, dtype=np.float64)
    order = np.lexsort((rows, -np.asarray(scores, dtype=np.float64)))
    if order.size == 0:
        return order
    related = relatedness >= floor * float(np.max(relatedness))
    unrelated = order[~related[order]]
    filling = unrelated[relatedness[unrelated] > 0]
    default = [*order[related[order]].tolist(), *filling[np.lexsort((rows[filling], -relatedness[filling]))].tolist()]
    if int(mix * order.size) == 0:  # no prefix has room for a pick: the default order
        return np.asarray(default, dtype=np.int64)
    picks = unrelated.tolist()  # editors' style picks, best first
    rank = np.empty(order.size, dtype=np.int64)
    rank[order] = np.arange(order.size)
    chosen: list[int] = []
    used = np.zeros(order.size, dtype=bool)
    d = p = taken = 0
    while True:
        while d < len(default) and used[default[d]]:
            d += 1
        while p < len(picks) and used[picks[p]]:
            p += 1
        following = default[d] if d < len(default) else None
        if p < len(picks) and taken < int(mix * (len(chosen) + 1)) and (
                following is None or not related[following] or rank[picks[p]] < rank[following]):
            following = picks[p]
            taken += 1
        if following is None:
            return np.asarray(chosen, dtype=np.int64)
        chosen.append(following)
        used[following] = True


def collapse_near_duplicates(order: Sequence[int], similarity: np.ndarray, threshold: float) -> list[int]:
    """Keep, in ranking order, each candidate unless it is a near-duplicate of one already kept.

    ``similarity`` is the candidates' pairwise cosine matrix, indexed like ``order``'s positions; only its
    lower triangle is read (a later candidate's row against the earlier ones).
    """
    if len(order) < 2 or np.tril(similarity, -1).max() < threshold:  # no two alike: all kept
        return list(order)
    kept: list[int] = []
    for position in range(len(order)):
        if not kept or similarity[position, kept].max() < threshold:
            kept.append(position)
    return [order[position] for position in kept]


def maximal_marginal_relevance(relevance: np.ndarray, similarity: np.ndarray, k: int, diversity: float) -> list[int]:
    """Positions chosen greedily by ``(1 - diversity) * relevance - diversity * max similarity to chosen``."""
    if not 0.0 <= diversity <= 1.0:
        raise ValueError(f"diversity must be in [0, 1], got {diversity}")
    remaining = list(range(len(relevance)))
    chosen: list[int] = []
    while remaining and len(chosen) < k:
        redundancy = similarity[np.ix_(remaining, chosen)].max(axis=1) if chosen else np.zeros(len(remaining))
        gain = (1.0 - diversity) * relevance[remaining] - diversity * redundancy
        best = remaining[int(np.argmax(gain))]
        chosen.append(best)
        remaining.remove(best)
    return chosen


def shared_terms_of_rows(query: Row, matrix: sp.csr_matrix, rows: np.ndarray, terms: np.ndarray,
                         n: int = 3) -> list[list[str]]:
    """For each of ``rows`` of ``matrix``, the terms that add most to its cosine with the query, strongest first.

    The products are the rows' own weights times the query's, in the rows' dtype (as ``query.multiply(row)``);
    ties go to the lower term. Rows are expected canonical, as the index keeps them.
    """
    return [[str(terms[t]) for t in picked if t >= 0]
            for picked in strongest_shared_terms(query, matrix, rows, n).tolist()]


def timing(days_later: float, *, same_day: float = 1.0) -> str:
    """When a pick appeared relative to the article: ``"later coverage, 3 days on"``, ``"earlier coverage,
    12 days before"``, ``"same day"``; ``""`` when a date is unknown."""
    if np.isnan(days_later):
        return ""
    if abs(days_later) < same_day:
        return "same day"
    days = int(round(abs(days_later)))
    unit = "day" if days == 1 else "days"
    return f"later coverage, {days} {unit} on" if days_later > 0 else f"earlier coverage, {days} {unit} before"


def editor_reason(linked: bool, colinking: float, popularity: float) -> str:
    """What editors did with a pick: linked the two articles, linked both from elsewhere, or often link it."""
    if linked:
        return "editors link these two"
    if colinking > 0:
        return "editors pair these two"
    if popularity >= np.log1p(3):
        return "often picked by editors"
    return ""


def describe(terms: list[str], extra: Sequence[str] = ()) -> str:
    """A short reason such as ``shares "ceasefire", "putin"; same story, fresh``."""
    parts = [f"shares {', '.join(repr(t) for t in terms)}"] if terms else []
    parts.extend(extra)
    return "; ".join(parts) or "similar wording"
