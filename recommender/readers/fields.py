"""From a flat dict of source fields to an ``Article``: renaming, coercion, ids, links.

Shared by the JSON Lines and CSV readers (and used by the text reader for its header),
so every format accepts the same fields in the same way.

Ids: a record without an ``id`` gets a stable one derived from its content, so reading
the same file twice gives the same ids:

* ``"u-" + sha1(canonical URL)[:16]`` when the record has a URL (tracking parameters,
  scheme, ``www.`` and trailing slash do not change it);
* else ``"h-" + sha1(normalised headline + "|" + ISO publication time)[:16]``.

HTML pages are the exception: a page names no id, but its URL's slug reads better than a
hash, so the HTML reader takes :func:`slug_id` of the canonical URL (``.../world/dam-talks-stall.html``
-> ``dam-talks-stall``); ``readalso ingest`` adds a short hash when that slug already names
another URL's article.

A given id is taken exactly as given and must pass :func:`recommender.articles.check_id`
(a blank one is refused, not replaced). A record without a headline but with a body gets
the body's first sentence as headline, marked ``headline_derived`` (readers only: an API
client is asked for one). URLs must be http(s)
(:func:`recommender.articles.check_url`); a Read-also item whose link is not is kept
without it (it is then resolved by headline). Size caps: :class:`recommender.articles.Limits`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from recommender.articles import (
    Article,
    ArticleError,
    ReadAlsoLink,
    canonical_url,
    check_limits,
    check_url,
    normalise_headline,
    parse_datetime,
)

from . import markers
from .records import ReaderError

FIELDS = ("id", "url", "headline", "body", "published_at", "section", "language", "read_also")
HEADLINE_CHARS = 90
_SENTENCE = re.compile(r"(.+?[.!?][\"”’']?)(?=\s+[\"“‘']?[A-Z0-9]|\s*$)", re.S)


def headline_from(body: str, limit: int = HEADLINE_CHARS) -> str:
    """The first sentence of ``body``, cut at a word boundary to ``limit`` characters."""
    first = next((line.strip() for line in body.split("\n") if line.strip()), "")
    first = first[: 20 * limit]  # a sentence longer than this is cut anyway; keeps the regex linear in practice
    match = _SENTENCE.match(first)
    sentence = (match.group(1) if match else first).strip()
    if len(sentence) <= limit:
        return sentence.rstrip(".").strip() if sentence.endswith(".") and not sentence.endswith("..") else sentence
    cut = sentence[: limit + 1].rsplit(" ", 1)[0].rstrip(" ,;:-–—")
    return cut + "…"


def parse_mapping(spec: str | None) -> dict[str, str]:
    """``"headline=title,body=text"`` -> ``{"headline": "title", "body": "text"}`` (the CLI's ``--map``)."""
    mapping: dict[str, str] = {}
    for part in (spec or "").split(","):
        if not part.strip():
            continue
        target, sep, source = part.partition("=")
        if not sep or not target.strip() or not source.strip():
            raise ReaderError(f"mapping items look like target=source, got {part.strip()!r}")
        mapping[target.strip()] = source.strip()
    check_mapping(mapping)
    return mapping


def check_mapping(mapping: Mapping[str, str] | None) -> dict[str, str]:
    mapping = dict(mapping or {})
    unknown = sorted(set(mapping) - set(FIELDS))
    if unknown:
        raise ReaderError(f"mapping targets must be among {', '.join(FIELDS)}; got {', '.join(unknown)}")
    return mapping


def apply_mapping(raw: Mapping[str, Any], mapping: Mapping[str, str]) -> dict[str, Any]:
    """The target fields of ``raw``: mapped source fields first, then same-named ones."""
    out: dict[str, Any] = {}
    for name in FIELDS:
        source = mapping.get(name, name)
        if source in raw:
            out[name] = raw[source]
        elif name in raw and name not in mapping:
            out[name] = raw[name]
    return out


def derive_id(url: str | None, headline: str, published_at) -> str:
    """A stable id for a record that has none (see the module docstring)."""
    canonical = canonical_url(url)
    if canonical:
        return "u-" + hashlib.sha1(canonical.encode("utf-8")).hexdigest()[:16]
    moment = published_at.isoformat() if published_at is not None else ""
    key = f"{normalise_headline(headline)}|{moment}"
    return "h-" + hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]


_SLUG_JUNK = re.compile(r"[\W_]+")
_SLUG_EXTENSIONS = re.compile(r"\.(html?|php|aspx?|jsp|cms|shtml)$", re.I)
_GENERIC_SLUGS = {"index", "article", "story", "news", "amp", "default", "view", "content", "print"}


