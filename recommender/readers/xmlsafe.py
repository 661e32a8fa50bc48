"""XML from outside (feeds, sitemaps) is hostile input: bounded size, no entities, no DTD tricks.

A file larger than ``MAX_BYTES`` is refused before it is read. Entity declarations (the
"billion laughs" expansion bomb) and external references (a file or URL pulled in by the
parser) are refused by parsing with ``defusedxml``; a malformed file that still declares an
entity is refused too, so a lenient parser after this check never sees one.
"""

from __future__ import annotations

import re
from pathlib import Path

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

__all__ = ["MAX_BYTES", "UnsafeXML", "load", "check", "root_name"]

MAX_BYTES = 50 * 1024 * 1024
"""The largest feed or sitemap read (the sitemap protocol's own limit, uncompressed)."""

_ENTITY = re.compile(rb"<!ENTITY", re.I)
_ROOT = re.compile(rb"\s*<(?![?!])(?:[\w.-]+:)?([\w.-]+)")
_SKIP = re.compile(rb"\s*(?:<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>\[]*(?:\[.*?\])?\s*>)", re.S | re.I)


class UnsafeXML(ValueError):
    """XML that is too large or declares entities or external references."""


def load(path: Path, *, limit: int | None = None) -> bytes:
    """The bytes of ``path`` after :func:`check` (at most ``limit``, default ``MAX_BYTES``); ``UnsafeXML`` otherwise."""
    limit = MAX_BYTES if limit is None else limit
    size = path.stat().st_size
    if size > limit:
        raise UnsafeXML(f"{size} bytes, more than the {limit} a feed or sitemap may have")
    data = path.read_bytes()
    check(data)
    return data


def check(data: bytes) -> None:
    """Refuse entity declarations and external references (``UnsafeXML``); malformed XML without them passes."""
    try:
        fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as error:
        raise UnsafeXML(f"refused: {type(error).__name__} ({error})") from None
    except (ParseError, ValueError):
        if _ENTITY.search(data):
            raise UnsafeXML("refused: declares an entity") from None


def root_name(head: bytes) -> str | None:
    """The local name of the root element in the first bytes of an XML file (``rss``, ``feed``,
    ``urlset``, ...), or None when there is none."""
    head = head.removeprefix(b"\xef\xbb\xbf")
    position = 0
    while True:
        skipped = _SKIP.match(head, position)
        if not skipped or skipped.end() == position:
            break
        position = skipped.end()
    match = _ROOT.match(head, position)
    return match.group(1).decode("ascii", "replace") if match else None
