"""CSV (``.csv``) and TSV (``.tsv``) with a header row.

The delimiter is a tab for ``.tsv``; otherwise whichever of ``,``, ``;`` and tab is most
frequent in the header line. ``read_also`` is a JSON-encoded list in its cell. Locations
name the line where the record starts (records may span lines inside quotes).

Quoting is parsed strictly: a quote that is never closed, text straight after a closing
quote, or a line break inside a one-line field (id, url, headline, date, section, language)
makes that record a ``Problem`` and reading resumes on the next line, so the rows an unclosed
quote would swallow are read as themselves instead of merging into one body.
"""

from __future__ import annotations

import csv
import re
import sys
from collections.abc import Iterator
from pathlib import Path

from recommender.articles import ArticleError

from .fields import build_article
from .records import Problem, Record
from .source import read_text

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
_ONE_LINE_FIELDS = ("id", "url", "headline", "published_at", "section", "language")
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\n|\r)?")


def _delimiter(path: Path, header: str) -> str:
    if path.suffix.lower() == ".tsv":
        return "\t"
    counts = {d: header.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _physical_lines(text: str) -> list[str]:
    """The file's lines with their endings (``\\r\\n``, ``\\n`` or ``\\r``), as ``csv`` wants them."""
    return [line for line in _LINE.findall(text) if line]


def read(path: Path, mapping: dict[str, str]) -> Iterator[Record | Problem]:
    text = read_text(path).replace("\x00", "")
    if not text.strip():
        yield Problem(str(path), "empty file: no header row")
        return
    header_line = text.split("\n", 1)[0]
    lines = _physical_lines(text)
    cursor = 0  # index of the next physical line to parse

    def feed():
        nonlocal cursor
        while cursor < len(lines):
            cursor += 1
            yield lines[cursor - 1]

    source = feed()
    delimiter = _delimiter(path, header_line)
    reader = csv.reader(source, delimiter=delimiter, strict=True)
    try:
        header = [name.strip() for name in next(reader)]
    except (csv.Error, StopIteration) as error:
        yield Problem(f"{path}:1", f"unreadable header row: {error}")
        return
    if len(set(header)) != len(header):
        duplicated = sorted({name for name in header if header.count(name) > 1})
        yield Problem(f"{path}:1", f"header repeats column(s) {', '.join(map(repr, duplicated))}")
        return
    one_line = [i for i, name in enumerate(header) if name in {mapping.get(f, f) for f in _ONE_LINE_FIELDS}]
    while True:
        start = cursor
        try:
            row = next(reader)
            if cursor - start > 1:  # a record over several lines: only a body may hold line breaks
                broken = next((header[i] for i in one_line
                               if i < len(row) and ("\n" in row[i] or "\r" in row[i])), None)
                if broken is not None:
                    raise csv.Error(f"the {broken!r} cell runs over lines {start + 1}-{cursor}")
        except StopIteration:
            break
        except csv.Error as error:
            # Broken quoting: report the record where it starts and go on from the line after it, so
            # the rows an unclosed quote swallowed are read as rows, never merged into one cell.
            yield Problem(f"{path}:{start + 1}", f"malformed CSV (broken quoting?): {error}; "
                                                 f"the record is skipped and reading resumes on line {start + 2}")
            cursor = start + 1
            reader = csv.reader(source, delimiter=delimiter, strict=True)
            continue
        location = f"{path}:{start + 1}"
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(header):
            yield Problem(location, f"row has {len(row)} fields but the header has {len(header)}")
            continue
        raw = {name: (value if value != "" else None) for name, value in zip(header, row)}
        try:
            yield Record(location, build_article(raw, mapping, derive_headline=True))
        except ArticleError as error:
            yield Problem(location, str(error))
