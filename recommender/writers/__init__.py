"""Writers: a Read-also block set back into a draft, in the draft's own shape.

One module per shape, each with ``drafts(source, location=, default_id=)`` (the articles the
draft holds, read as the readers read them), ``render_block(links)`` (the block alone) and
``set_blocks(source, blocks, after=)`` (the draft with one block per article set in):

* ``text``: raw text as in the seed article (``Read also:`` then ``- headline`` lines);
* ``html``: an ``<aside class="read-also">`` of links after a paragraph;
* ``json``: the ``read_also`` field of each record;
* ``csv``: the ``read_also`` cell of each row (CSV or TSV).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["SHAPES", "DraftError", "detect_shape", "writer", "only_block", "check_after"]

SHAPES = ("text", "html", "json", "csv")


class DraftError(ValueError):
    """A draft that cannot take a block: not a draft's shape, unreadable, or holding no article."""

_EXTENSIONS = {
    ".txt": "text", ".md": "text",
    ".html": "html", ".htm": "html",
    ".json": "json", ".jsonl": "json", ".ndjson": "json",
    ".csv": "csv", ".tsv": "csv",
}


def detect_shape(source: str, name: str | None = None) -> str:
    """The shape of a draft: from the file name's extension, else from its first character
    (``<`` is HTML, ``{`` or ``[`` is JSON, anything else is text; CSV only by extension)."""
    if name:
        suffix = Path(name).suffix.lower()
        if suffix in (".rss", ".atom", ".xml"):
            raise DraftError(f"{name}: feeds and sitemaps are read by 'ingest', they are not drafts")
        shape = _EXTENSIONS.get(suffix)
        if shape:
            return shape
    first = source.lstrip("\ufeff \t\r\n")[:1]
    return "html" if first == "<" else "json" if first and first in "{[" else "text"


def writer(shape: str):
    """The module that writes ``shape``."""
    from . import html, jsondoc, table, text

    try:
        return {"text": text, "html": html, "json": jsondoc, "csv": table}[shape]
    except KeyError:
        raise DraftError(f"shape must be one of {', '.join(SHAPES)}, got {shape!r}") from None


def only_block(blocks, what: str):
    """The one block of a draft that holds one article (``what``: "an HTML draft", "a text draft")."""
    if len(blocks) != 1:
        raise ValueError(f"{what} holds one article, got {len(blocks)} blocks")
    return blocks[0]


def check_after(after: int | None) -> None:
    """``after`` is a paragraph number >= 0, or None (where the draft's block stood, else after paragraph 2)."""
    if after is not None and after < 0:
        raise ValueError(f"after must be a paragraph number >= 0, got {after}")
