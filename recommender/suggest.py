"""A Read-also block for a draft, set back into the draft in its own shape (text, HTML, JSON, CSV).

>>> result = suggest(engine, store, open("draft.txt").read(), k=5)
>>> print(result.document)          # the draft with the block after paragraph 2

The block is the editor's own picks (the draft's existing Read-also items, kept as written
and first), then the engine's suggestions up to ``k`` items in all. Suggestions come from
:meth:`Engine.related_to_text`, the one scoring path, with the draft's id as the source, so
the editors' pins and blocks for that id apply. They never repeat an editor's pick (matched
to a stored article by canonical URL or headline) nor the draft itself.

Running it on its own output changes nothing: the first run's block comes back as the
editor's picks, already ``k`` long. (With fewer than ``k`` stories passing the filters, a
second run may find one the first run set aside as a near-copy of a story it showed.)
``replace=True`` drops the editor's block and asks for ``k`` fresh suggestions. Inline
``READ MORE: headline`` markers inside a paragraph are prose: they stay where they are, and
as the readers take them for items too, they count among the editor's picks.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import replace as replaced
from datetime import datetime
from typing import Any

from recommender.articles import Article, ReadAlsoLink
from recommender.ranking import Filters
from recommender.readers import Problem
from recommender.writers import DraftError, detect_shape, writer

__all__ = ["DraftError", "Pick", "Suggestion", "choose", "suggest"]


@dataclass(frozen=True)
class Pick:
    """One item of a suggested block: its headline and URL, the stored article when known,
    who chose it (``"editor"`` or ``"engine"``) and, for the engine, why."""

    headline: str
    url: str | None
    id: str | None
    source: str
    reason: str | None = None

    @property
    def link(self) -> ReadAlsoLink:
        return ReadAlsoLink(self.headline, self.url)

    def to_dict(self) -> dict:
        return {"headline": self.headline, "url": self.url, "id": self.id, "source": self.source,
                "reason": self.reason}


@dataclass(frozen=True)
class Suggestion:
    """The draft with its block(s) set in (``document``), its shape, and per article the picks."""

    shape: str
    document: str
    drafts: tuple[Article, ...]
    picks: tuple[tuple[Pick, ...], ...]

    def block(self, index: int = 0):
        """The block of article ``index`` alone, in the draft's shape (markup, text, or the JSON list)."""
        links = [pick.link for pick in self.picks[index]]
        module = writer(self.shape)
        if self.shape == "html":
            return module.render_block(links, base=self.drafts[index].url or "")
        return module.render_block(links)


def choose(engine, store, draft: Article, k: int = 5, *, filters: Filters | None = None, diversity: float = 0.0,
           replace: bool = False, now: datetime | None = None) -> list[Pick]:
    """The block for ``draft``: the editor's picks first (all of them, unless ``replace``), then
    the engine's suggestions until there are ``k`` items."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    filters = filters or Filters()
    picks: list[Pick] = []
    for link in () if replace else draft.read_also:
        target = _stored(store, link)
        url = link.url
        if url is None and target is not None:
            stored = store.get_many([target]).get(target)
            url = stored.url if stored is not None else None
        picks.append(Pick(link.headline, url, target, "editor"))
    need = k - len(picks)
    if need <= 0:
        return picks
    own = {draft.id} | ({store.articles.find_by_canonical_url(draft.url)} if draft.url else set())
    exclude = filters.exclude | {p.id for p in picks if p.id} | {i for i in own if i}
    ranking = engine.related_to_text(draft.headline, draft.body, need, filters=replaced(filters, exclude=exclude),
                                     diversity=diversity, language=draft.language, now=now, source_id=draft.id)
    found = engine.articles(r.id for r in ranking)
    picks += [Pick(found[r.id].headline, found[r.id].url, r.id, "engine", r.reason) for r in ranking if r.id in found]
    return picks


def _stored(store, link: ReadAlsoLink) -> str | None:
    """The stored article an editor's item names: by canonical URL, else by exact (normalised) headline."""
    if link.url:
        found = store.articles.find_by_canonical_url(link.url)
        if found:
            return found
    same = store.articles.find_by_headline(link.headline)
    return same[0] if same else None


def suggest(engine, store, source: str, *, shape: str | None = None, name: str | None = None, k: int = 5,
            filters: Filters | None = None, diversity: float = 0.0, replace: bool = False, after: int | None = None,
            default_id: str = "draft", now: datetime | None = None) -> Suggestion:
    """``source`` (a draft in ``shape``, detected from ``name`` or the text when not given) with a
    Read-also block set in after paragraph ``after`` (default: where the draft's block stood, else 2).

    Raises ``DraftError`` naming the record when the draft cannot be read as an article.
    """
    try:
        shape = shape or detect_shape(source, name)
        module = writer(shape)
        read = module.drafts(source, location=name or "draft", default_id=default_id)
    except ValueError as error:
        raise DraftError(str(error)) from None
    if not read:
        raise DraftError(f"{name or 'the draft'}: no article in it")
    problem = next((item for item in read if isinstance(item, Problem)), None)
    if problem is not None:
        raise DraftError(f"{problem.location}: {problem.reason}")
    drafts = tuple(item.article for item in read)
    picks = tuple(tuple(choose(engine, store, draft, k, filters=filters, diversity=diversity, replace=replace, now=now))
                  for draft in drafts)
    blocks = [[pick.link for pick in block] for block in picks]
    if after is None and all(_as_written(draft, block) for draft, block in zip(drafts, blocks)):
        return Suggestion(shape, source, drafts, picks)  # nothing to add: the draft as it came
    options: dict[str, Any] = {"replace": replace} if shape in ("json", "csv") else {}
    if shape == "csv":
        options["name"] = name
    document = module.set_blocks(source, blocks, after=after, **options)
    return Suggestion(shape, document, drafts, picks)


def _as_written(draft: Article, block: list[ReadAlsoLink]) -> bool:
    """The block is the draft's own, item for item (headline and URL)."""
    return [(link.headline, link.url) for link in block] == [(link.headline, link.url) for link in draft.read_also]
