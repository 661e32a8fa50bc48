"""What a ranking needs to know about stored articles besides their vectors: the ``Catalogue`` protocol.

The store implements it; an engine fitted on a list of articles uses :class:`MemoryCatalogue`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple, Protocol

from recommender.articles import Article


class Feedback(NamedTuple):
    """Editors' say over one article's list: pinned stories first (in order), blocked stories never."""

    pins: tuple[str, ...]
    blocks: frozenset[str]


class Catalogue(Protocol):
    """Article lookup, editors' feedback and precomputed lists, by article id."""

    def get_many(self, ids: Iterable[str]) -> dict[str, Article]:
        """The articles of those ids that exist."""
        ...

    def feedback_for(self, source_id: str) -> Feedback | None:
        """Editors' pins and blocks for an article, or None when it has none."""
        ...

    def precomputed(self, article_id: str, model_version: str,
                    k: int) -> list[tuple[str, float, str, float | None]] | None:
        """The first k of the article's batch list for that model version, or None."""
        ...

    def list_reaches(self, model_version: str) -> dict[str, float]:
        """Article id -> the relatedness a new article needs to enter its stored list (its ``Ranking.reach``)."""
        ...


class MemoryCatalogue:
    """The catalogue of an engine fitted on a list of articles: lookup only, no feedback, no stored lists."""

    def __init__(self, articles: Iterable[Article]):
        self.articles = {a.id: a for a in articles}

    def add(self, articles: Sequence[Article]) -> None:
        self.articles.update((a.id, a) for a in articles)

    def get_many(self, ids: Iterable[str]) -> dict[str, Article]:
        return {i: self.articles[i] for i in ids if i in self.articles}

    def feedback_for(self, source_id: str) -> Feedback | None:
        return None

    def precomputed(self, article_id: str, model_version: str, k: int) -> None:
        return None

    def list_reaches(self, model_version: str) -> dict[str, float]:
        return {}


__all__ = ["Catalogue", "MemoryCatalogue", "Feedback"]
