"""JSON Lines: one JSON object per line (``.jsonl``, ``.ndjson``, ``.json``).

A ``.json`` file holding one JSON array of objects (or one object) spread over many lines
is read too; its items are located as ``file.json[0]``, ``file.json[1]``, ...

A line nested deeper than Python's JSON decoder goes (about a thousand levels) is skipped
with its ``file:line`` and the reason, like any other bad line; size caps on the fields are
:class:`recommender.articles.Limits`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from recommender.articles import ArticleError

from .fields import build_article
from .records import Problem, Record
from .source import read_text


def read(path: Path, mapping: dict[str, str]) -> Iterator[Record | Problem]:
    text = read_text(path)
    stripped = text.lstrip()
    if stripped[:1] in "[{" and "\n" in stripped.rstrip():
        try:
            whole = json.loads(text)
        except (ValueError, RecursionError):
            whole = None  # read line by line below, where each bad line is named
        if isinstance(whole, list):
            for index, item in enumerate(whole):
                yield _record(item, f"{path}[{index}]", mapping)
            return
        if isinstance(whole, dict):
            yield _record(whole, f"{path}:1", mapping)
            return
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        location = f"{path}:{number}"
        try:
            raw = json.loads(line)
        except ValueError as error:
            yield Problem(location, f"invalid JSON: {error}")
            continue
        except RecursionError:
            yield Problem(location, f"JSON nested too deep (the decoder stops near 1,000 levels; "
                                    f"{len(line):,} characters)")
            continue
        yield _record(raw, location, mapping)


def _record(raw: Any, location: str, mapping: dict[str, str]) -> Record | Problem:
    if not isinstance(raw, dict):
        return Problem(location, f"expected a JSON object, got {type(raw).__name__}")
    try:
        return Record(location, build_article(raw, mapping, derive_headline=True))
    except ArticleError as error:
        return Problem(location, str(error))
