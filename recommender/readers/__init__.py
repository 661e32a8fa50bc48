"""Readers: one per input format, each yielding ``Record`` or ``Problem`` per source record.

>>> for item in read_path("archive/", mapping={"headline": "title", "body": "text"}):
...     if isinstance(item, Problem):
...         print(item.location, item.reason)

Every reader sends the body through :mod:`recommender.readers.markers`, so Read-also
blocks, inline ``READ MORE:`` markers and newsroom boilerplate are handled the same way
in every format. A malformed record becomes a ``Problem`` naming ``file:line`` (or the
file) and the reason; reading goes on with the next one. Files are decoded as UTF-8
(a byte-order mark is skipped; invalid bytes become U+FFFD rather than failing).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from . import jsonl, tabular, text
from .fields import build_article, check_mapping, parse_mapping
from .records import Problem, ReaderError, Record
from .xmlsafe import root_name

__all__ = ["FORMATS", "Record", "Problem", "ReaderError", "build_article", "detect_format", "read_path",
           "parse_mapping", "xml_root"]

FORMATS = ("jsonl", "csv", "text", "html", "feed")

_EXTENSIONS = {
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
    ".csv": "csv", ".tsv": "csv",
    ".txt": "text", ".md": "text",
    ".html": "html", ".htm": "html",
    ".rss": "feed", ".atom": "feed", ".xml": "xml",  # .xml: a feed, or a sitemap (not articles)
}


def detect_format(path) -> str:
    """The format of ``path`` from its extension (for ``.xml``, from its root element: a feed's
    ``rss``/``feed``/``RDF``); ``ReaderError`` naming the file otherwise."""
    suffix = Path(path).suffix.lower()
    try:
        format = _EXTENSIONS[suffix]
    except KeyError:
        known = ", ".join(sorted(_EXTENSIONS))
        raise ReaderError(f"cannot tell the format of {str(path)!r} from its extension (known: {known})") from None
    if format != "xml":
        return format
    root = xml_root(path)
    if root in ("urlset", "sitemapindex"):
        raise ReaderError(f"{str(path)!r} is a sitemap: it lists pages and holds no articles; "
                         "give it as 'ingest PAGES --sitemap FILE'")
    if root not in ("rss", "feed", "RDF"):
        raise ReaderError(f"{str(path)!r} is XML but not an RSS or Atom feed (root element {root!r})")
    return "feed"


def xml_root(path) -> str | None:
    """The local name of the root element of an XML file (``rss``, ``feed``, ``urlset``, ...)."""
    try:
        with open(path, "rb") as handle:
            return root_name(handle.read(8192))
    except OSError as error:
        raise ReaderError(f"cannot read {str(path)!r}: {error.strerror or error}") from None


def read_path(path, *, format: str | None = None, mapping: dict[str, str] | None = None) -> Iterator[Record | Problem]:
    """Read a file, or every file of a known extension under a directory (sorted).

    ``format`` forces one reader for every file; ``mapping`` renames fields
    (target -> source, e.g. ``{"headline": "title", "body": "text"}``).
    """
    if format is not None and format not in FORMATS:
        raise ReaderError(f"format must be one of {', '.join(FORMATS)}, got {format!r}")
    mapping = check_mapping(mapping)
    path = Path(path)
    if path.is_dir():
        files = []
        for root, dirs, names in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            files += [Path(root) / name for name in names
                      if not name.startswith(".") and Path(name).suffix.lower() in _EXTENSIONS]
        for file in sorted(files):
            if format is None and file.suffix.lower() == ".xml" and xml_root(file) in ("urlset", "sitemapindex"):
                continue  # a sitemap beside the pages it lists: not an article file
            try:
                file_format = format or detect_format(file)
            except ReaderError as error:
                yield Problem(str(file), str(error))
                continue
            yield from _read_file(file, file_format, mapping)
    elif path.exists():
        yield from _read_file(path, format or detect_format(path), mapping)
    else:
        raise FileNotFoundError(f"no such file or directory: {str(path)!r}")


def _read_file(path: Path, format: str, mapping: dict[str, str]) -> Iterator[Record | Problem]:
    from . import feed, page

    reader = {"jsonl": jsonl.read, "csv": tabular.read, "text": text.read, "html": page.read, "feed": feed.read}[format]
    try:
        yield from reader(path, mapping)
    except OSError as error:
        yield Problem(str(path), f"cannot read file: {error.strerror or error}")
