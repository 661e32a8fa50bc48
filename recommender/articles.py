"""Articles and their Read-also links: frozen value types with validation, no ML."""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MAX_K = 100
"""The longest ranking anyone may ask for (CLI, API, batch, reading lists, suggestions): k is in 1..MAX_K."""

WORDS_PER_MINUTE = 230
_WIRE_DATE_LAYOUTS = ("%d-%b-%Y %H:%M:%S.%f", "%d-%b-%Y %H:%M:%S", "%d-%b-%Y")
_TRACKING_PARAMS = re.compile(r"^(utm_\w+|fbclid|gclid|mc_cid|mc_eid|ref|cmpid|ocid)$", re.I)
_SPACE = re.compile(r"\s+")
_NON_WORD = re.compile(r"[^\w\s]", re.UNICODE)
SUMMARY_FIELDS = ("id", "headline", "url", "section", "published_at")
"""What a ranking shows of an article (``Article.to_dict(summary=True)``, ``Store.summaries``)."""


class ArticleError(ValueError):
    """An article record that cannot be accepted (the message names the bad field)."""


class UnknownIds(ValueError):
    """Article ids asked for that the archive does not hold (the message names them)."""


# -- the one validation layer: every write path (readers, store, service) goes through these ---------
@dataclass(frozen=True)
class Limits:
    """Size caps on one article; ``from_env`` reads each from ``READALSO_<NAME upper-cased>`` when set.

    ``max_id_chars`` also bounds path ids in the service (the API spec says 256).
    """

    max_id_chars: int = 256
    max_url_chars: int = 2048
    max_headline_chars: int = 1000
    max_body_chars: int = 1_000_000
    max_read_also: int = 100

    @classmethod
    def from_env(cls, environ=None) -> Limits:
        environ = os.environ if environ is None else environ
        values = {}
        for item in fields(cls):
            name = f"READALSO_{item.name.upper()}"
            text = environ.get(name)
            if text is None or text == "":
                continue
            if not re.fullmatch(r"[1-9][0-9]{0,11}", text.strip()):
                raise ValueError(f"{name} must be a positive whole number, got {text!r}")
            values[item.name] = int(text)
        return cls(**values)


_limits: Limits | None = None


def limits() -> Limits:
    """The caps in force: those given to :func:`set_limits`, else ``Limits.from_env()`` read once."""
    global _limits
    if _limits is None:
        _limits = Limits.from_env()
    return _limits


def set_limits(value: Limits | None) -> None:
    """Use ``value`` from now on (a service applies its configuration); None: read the environment again."""
    global _limits
    _limits = value


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def check_id(value) -> str:
    """An article id as given, or ``ArticleError`` naming it.

    The one rule, applied wherever an id enters (readers, store, service paths): a non-empty
    string of at most ``max_id_chars`` characters, no control characters (NUL included) and no
    whitespace at either end. Nothing is transformed, so an id is stored, found and shown
    exactly as it was given.
    """
    if not isinstance(value, str):
        raise ArticleError(f"id must be a string, got {type(value).__name__}")
    if not value.strip():
        raise ArticleError(f"id must not be empty or blank, got {value!r}")
    if value != value.strip():
        raise ArticleError(f"id must not start or end with whitespace, got {value!r}")
    bad = _CONTROL.search(value)
    if bad:
        raise ArticleError(f"id must not contain control characters (found {bad.group()!r}), got {value[:80]!r}")
    limit = limits().max_id_chars
    if len(value) > limit:
        raise ArticleError(f"id has {len(value)} characters, over the limit of {limit} "
                           f"(READALSO_MAX_ID_CHARS): {value[:40]!r}...")
    return value


URL_PATTERN = r"^\s*[Hh][Tt][Tt][Pp][Ss]?://[A-Za-z0-9._-]+(:[0-9]{1,5})?([/?#][^\s\x00-\x1f\x7f-\x9f]*)?\s*$"
"""What ``check_url`` accepts, as a regular expression that JSON Schema (the API's spec) can state too."""
_URL = re.compile(URL_PATTERN)


def check_url(url) -> str:
    """An absolute ``http``/``https`` URL with a host, surrounding whitespace removed; ``ArticleError``
    (a ``ValueError``) naming it otherwise.

    Anything else (``javascript:``, ``data:``, ``file:``, relative or scheme-less links, user info,
    spaces or control characters inside, over ``max_url_chars``) is refused: a stored URL ends up in
    an ``href`` on a publisher's page. The rule is :data:`URL_PATTERN`, which the API's spec states too;
    the host is ASCII (IDNA hosts in their ``xn--`` form).
    """
    if not isinstance(url, str):
        raise ArticleError(f"url must be a string, got {type(url).__name__}")
    text = url.strip()
    limit = limits().max_url_chars
    if len(text) > limit:
        raise ArticleError(f"url has {len(text)} characters, over the limit of {limit} (READALSO_MAX_URL_CHARS)")
    if not _URL.fullmatch(url):
        raise ArticleError(f"url must be an absolute http(s) URL with an ASCII host, without user info, spaces or "
                           f"control characters, got {text[:200]!r}")
    return text


def check_limits(article: Article, caps: Limits | None = None) -> Article:
    """``article`` if it is within the size caps, else ``ArticleError`` giving the size and the cap."""
    caps = caps or limits()
    checks = (("headline", len(article.headline), caps.max_headline_chars, "characters"),
              ("body", len(article.body), caps.max_body_chars, "characters"),
              ("read_also", len(article.read_also), caps.max_read_also, "items"))
    for name, size, cap, unit in checks:
        if size > cap:
            raise ArticleError(f"article {article.id!r}: {name} has {size} {unit}, over the limit of {cap} "
                               f"(READALSO_MAX_{name.upper()}{'' if name == 'read_also' else '_CHARS'})")
    return article


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
        if self.url is not None and self.url.strip():
            object.__setattr__(self, "url", check_url(self.url))
        else:
            object.__setattr__(self, "url", None)


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
    headline_derived: bool = False
    """True when the source had no headline and it was made from the body's first sentence."""

    def __post_init__(self):
        check_id(self.id)
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
        if self.url is not None and not isinstance(self.url, str):
            raise ArticleError(f"article {self.id!r}: url must be a string, got {type(self.url).__name__}")
        object.__setattr__(self, "headline", _SPACE.sub(" ", self.headline).strip())
        object.__setattr__(self, "language", language.split("-")[0])
        object.__setattr__(self, "section", (self.section or "").strip().lower() or None)
        if self.url and self.url.strip():
            try:
                object.__setattr__(self, "url", check_url(self.url))
            except ArticleError as error:
                raise ArticleError(f"article {self.id!r}: {error}") from None
        else:
            object.__setattr__(self, "url", None)
        object.__setattr__(self, "headline_derived", bool(self.headline_derived))
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

    def to_dict(self, *, summary: bool = False) -> dict:
        """The article as JSON data: ``SUMMARY_FIELDS`` (``summary=True``), else those then language,
        body and the Read-also links (headline, url, target_id)."""
        record = {"id": self.id, "headline": self.headline, "url": self.url, "section": self.section,
                  "published_at": self.published_at.isoformat() if self.published_at else None}
        if summary:
            return record
        return {**record, "language": self.language, "body": self.body,
                "read_also": [{"headline": link.headline, "url": link.url, "target_id": link.target_id}
                              for link in self.read_also]}

    def with_links(self, links) -> Article:
        return replace(self, read_also=tuple(links))


def as_utc(moment: datetime) -> datetime:
    """Naive datetimes are taken as UTC; aware ones are converted to UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


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
        return datetime(year, month, day, tzinfo=UTC)
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
