"""Raw text articles (``.txt``, ``.md``) in the shape of the seed article.

Paragraphs are lines (blank lines between them are allowed). An optional header block
opens the file: ``key: value`` lines with keys among ``id``, ``headline`` (or ``title``),
``url``, ``published`` (or ``published_at``, ``date``), ``section``, ``language`` (or
``lang``), ended by a blank line. Without a header:

* the id is the file name's stem;
* the headline is the first line when that line looks like one (at most 16 words, not
  ending in a full stop, colon or comma, with more text below it, as in the BBC corpus);
  it is then not part of the body. Otherwise the headline is the body's first sentence,
  cut at a word boundary to at most 90 characters (with "…" when cut), and the article is
  marked ``headline_derived``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from recommender.articles import ArticleError

from . import markers
from .fields import HEADLINE_CHARS, apply_mapping, build_article, headline_from  # noqa: F401  (re-exported)
from .records import Problem, Record
from .source import read_text

_HEADER = re.compile(
    r"^\s*(id|headline|title|url|published|published_at|date|section|language|lang)\s*:\s*(.*?)\s*$", re.I
)
_ALIASES = {"title": "headline", "published": "published_at", "date": "published_at", "lang": "language"}


def split_header(text: str) -> tuple[dict[str, str], str]:
    """The header fields (canonical names) and the rest of the text."""
    lines = text.split("\n")
    fields: dict[str, str] = {}
    for number, line in enumerate(lines):
        if not line.strip():
            if fields:
                return fields, "\n".join(lines[number + 1:])
            return {}, text
        match = _HEADER.match(line)
        if not match:
            return {}, text
        key = match.group(1).lower()
        fields[_ALIASES.get(key, key)] = match.group(2)
    return {}, text  # a header with no body under it is not a header


def _looks_like_headline(line: str) -> bool:
    words = line.split()
    return 0 < len(words) <= 16 and not line.rstrip().endswith((".", ":", ",", ";")) \
        and not markers._BLOCK_LABEL.match(line)


def read(path: Path, mapping: dict[str, str]) -> Iterator[Record | Problem]:
    yield parse(read_text(path), location=str(path), default_id=path.stem, mapping=mapping)


def parse(text: str, *, location: str, default_id: str, mapping: dict[str, str] | None = None) -> Record | Problem:
    """One article from raw text (header block optional); ``default_id`` when the header names none."""
    mapping = mapping or {}
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    header, body = split_header(text)
    raw: dict[str, str] = dict(header)
    raw.setdefault("id", default_id)
    if not apply_mapping(raw, mapping).get("headline"):
        lines = [line for line in body.split("\n")]
        nonblank = [i for i, line in enumerate(lines) if line.strip()]
        if len(nonblank) > 1 and _looks_like_headline(lines[nonblank[0]]):
            raw["headline"] = lines[nonblank[0]].strip()
            body = "\n".join(lines[nonblank[0] + 1:])
        elif not markers.extract(body).body.strip():
            return Problem(location, "no text to make an article from")
        # else: no headline; build_article takes the body's first sentence and marks it derived
    raw["body"] = body
    mapping = {k: v for k, v in mapping.items() if v in raw}  # header keys only
    try:
        return Record(location, build_article(raw, mapping, derive_headline=True))
    except ArticleError as error:
        return Problem(location, str(error))
