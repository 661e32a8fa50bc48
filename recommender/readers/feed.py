"""RSS 2.0 and Atom feeds (``.rss``, ``.atom``, ``.xml`` with a feed root), read with feedparser.

One article per item (entry):

* headline: the title (markup in an HTML title is taken out);
* url: the item's link (an RSS ``<guid>`` that is a permalink counts);
* published: ``pubDate`` / ``published``, else ``updated`` (RFC 822 or ISO 8601);
* section: the first category; language: the item's, else the feed's;
* body: the full content, else the summary; HTML goes through the HTML reader's own
  text extraction (paragraphs, script and style never reach the body, Read-also blocks
  become links);
* id: the link's slug (``fields.slug_id``, the same id the saved page of that URL gets; ingest
  adds a short hash when another URL's article holds it), else ``g-`` + a hash of the item's
  guid, else derived from headline and date.

Items are located as ``feed.rss[0]``, ``feed.rss[1]``, ... (feed order). An item the
feed repeats (same id) is reported as a problem at its second place and read once. The
file is checked first (:mod:`recommender.readers.xmlsafe`): too large, or declaring
entities, it is refused whole. ``mapping`` does not apply: feed fields have fixed names.
"""

from __future__ import annotations

import calendar
import hashlib
import io
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import feedparser
from bs4 import BeautifulSoup

from recommender.articles import ArticleError

from . import page, xmlsafe
from .fields import build_article, slug_id
from .records import Problem, Record

logger = logging.getLogger(__name__)

ROOTS = ("rss", "feed", "RDF")
"""Root elements of feeds (RSS 2.0 / 0.9x, Atom, RSS 1.0)."""


def read(path: Path, mapping: dict[str, str]) -> Iterator[Record | Problem]:
    location = str(path)
    try:
        data = xmlsafe.load(path)
    except xmlsafe.UnsafeXML as error:
        yield Problem(location, f"not read: {error}")
        return
    yield from parse(data, location=location)


def parse(data: bytes, *, location: str) -> Iterator[Record | Problem]:
    """The items of a feed's bytes (already checked by :func:`xmlsafe.check`)."""
    # A stream, never the bytes themselves: feedparser tries bytes as a file name first, so a
    # "feed" whose text is a path would read that file.
    parsed = feedparser.parse(io.BytesIO(data), sanitize_html=True, resolve_relative_uris=True)
    if parsed.get("bozo") and not parsed.entries:
        yield Problem(location, f"not a readable feed: {parsed.get('bozo_exception')}")
        return
    if parsed.get("bozo"):
        logger.warning("%s: not well-formed XML (%s); read leniently", location, parsed.get("bozo_exception"))
    language = parsed.feed.get("language")
    first_place: dict[str, int] = {}
    for index, entry in enumerate(parsed.entries):
        where = f"{location}[{index}]"
        try:
            article = build_article(_raw(entry, language))
        except (ArticleError, ValueError) as error:
            yield Problem(where, f"{error}{_naming(entry)}")
            continue
        if article.id in first_place:
            yield Problem(where, f"the same item as {location}[{first_place[article.id]}]{_naming(entry)}: read once")
            continue
        first_place[article.id] = index
        yield Record(where, article, id_from_url=article.url is not None and article.id == slug_id(article.url))


def _raw(entry: Any, feed_language: str | None) -> dict:
    guid = (entry.get("id") or "").strip() or None
    link = next((url.strip() for url in (entry.get("link"), guid)
                 if url and url.strip().startswith(("http://", "https://"))), None)
    title = _plain(entry.get("title_detail"), entry.get("title"))
    if not title:
        raise ArticleError("no title")
    body, links = _body(entry, link or "")
    language = _language(entry, feed_language)
    tags = [tag.get("term") for tag in entry.get("tags") or [] if (tag.get("term") or "").strip()]
    return {
        "id": slug_id(link) if link else ("g-" + hashlib.sha1(guid.encode("utf-8")).hexdigest()[:16] if guid else None),
        "url": link, "headline": title, "body": body, "published_at": _published(entry),
        "section": tags[0].strip() if tags else None, "language": language, "read_also": links,
    }


def _plain(detail: Any, value: str | None) -> str:
    """A text construct as plain text (HTML and XHTML ones lose their markup)."""
    value = (detail or {}).get("value", value) or ""
    if (detail or {}).get("type", "text/plain") in ("text/html", "application/xhtml+xml"):
        value = BeautifulSoup(value, "html.parser").get_text(" ", strip=True)
    return " ".join(value.split())


def _body(entry: Any, base: str) -> tuple[str, list[dict]]:
    """The text of the content (else the summary), and the Read-also links in it."""
    details = [c for c in entry.get("content") or [] if (c.get("value") or "").strip()]
    detail = details[0] if details else entry.get("summary_detail") or {"value": entry.get("summary") or ""}
    value = detail.get("value") or ""
    if detail.get("type", "text/html") not in ("text/html", "application/xhtml+xml"):
        return value.strip(), []
    soup = BeautifulSoup(value, "html.parser")
    body, links = page.body_and_links(soup, base)
    if not body:  # a summary without <p>: all of its text
        body = " ".join(soup.get_text(" ", strip=True).split())
    return body, links


def _published(entry: Any) -> str | None:
    """The publication time: feedparser's reading of it (UTC), else the string as given,
    which ``build_article`` refuses when it is no date."""
    for name in ("published", "updated", "created"):
        if entry.get(name):
            moment = entry.get(f"{name}_parsed")
            if moment is not None:
                return datetime.fromtimestamp(calendar.timegm(moment), tz=UTC).isoformat()
            return entry[name]
    return None


def _language(entry: Any, feed_language: str | None) -> str | None:
    for detail in (*(entry.get("content") or []), entry.get("summary_detail") or {}, entry.get("title_detail") or {}):
        if detail.get("language"):
            return _code(detail["language"])
    return _code(feed_language)


def _code(language: str | None) -> str | None:
    """``en-gb`` -> ``en``; None for anything that is not a language code."""
    code = (language or "").strip().lower().replace("_", "-").split("-")[0]
    return code if 2 <= len(code) <= 3 and code.isalpha() else None


def _naming(entry: Any) -> str:
    title = (entry.get("title") or "").strip()
    return f" (item {title[:60]!r})" if title else (f" (link {entry.get('link')})" if entry.get("link") else "")
