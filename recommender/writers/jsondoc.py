"""JSON drafts: one object, an array of objects, or JSON Lines; the ``read_also`` field is filled.

Each record keeps its other fields, in their order; ``read_also`` becomes a list of
``{"headline", "url"}`` objects (added last when the record had none). The layout is kept:
JSON Lines stay one record a line, a document spread over lines is written indented.
``replace=True`` also takes Read-also blocks out of the ``body`` text, so that reading the
record back gives the new block and nothing else.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from recommender.articles import ArticleError, ReadAlsoLink
from recommender.readers import Problem, Record, markers
from recommender.readers.fields import build_article

from .drafts import DraftError


def parse(source: str) -> tuple[str, list[Any]]:
    """``(layout, records)``: layout ``"object"``, ``"array"`` or ``"lines"``, as the JSON Lines reader reads them."""
    stripped = source.strip()
    if stripped[:1] in "[{":
        try:
            whole = json.loads(stripped)
        except ValueError:
            whole = None
        if isinstance(whole, list):
            return "array", whole
        if isinstance(whole, dict):
            return "object", [whole]
    records = []
    for number, line in enumerate(source.splitlines(), 1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except ValueError as error:
                raise DraftError(f"line {number}: invalid JSON: {error}") from None
    return "lines", records


def drafts(source: str, *, location: str, default_id: str) -> list[Record | Problem]:
    """The articles of a JSON draft, one per record (ids derived as the reader derives them)."""
    layout, records = parse(source)
    out: list[Record | Problem] = []
    for index, raw in enumerate(records):
        where = f"{location}[{index}]" if layout != "object" else location
        if not isinstance(raw, dict):
            out.append(Problem(where, f"expected a JSON object, got {type(raw).__name__}"))
            continue
        try:
            out.append(Record(where, build_article(raw)))
        except ArticleError as error:
            out.append(Problem(where, str(error)))
    return out


def render_block(links: Sequence[ReadAlsoLink]) -> list[dict]:
    """The ``read_also`` field's value."""
    return [{"headline": link.headline, "url": link.url} for link in links]


def set_blocks(source: str, blocks: Sequence[Sequence[ReadAlsoLink]], *, after: int | None = None,
               replace: bool = False) -> str:
    """``source`` with ``read_also`` of record i set to ``blocks[i]`` (``after`` does not apply to JSON)."""
    layout, records = parse(source)
    if len(blocks) != len(records):
        raise ValueError(f"the draft holds {len(records)} records, got {len(blocks)} blocks")
    filled = [_fill(record, links, replace) for record, links in zip(records, blocks)]
    newline = "\n" if source.endswith("\n") else ""
    if layout == "lines":
        return "\n".join(json.dumps(record, ensure_ascii=False) for record in filled) + newline
    document = filled if layout == "array" else filled[0]
    indent = 2 if "\n" in source.strip() else None
    return json.dumps(document, ensure_ascii=False, indent=indent) + newline


def _fill(record: Any, links: Sequence[ReadAlsoLink], replace: bool) -> Any:
    if not isinstance(record, dict):
        return record
    record = dict(record)
    if replace and isinstance(record.get("body"), str):
        record["body"] = strip_blocks(record["body"])
    record["read_also"] = render_block(links)
    return record


def strip_blocks(body: str) -> str:
    """``body`` without its Read-also blocks (the lines the reader takes as a block)."""
    lines = body.split("\n")
    inside = {i for block in markers.find_blocks(lines) for i in range(block.start, block.end)}
    return "\n".join(line for i, line in enumerate(lines) if i not in inside)
