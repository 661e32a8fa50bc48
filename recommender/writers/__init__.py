"""Writers: a Read-also block set back into a draft, in the draft's own shape.

One module per shape, each with ``drafts(source, location=, default_id=)`` (the articles the
draft holds, read as the readers read them), ``render_block(links)`` (the block alone) and
``set_blocks(source, blocks, after=)`` (the draft with one block per article set in):

* ``text``: raw text as in the seed article (``Read also:`` then ``- headline`` lines);
* ``html``: an ``<aside class="read-also">`` of links after a paragraph;
* ``json``: the ``read_also`` field of each record;
* ``csv``: the ``read_also`` cell of each row (CSV or TSV).

``drafts`` holds what every shape checks of a draft, and ``DraftError``. The HTML writer loads
BeautifulSoup, so it is imported only when a draft is HTML.
"""

from __future__ import annotations

from pathlib import Path

from . import jsondoc, table, text
from .drafts import DraftError, check_after, only_block

__all__ = ["SHAPES", "DraftError", "detect_shape", "writer", "only_block", "check_after"]

SHAPES = ("text", "html", "json", "csv")

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
    from . import html

    try:
        return {"text": text, "html": html, "json": jsondoc, "csv": table}[shape]
    except KeyError:
        raise DraftError(f"shape must be one of {', '.join(SHAPES)}, got {shape!r}") from None

