"""News sitemaps (``sitemap.xml`` with ``news:`` tags): the publisher's list of article URLs.

>>> entries, problems = read_sitemap("sitemap.xml")
>>> matcher = SitemapMatcher(entries)
>>> for item in matcher.match(read_path("pages/")): ...

Each ``<url>`` gives an entry: its ``<loc>``, the id a page of that URL gets (see
``fields.slug_id``, as the HTML reader gives it), the date (``news:publication_date``, else ``<lastmod>``), and the
``news:title`` and ``news:language`` when present. Plain sitemaps (no ``news:`` tags) are
read too. A sitemap index (``<sitemapindex>``) lists other sitemaps, not articles: it is
refused with that reason. The file is checked first (:mod:`recommender.readers.xmlsafe`).

Saved pages are matched to entries by canonical URL, else by file name (``kestrel-05.html``
matches ``.../science/kestrel-05``), else by headline. A matched page gets the entry's URL
and date when it has none of its own (a saved page without a canonical URL then gets the
URL-derived id instead of its file name), and the entry's language. A page the sitemap does not list is
reported and not read: the sitemap is what says which saved pages are articles (section fronts and tag
pages are not).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from defusedxml.ElementTree import ParseError, fromstring

from recommender.articles import ArticleError, canonical_url, normalise_headline, parse_datetime

from . import xmlsafe
from .fields import derive_id, slug_id
from .records import Problem, ReaderError, Record

__all__ = ["SitemapEntry", "SitemapMatcher", "read_sitemap"]


@dataclass(frozen=True)
class SitemapEntry:
    """One ``<url>`` of a sitemap."""

    url: str
    id: str
    published_at: datetime | None = None
    title: str | None = None
    language: str | None = None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(element, name: str):
    return next((child for child in element if _local(child.tag) == name), None)


def _child_text(element, *path: str) -> str | None:
    for name in path:
        element = _child(element, name) if element is not None else None
    text = (element.text or "").strip() if element is not None else ""
    return text or None


def read_sitemap(path) -> tuple[list[SitemapEntry], list[Problem]]:
    """The entries of a sitemap file and the ``<url>`` elements that could not be read.

    Raises ``ReaderError`` naming the file when it is unreadable, no sitemap, unsafe or not XML.
    """
    path = Path(path)
    try:
        data = xmlsafe.load(path)
        root = fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except OSError as error:
        raise ReaderError(f"{path}: not read: {error.strerror or error}") from None
    except xmlsafe.UnsafeXML as error:
        raise ReaderError(f"{path}: not read: {error}") from None
    except ParseError as error:
        raise ReaderError(f"{path}: not well-formed XML: {error}") from None
    if _local(root.tag) == "sitemapindex":
        raise ReaderError(f"{path}: a sitemap index lists other sitemaps, not articles; give one of its sitemaps")
    if _local(root.tag) != "urlset":
        raise ReaderError(f"{path}: not a sitemap (root element {_local(root.tag)!r}, expected 'urlset')")
    entries, problems = [], []
    for index, element in enumerate(child for child in root if _local(child.tag) == "url"):
        where = f"{path}[{index}]"
        url = _child_text(element, "loc")
        if not url or urlsplit(url).scheme not in ("http", "https"):
            problems.append(Problem(where, f"no http(s) <loc>: {url!r}"))
            continue
        news = _child(element, "news")
        date = _child_text(news, "publication_date") if news is not None else None
        try:
            published = parse_datetime(date or _child_text(element, "lastmod"))
        except ArticleError as error:
            problems.append(Problem(where, f"{error} ({url})"))
            continue
        title = _child_text(news, "title") if news is not None else None
        language = _child_text(news, "publication", "language") if news is not None else None
        entries.append(SitemapEntry(url, slug_id(url) or derive_id(url, title or "", published), published, title,
                                    language))
    return entries, problems


def _slug(url: str) -> str:
    """The last segment of a URL's path (or a file name) without extension, lower case."""
    return PurePosixPath(urlsplit(url).path.rstrip("/")).stem.lower()


class SitemapMatcher:
    """Matches read articles (saved pages) to sitemap entries; counts what it matched."""

    def __init__(self, entries: Iterable[SitemapEntry]):
        self.entries = list(entries)
        self.by_url = {canonical_url(e.url): e for e in self.entries}
        self.by_slug: dict[str, SitemapEntry | None] = {}
        for entry in self.entries:  # a name two entries share matches neither
            slug = _slug(entry.url)
            self.by_slug[slug] = None if slug in self.by_slug else entry
        self.by_title = {normalise_headline(e.title): e for e in self.entries if e.title}
        self.matched: set[str] = set()

    def find(self, article, location: str) -> SitemapEntry | None:
        """The entry of an article read from ``location``, or None."""
        if article.url and canonical_url(article.url) in self.by_url:
            return self.by_url[canonical_url(article.url)]
        if not article.url:
            entry = self.by_slug.get(_slug(Path(location.split("[")[0]).name))
            if entry is not None:
                return entry
        return self.by_title.get(normalise_headline(article.headline))

    def match(self, items: Iterable[Record | Problem]) -> Iterator[Record | Problem]:
        """Each record completed from its entry; a record the sitemap does not list becomes a problem."""
        for item in items:
            if isinstance(item, Problem):
                yield item
                continue
            entry = self.find(item.article, item.location)
            if entry is None:
                yield Problem(item.location, "not in the sitemap: not read (the sitemap lists the articles)")
                continue
            self.matched.add(entry.url)
            article = item.article
            page_without_url = article.url is None and Path(item.location).suffix.lower() in (".html", ".htm")
            language = (entry.language or "").strip().lower().replace("_", "-")
            yield Record(item.location, replace(
                article, url=article.url or entry.url, id=entry.id if page_without_url else article.id,
                published_at=article.published_at or entry.published_at,
                language=language if re.fullmatch(r"[a-z]{2,3}(-[a-z0-9]+)?", language) else article.language))

    @property
    def unmatched(self) -> list[SitemapEntry]:
        """Entries no read article matched (pages not saved)."""
        return [e for e in self.entries if e.url not in self.matched]
