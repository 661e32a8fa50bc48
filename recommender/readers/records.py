"""What a reader yields per source record, ``Record`` or ``Problem``, and ``ReaderError`` for input it refuses whole."""

from __future__ import annotations

from dataclasses import dataclass

from recommender.articles import Article


class ReaderError(ValueError):
    """An input the readers refuse as a whole: a file of unknown format, a bad field mapping, a sitemap that is
    not one."""


@dataclass(frozen=True)
class Record:
    """An article read from ``location`` (``"path/file.jsonl:12"`` or ``"path/page.html"``)."""

    location: str
    article: Article
    id_from_url: bool = False  # the reader made the id from the URL's slug (HTML pages), so it may collide


@dataclass(frozen=True)
class Problem:
    """A record that was refused, with the reason."""

    location: str
    reason: str
