"""HTML drafts (a page or a fragment): an ``<aside class="read-also">`` with a heading and a list
of links, set in after the N-th body paragraph.

Paragraphs are counted as :mod:`recommender.readers.page` counts them (the ``<p>`` of
``<article>``, else of the page, outside nav, header, footer, aside and form). Every
Read-also block the reader finds is taken out and the one new block is set in (where the
first one stood, unless ``after`` says otherwise). Links are absolute ``http(s)`` URLs
(relative ones are resolved against the page's canonical URL, as the reader does); an item
with no such URL is an ``<a>`` without ``href``, so the reader still reads it as an item.
Headlines and URLs are escaped, never pasted in as markup.

The page is edited in place, as text: the parser only finds where the paragraphs and
blocks start and end, and everything else stays byte for byte as written. The block goes
on a line of its own, indented like the paragraph before it, when that paragraph starts a
line.
"""

from __future__ import annotations

import html as markup
import re
from collections.abc import Sequence
from urllib.parse import urljoin, urlsplit

from bs4 import BeautifulSoup, Tag

from recommender.articles import ReadAlsoLink
from recommender.readers import Problem, Record
from recommender.readers import page as reader

from .drafts import check_after, only_block

HEADING = "Read also"
DEFAULT_AFTER = 2


def drafts(source: str, *, location: str, default_id: str) -> list[Record | Problem]:
    """The one article an HTML draft holds."""
    return [reader.parse(source, location=location, default_id=default_id)]


def safe_url(url: str | None, base: str = "") -> str | None:
    """``url`` made absolute against ``base``; None unless it is an http(s) URL with a host."""
    if not url or not url.strip():
        return None
    absolute = urljoin(base, url.strip())
    parts = urlsplit(absolute)
    return absolute if parts.scheme in ("http", "https") and parts.netloc else None


def render_block(links: Sequence[ReadAlsoLink], *, base: str = "") -> str:
    """The ``<aside>`` alone, as one line of markup."""
    items = []
    for link in links:
        href = safe_url(link.url, base)
        attributes = f' href="{markup.escape(href, quote=True)}"' if href else ""
        items.append(f"<li><a{attributes}>{markup.escape(link.headline, quote=False)}</a></li>")
    return f'<aside class="read-also"><h2>{HEADING}</h2><ul>{"".join(items)}</ul></aside>'


def set_blocks(source: str, blocks: Sequence[Sequence[ReadAlsoLink]], *, after: int | None = None) -> str:
    """``source`` with its one block (``blocks[0]``) set in; see :func:`set_block`."""
    return set_block(source, only_block(blocks, "an HTML draft"), after=after)


def set_block(source: str, links: Sequence[ReadAlsoLink], *, after: int | None = None) -> str:
    """``source`` with its Read-also blocks replaced by one ``<aside>`` of ``links`` after paragraph ``after``.

    ``after=None``: where the page's first block stood, else after paragraph 2. ``0`` puts the
    block before the first paragraph; a number past the last paragraph puts it after the last.
    No links: the page without a block.
    """
    check_after(after)
    soup = BeautifulSoup(source, "html.parser")
    places = _Places(source)
    base = reader._canonical(soup) or ""
    found = reader.read_also_blocks(soup)
    cuts = [places.whole_lines(places.start(tag), places.end(tag)) for tag in found]
    for tag in found:
        tag.decompose()
    paragraphs = reader.body_paragraphs(soup)
    position = sum(1 for p in paragraphs if places.start(p) < cuts[0][0]) if found else None
    edits = [(start, end, "") for start, end in cuts]
    if links:
        block = render_block(links, base=base)
        where = after if after is not None else position if position is not None else DEFAULT_AFTER
        if not paragraphs:
            at = places.closing(("article", "main", "body")) or len(source)
            edits.append((at, at, block))
        elif where == 0:
            at = places.start(paragraphs[0])
            indent = places.indent(at)
            edits.append((at, at, block + "\n" + indent if indent is not None else block))
        else:
            paragraph = paragraphs[min(where, len(paragraphs)) - 1]
            at, indent = places.end(paragraph), places.indent(places.start(paragraph))
            edits.append((at, at, "\n" + indent + block if indent is not None else block))
    out, done = [], 0
    for start, end, text in sorted(edits):
        out += [source[done:max(start, done)], text]
        done = max(done, end)
    return "".join(out) + source[done:]


class _Places:
    """Offsets in the source text of the tags ``html.parser`` found."""

    def __init__(self, source: str):
        self.source = source
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", source)]

    def start(self, tag: Tag) -> int:
        assert tag.sourceline is not None and tag.sourcepos is not None  # html.parser records both
        return self.line_starts[tag.sourceline - 1] + tag.sourcepos

    def end(self, tag: Tag) -> int:
        """Just past the tag's end tag (nested tags of the same name counted); the end of the
        text when it is never closed."""
        pattern = re.compile(rf"<(/?){re.escape(tag.name)}(?=[\s/>])[^>]*>", re.I)
        depth = 0
        for match in pattern.finditer(self.source, self.start(tag)):
            if match.group(1):
                depth -= 1
            elif not match.group(0).endswith("/>"):
                depth += 1
            if depth <= 0:
                return match.end()
        return len(self.source)

    def indent(self, offset: int) -> str | None:
        """The whitespace before ``offset`` on its line, or None when text or tags come first."""
        line_start = self.source.rfind("\n", 0, offset) + 1
        before = self.source[line_start:offset]
        return before if not before.strip() else None

    def whole_lines(self, start: int, end: int) -> tuple[int, int]:
        """``start..end`` widened to whole lines when nothing else stands on them."""
        if self.indent(start) is None:
            return start, end
        line_end = self.source.find("\n", end)
        line_end = len(self.source) if line_end < 0 else line_end
        if self.source[end:line_end].strip():
            return start, end
        return self.source.rfind("\n", 0, start) + 1, min(line_end + 1, len(self.source))

    def closing(self, names: tuple[str, ...]) -> int | None:
        """Where the last end tag of the first of ``names`` present begins."""
        for name in names:
            matches = list(re.finditer(rf"</{name}\s*>", self.source, re.I))
            if matches:
                return matches[-1].start()
        return None
