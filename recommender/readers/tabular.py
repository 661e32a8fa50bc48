"""CSV (``.csv``) and TSV (``.tsv``) with a header row.

The delimiter is a tab for ``.tsv``; otherwise whichever of ``,``, ``;`` and tab is most
frequent in the header line. ``read_also`` is a JSON-encoded list in its cell. Locations
name the line where the record starts (records may span lines inside quotes).
"""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path
from typing import Iterator

from recommender.articles import ArticleError

from . import Problem, Record
from .fields import build_article
from .source import read_text

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


def _delimiter(path: Path, header: str) -> str:
    if path.suffix.lower() == ".tsv":
        return "\t"
    counts = {d: header.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def read(path: Path, mapping: dict[str, str]) -> Iterator[Record | Problem]:
    text = read_text(path).replace("\x00", "")
    if not text.strip():
        yield Problem(str(path), "empty file: no header row")
        return
    header_line = text.split("\n", 1)[0]
    lines = io.StringIO(text, newline="")
    reader = csv.reader(lines, delimiter=_delimiter(path, header_line))
    try:
        header = [name.strip() for name in next(reader)]
    except (csv.Error, StopIteration) as error:
        yield Problem(f"{path}:1", f"unreadable header row: {error}")
        return
    if len(set(header)) != len(header):
        duplicated = sorted({name for name in header if header.count(name) > 1})
        yield Problem(f"{path}:1", f"header repeats column(s) {', '.join(map(repr, duplicated))}")
        return
    start = reader.line_num + 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            yield Problem(f"{path}:{start}", f"malformed CSV: {error}")
            start = reader.line_num + 1
            continue
        location = f"{path}:{start}"
        start = reader.line_num + 1
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(header):
            yield Problem(location, f"row has {len(row)} fields but the header has {len(header)}")
            continue
        raw = {name: (value if value != "" else None) for name, value in zip(header, row)}
        try:
            yield Record(location, build_article(raw, mapping))
        except ArticleError as error:
            yield Problem(location, str(error))