def slug_id(url: str | None, *, max_length: int = 80) -> str | None:
    """A readable id from a URL's last path segment: lower case, runs of letters and digits joined by ``-``.

    A generic or purely numeric last segment (``index.html``, ``amp``, ``12345``) is prefixed
    with the one before it; ``None`` when the URL has no usable path.
    """
    if not url or not url.strip():
        return None
    parts = urlsplit(url.strip())
    path = parts.path if parts.netloc else url.strip().split("?")[0].split("#")[0]
    segments = [_SLUG_JUNK.sub("-", _SLUG_EXTENSIONS.sub("", unquote(part)).lower()).strip("-")
                for part in path.split("/")]
    segments = [part for part in segments if part]
    if not segments:
        return None
    slug = segments[-1]
    if (slug in _GENERIC_SLUGS or slug.isdigit()) and len(segments) > 1:
        slug = f"{segments[-2]}-{slug}"
    return slug[:max_length].strip("-") or None


def unique_slug_id(slug: str, url: str) -> str:
    """``slug`` made distinct for this URL: ``slug-`` + 6 hex digits of the canonical URL's sha1."""
    return f"{slug}-{hashlib.sha1((canonical_url(url) or url).encode('utf-8')).hexdigest()[:6]}"


def _text(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise ArticleError(f"{name} must be text, got {value!r}")
    if isinstance(value, (int, float)):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return str(value)
    if isinstance(value, str):
        return value
    raise ArticleError(f"{name} must be text, got {type(value).__name__}")


def _slashed_time(value: str | None) -> str | None:
    """``2016/12/30 7:11`` (news-readmore) -> ``2016-12-30T07:11``; anything else unchanged."""
    match = re.fullmatch(r"\s*(\d{4})/(\d{1,2})/(\d{1,2})[ T](\d{1,2}):(\d{2})(?::(\d{2}))?\s*", value or "")
    if not match:
        return value
    year, month, day, hour, minute, second = (int(part or 0) for part in match.groups())
    return f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}"


def parse_links(value: Any) -> list[ReadAlsoLink]:
    """``read_also``: a list of ``{headline, url}`` objects or of headline strings.

    A string (a CSV cell) is decoded as JSON first; an empty cell is no links.
    """
    if value is None or value == "":
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ArticleError("read_also is not a JSON list") from None
    if not isinstance(value, list):
        raise ArticleError(f"read_also must be a list, got {type(value).__name__}")
    links = []
    for position, item in enumerate(value, 1):
        if isinstance(item, str):
            item = {"headline": item}
        if not isinstance(item, dict):
            raise ArticleError(f"read_also item {position} must be an object with a headline")
        headline = _text(item.get("headline", item.get("title")), f"read_also item {position} headline")
        url = _text(item.get("url"), f"read_also item {position} url")
        if not headline or not headline.strip():
            raise ArticleError(f"read_also item {position} has no headline")
        links.append(ReadAlsoLink(headline, _http_or_none(url)))
    return links


def _http_or_none(url: str | None) -> str | None:
    """A Read-also item's link if it is http(s), else None: the item is then resolved by its headline."""
    if url is None or not url.strip():
        return None
    try:
        return check_url(url)
    except ArticleError:
        return None


def build_article(raw: Mapping[str, Any], mapping: Mapping[str, str] | None = None, *,
                  derive_headline: bool = False) -> Article:
    """An ``Article`` from one source record; raises ``ArticleError`` naming the bad field.

    ``derive_headline`` (the readers: archives often hold untitled items): a record without a
    headline takes its body's first sentence, marked ``headline_derived``; otherwise (an API
    client can send one) a missing headline is refused.

    The body goes through :func:`markers.extract`; links found there come after the
    record's own ``read_also`` links (same headline twice is kept once).
    """
    fields = apply_mapping(raw, mapping or {})
    headline = _text(fields.get("headline"), "headline")
    body = _text(fields.get("body"), "body") or ""
    derived = False
    url = _text(fields.get("url"), "url")
    published_at = parse_datetime(_slashed_time(_text(fields.get("published_at"), "published_at")))
    links = parse_links(fields.get("read_also"))
    extracted = markers.extract(body)
    if not headline or not headline.strip():
        source = (mapping or {}).get("headline", "headline")
        if not derive_headline:
            raise ArticleError(f"missing headline (field {source!r})")
        headline = headline_from(extracted.body)
        derived = True
        if not headline.strip():
            raise ArticleError(f"missing headline (field {source!r}) and no body to derive one from")
    seen = {normalise_headline(link.headline) for link in links}
    for link in extracted.links:
        key = normalise_headline(link.headline)
        if key not in seen:
            seen.add(key)
            links.append(link)
    article_id = _text(fields.get("id"), "id")
    if article_id is None:
        article_id = derive_id(url, headline, published_at)
    return check_limits(Article(
        id=article_id,
        headline=headline,
        body=extracted.body,
        url=url,
        published_at=published_at,
        section=_text(fields.get("section"), "section"),
        language=_text(fields.get("language"), "language") or "en",
        read_also=tuple(links),
        headline_derived=derived,
    ))
