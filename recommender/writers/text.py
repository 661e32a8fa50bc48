"""Raw text drafts in the seed's shape: a ``Read also:`` line, then one ``- headline`` line per
item, set into the body after paragraph N (paragraphs are lines).

The draft is otherwise left as written: its header block, headline line, blank lines, line
endings and boilerplate. An existing block keeps its label line (``Read more:``) and bullet
character; every existing block is taken out and the one new block is set in (where the first
one stood, unless ``after`` says otherwise). What :mod:`recommender.readers.text` reads back
is the same article, with the block as its links.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from recommender.articles import ReadAlsoLink
from recommender.readers import Problem, Record, markers
from recommender.readers import text as reader

from .drafts import check_after, only_block

LABEL = "Read also:"
BULLET = "- "
DEFAULT_AFTER = 2
"""Where the seed's editors put the block: after the second paragraph."""

_BULLET_OF = re.compile(r"^\s*([-*•–—])\s*")


def drafts(source: str, *, location: str, default_id: str) -> list[Record | Problem]:
    """The one article a raw text draft holds."""
    return [reader.parse(source, location=location, default_id=default_id)]


def render_block(links: Sequence[ReadAlsoLink], *, label: str = LABEL, bullet: str = BULLET) -> str:
    """The block as lines of text: the label, then one bulleted headline per link."""
    return "\n".join([label, *(bullet + link.headline for link in links)])


def set_blocks(source: str, blocks: Sequence[Sequence[ReadAlsoLink]], *, after: int | None = None) -> str:
    """``source`` with its one block (``blocks[0]``) set in; see :func:`set_block`."""
    return set_block(source, only_block(blocks, "a text draft"), after=after)


def set_block(source: str, links: Sequence[ReadAlsoLink], *, after: int | None = None) -> str:
    """``source`` with its Read-also blocks replaced by one block of ``links`` after paragraph ``after``.

    ``after=None``: where the draft's first block stood, else after paragraph 2. ``0`` puts the
    block before the first paragraph; a number past the last paragraph puts it at the end.
    No links: the draft without a block.
    """
    check_after(after)
    newline = "\r\n" if "\r\n" in source else "\n"
    text = source.replace("\r\n", "\n").replace("\r", "\n")
    ends_with_newline = text.endswith("\n")
    lines = text.split("\n")
    if ends_with_newline:
        lines.pop()
    start = _body_start(text, lines)
    head, body = lines[:start], lines[start:]

    found = markers.find_blocks(body)
    label, bullet, position = LABEL, BULLET, None
    if found:
        label = found[0].label.strip()
        item_line = next(line for line in body[found[0].start + 1:found[0].end] if line.strip())
        bullet_match = _BULLET_OF.match(item_line)
        bullet = bullet_match.group(1) + " " if bullet_match else BULLET  # plain headline lines: bulleted now
        position = sum(1 for line in body[:found[0].start] if line.strip())
        inside = {i for block in found for i in range(block.start, block.end)}
        body = [line for i, line in enumerate(body) if i not in inside]
    while body and not body[-1].strip():
        body.pop()

    if links:
        body = _insert(body, render_block(links, label=label, bullet=bullet).split("\n"),
                       after if after is not None else position if position is not None else DEFAULT_AFTER)
    out = newline.join(head + body)
    return out + newline if ends_with_newline else out


def _body_start(text: str, lines: list[str]) -> int:
    """The first line of the body: after the header block and after a headline line, as the reader takes them."""
    header, _ = reader.split_header(text)
    start = 0
    if header:
        start = next(i for i, line in enumerate(lines) if not line.strip()) + 1
    if not header.get("headline"):
        nonblank = [i for i in range(start, len(lines)) if lines[i].strip()]
        if len(nonblank) > 1 and reader._looks_like_headline(lines[nonblank[0]]):
            start = nonblank[0] + 1
    return start


def _insert(body: list[str], block: list[str], after: int) -> list[str]:
    paragraphs = [i for i, line in enumerate(body) if line.strip()]
    # Blank lines between paragraphs: the block gets blank lines around it too.
    spaced = any(not line.strip() for line in body[paragraphs[0]:]) if paragraphs else False
    if not paragraphs:
        return body + block
    if after == 0:
        at = paragraphs[0]
        return body[:at] + block + ([""] if spaced else []) + body[at:]
    at = paragraphs[min(after, len(paragraphs)) - 1] + 1
    return body[:at] + ([""] if spaced else []) + block + body[at:]
