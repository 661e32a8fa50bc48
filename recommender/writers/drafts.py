"""What every shape's writer checks of a draft, and ``DraftError`` for a draft that cannot take a block."""

from __future__ import annotations


class DraftError(ValueError):
    """A draft that cannot take a block: not a draft's shape, unreadable, or holding no article."""


def only_block(blocks, what: str):
    """The one block of a draft that holds one article (``what``: "an HTML draft", "a text draft")."""
    if len(blocks) != 1:
        raise ValueError(f"{what} holds one article, got {len(blocks)} blocks")
    return blocks[0]


def check_after(after: int | None) -> None:
    """``after`` is a paragraph number >= 0, or None (where the draft's block stood, else after paragraph 2)."""
    if after is not None and after < 0:
        raise ValueError(f"after must be a paragraph number >= 0, got {after}")
