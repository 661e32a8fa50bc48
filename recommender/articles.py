"""Articles and their Read-also links: frozen value types with validation, no ML."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

WORDS_PER_MINUTE = 230
_WIRE_DATE_LAYOUTS = ("%d-%b-%Y %H:%M:%S.%f", "%d-%b-%Y %H:%M:%S", "%d-%b-%Y")
_TRACKING_PARAMS = re.compile(r"^(utm_\w+|fbclid|gclid|mc_cid|mc_eid|ref|cmpid|ocid)$", re.I)
_SPACE = re.compile(r"\s+")
_NON_WORD = re.compile(r"[^\w\s]", re.UNICODE)


class ArticleError(ValueError):
    """An article record that cannot be accepted (the message names the bad field)."""


@dataclass(frozen=True)
class ReadAlsoLink:
    """One item of an article's Read-also block: the headline as printed and its link.

    ``target_id`` and ``resolution`` are filled by link resolution (``links.py``):
    resolution is one of ``"url"``, ``"headline"``, ``"fuzzy"`` or ``None`` (unresolved).
    """

    headline: str
    url: str | None = None
    target_id: str | None = None
    resolution: str | None = None

    def __post_init__(self):
        if not isinstance(self.headline, str) or not self.headline.strip():
            raise ArticleError("read_also item needs a non-empty headline")
        object.__setattr__(self, "headline", _SPACE.sub(" ", self.headline).strip())


@dataclass(frozen=True)
class Article:
    """A news article as the engine sees it."""

    id: str
    headline: str
    body: str = ""
    url: str | None = None
    published_at: datetime | None = None
    section: str | None = None
    language: str = "en"
    read_also: tuple[ReadAlsoLink, ...] = field(default_factory=tuple)

    def __post_init__(self):
        if not isinstance(self.id, str) or not self.id.strip():
            raise ArticleError(f"id must be a non-empty string, got {self.id!r}")
        if not isinstance(self.headline, str) or not self.headline.strip():
            raise ArticleError(f"article {self.id!r}: headline must be a non-empty string")
        if not isinstance(self.body, str):
            raise ArticleError(f"article {self.id!r}: body must be a string")
        if self.published_at is not None:
            if not isinstance(self.published_at, datetime):
                raise ArticleError(f"article {self.id!r}: published_at must be a datetime")
            object.__setattr__(self, "published_at", as_utc(self.published_at))
        language = (self.language or "en").strip().lower()
        if not re.fullmatch(r"[a-z]{2,3}(-[a-z0-9]+)?", language):
            raise ArticleError(f"article {self.id!r}: language must be a code like 'en', got {self.language!r}")
        object.__setattr__(self, "id", self.id.strip())
        object.__setattr__(self, "headline", _SPACE.sub(" ", self.headline).strip())
        object.__setattr__(self, "language", language.split("-")[0])
        object.__setattr__(self, "section", (self.section or "").strip().lower() or None)
        object.__setattr__(self, "url", (self.url or "").strip() or None)
        object.__setattr__(self, "read_also", tuple(self.read_also))

    @property
    def canonical_url(self) -> str | None:
        return canonical_url(self.url)

    @property
    def reading_minutes(self) -> float:
        """Estimated reading time at 230 words a minute (at least half a minute)."""
        words = len(self.headline.split()) + len(self.body.split())
        return max(0.5, words / WORDS_PER_MINUTE)

    @property
    def content_hash(self) -> str:
        """Fingerprint of everything that feeds the vectors; changes when the article does."""
        parts = [self.headline, self.body, self.language, self.section or ""]
        parts += [link.headline for link in self.read_also]
        return hashlib.sha1("\x1f".join(parts).encode("utf-8")).hexdigest()

    def with_links(self, links) -> "Article":
        return replace(self, read_also=tuple(links))


URL_PATTERN = r"^\s*[Hh][Tt][Tt][Pp][Ss]?://[A-Za-z0-9._-]+(:[0-9]{1,5})?([/?#][^\s\x00-\x1f\x7f-\x9f]*)?\s*$"
"""What ``check_url`` accepts, as a regular expression that JSON Schema (the API's spec) can state too."""
_URL = re.compile(URL_PATTERN)


def check_url(url) -> str:
    """``url`` stripped, if it is an absolute ``http``/``https`` URL; ``ValueError`` naming it otherwise.

    Only these two schemes may reach a reader's browser as a link: ``javascript:``, ``data:``
    and the like would run or show content of the attacker's choosing on the publisher's page.
    The host is ASCII (IDNA hosts in their ``xn--`` form); no user info, spaces or control characters.
    """
    if not isinstance(url, str):
        raise ValueError(f"url must be a string, got {type(url).__name__}")
    if not _URL.fullmatch(url):
        raise ValueError(f"url must be an absolute http(s) URL without spaces or control characters, "
                         f"got {url[:200]!r}")
    return url.strip()


def as_utc(moment: datetime) -> datetime:
    """Naive datetimes are taken as UTC; aware ones are converted to UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def parse_datetime(value) -> datetime | None:
    """Parse a publication date; ``None`` or ``""`` gives ``None``.

    ISO 8601 (``2026-11-27``, ``2026-11-27T08:15:00Z``), RFC 2822 as RSS feeds print it
    (``Fri, 27 Nov 2026 08:15:00 +0000``), ``YYYY/M/D`` and wire-service ``27-NOV-2026 08:15:00.00``.
    """
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return as_utc(value)
    text = str(value).strip()
    if re.fullmatch(r"\d{4}/\d{1,2}/\d{1,2}", text):
        year, month, day = (int(part) for part in text.split("/"))
        return datetime(year, month, day, tzinfo=timezone.utc)
    try:
        return as_utc(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        pass
    try:
        return as_utc(parsedate_to_datetime(text))
    except (TypeError, ValueError, IndexError):
        pass
    for layout in _WIRE_DATE_LAYOUTS:
        try:
            return as_utc(datetime.strptime(text.title(), layout))
        except ValueError:
            continue
    raise ArticleError(f"published_at is not a date (ISO 8601, RFC 2822 or DD-MON-YYYY): {text!r}")


def canonical_url(url: str | None) -> str | None:
    """Lower-case host without ``www.``, no scheme, fragment, tracking parameters or trailing slash."""
    if not url:
        return None
    parts = urlsplit(url.strip())
    if not parts.netloc:
        return url.strip().rstrip("/") or None
    host = parts.netloc.lower().removeprefix("www.")
    query = urlencode(sorted((k, v) for k, v in parse_qsl(parts.query) if not _TRACKING_PARAMS.match(k)))
    path = parts.path.rstrip("/") or ""
    return urlunsplit(("", host, path, query, "")).lstrip("/")


def site_of(url: str | None) -> str:
    """The publication an article belongs to: its URL's lower-case host without ``www.``; ``""`` when unknown."""
    if not url:
        return ""
    return (urlsplit(url.strip()).hostname or "").removeprefix("www.")


def normalise_headline(text: str) -> str:
    """Case-, accent- and punctuation-insensitive form of a headline, for matching."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.replace("’", "'").replace("‘", "'")
    return _SPACE.sub(" ", _NON_WORD.sub(" ", text.lower())).strip()
