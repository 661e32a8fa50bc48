"""CSV and TSV drafts: the ``read_also`` cell of each row filled with its block as a JSON list.

Read as :mod:`recommender.readers.tabular` reads them (header row, the same delimiter
choice); the column is added last when the header has none. Rows are written back with
the same delimiter and line ending, quoted only where needed, so cells come out with the
same values (a cell quoted without need loses its quotes). Blank rows are left out.
``replace=True`` also takes Read-also blocks out of the ``body`` cell.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path

from recommender.articles import ArticleError, ReadAlsoLink
from recommender.readers import Problem, Record
from recommender.readers.fields import build_article
from recommender.readers.tabular import _delimiter

from .drafts import DraftError
from .jsondoc import render_block, strip_blocks


def parse(source: str, name: str | None = None) -> tuple[str, list[str], list[list[str]]]:
    """``(delimiter, header, rows)``; ``DraftError`` when there is no header row."""
    text = source.replace("\x00", "")
    if not text.strip():
        raise DraftError("empty CSV: no header row")
    delimiter = _delimiter(Path(name or "draft.csv"), text.split("\n", 1)[0])
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    header = [cell.strip() for cell in rows[0]]
    return delimiter, header, [row for row in rows[1:] if any(cell.strip() for cell in row)]


def drafts(source: str, *, location: str, default_id: str) -> list[Record | Problem]:
    """The articles of a CSV draft, one per row."""
    _, header, rows = parse(source, location)
    out: list[Record | Problem] = []
    for number, row in enumerate(rows, 2):
        where = f"{location}:{number}"
        if len(row) > len(header):
            out.append(Problem(where, f"row has {len(row)} fields but the header has {len(header)}"))
            continue
        try:
            out.append(Record(where, build_article({k: (v if v != "" else None) for k, v in zip(header, row)})))
        except ArticleError as error:
            out.append(Problem(where, str(error)))
    return out


def set_blocks(source: str, blocks: Sequence[Sequence[ReadAlsoLink]], *, after: int | None = None,
               replace: bool = False, name: str | None = None) -> str:
    """``source`` with the ``read_also`` cell of row i set to ``blocks[i]`` (``after`` does not apply)."""
    delimiter, header, rows = parse(source, name)
    if len(blocks) != len(rows):
        raise ValueError(f"the draft holds {len(rows)} rows, got {len(blocks)} blocks")
    if "read_also" not in header:
        header = [*header, "read_also"]
    column, body = header.index("read_also"), header.index("body") if "body" in header else None
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n" if "\r\n" in source else "\n")
    writer.writerow(header)
    for row, links in zip(rows, blocks):
        row = row + [""] * (len(header) - len(row))
        if replace and body is not None:
            row[body] = strip_blocks(row[body])
        row[column] = json.dumps(render_block(links), ensure_ascii=False)
        writer.writerow(row)
    return out.getvalue()
