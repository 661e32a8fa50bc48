"""HTML article pages (``.html``, ``.htm``), parsed with BeautifulSoup's ``html.parser``.

* headline: ``og:title``, else the first ``<h1>``, else ``<title>``, else the body's first
  sentence (marked ``headline_derived``);
* url: ``<link rel=canonical>``, else ``og:url``;
* published: ``article:published_time`` (must be ISO 8601), else the first
  ``<time datetime>`` that parses;
* section: ``article:section``; language: ``<html lang>`` (ignored when not a code);
* id: the canonical URL's slug when there is one (``fields.slug_id``), else the file stem;
* body: the ``<p>`` of ``<article>`` (else of the whole page) outside nav, header, footer,
  aside, form and Read-also blocks; script and style never reach it;
* Read-also links: blocks whose class or id says read-also / related / read-more /
  see-also, and headings like "Read also" / "Related" followed by a list of links; the
  hrefs are resolved against the page URL. Body text then goes through ``markers`` too.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin

from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning, Tag

from recommender.articles import ArticleError, parse_datetime

from . import markers
from .fields import build_article, slug_id
from .records import Problem, Record
from .source import read_text

_BLOCK_CLASS = re.compile(r"read-?also|related|read-?more|see-?also|more-?on|also-?read", re.I)
_HEADINGS = ("h2", "h3", "h4", "h5", "h6", "strong", "b", "p", "div", "span")
_OUTSIDE = ("nav", "header", "footer", "aside", "form", "menu")
_NOT_TEXT = ("script", "style", "noscript", "template", "svg", "iframe")
_SPACE = re.compile(r"\s+")


def _meta(soup: BeautifulSoup, *names: str) -> str | None:
    for name in names:
        tag = soup.find("meta", attrs={"property": name}) or soup.find("meta", attrs={"name": name})
        content = tag.get("content") if isinstance(tag, Tag) else None
        if isinstance(content, str) and content.strip():
            return content.strip()
    return None


def _words(tag: Tag, name: str) -> list[str]:
    """An attribute's values as a list: multi-valued ones (class, rel) are lists already."""
    value: str | list[str] = tag.get(name) or []
    return list(value) if isinstance(value, list) else [value]


def _text(tag) -> str:
    return _SPACE.sub(" ", tag.get_text(" ", strip=True)).strip() if tag is not None else ""


def _canonical(soup: BeautifulSoup) -> str | None:
    for link in soup.find_all("link", href=True):
        href = link["href"]
        if "canonical" in [r.lower() for r in _words(link, "rel")] and isinstance(href, str) and href.strip():
            return href.strip()
    return _meta(soup, "og:url")


def _links_in(block: Tag, base: str) -> list[dict]:
    items = []
    for anchor in block.find_all("a"):
        headline = _text(anchor)
        href = anchor.get("href")
        if headline:
            url = urljoin(base, href.strip()) if isinstance(href, str) and href.strip() else None
            items.append({"headline": headline, "url": url})
    if not items:  # a plain list of headlines
        items = [{"headline": _text(li)} for li in block.find_all("li") if _text(li)]
    return items


class _Tree:
    """Per-element facts computed in one pass each, so no step walks an element's ancestors or
    re-reads its subtree: the reader stays linear in the page size however deep the nesting."""

    def __init__(self, root: Tag):
        self.tags = [node for node in root.descendants if isinstance(node, Tag)]
        self.size: dict[int, int] = {}  # elements and strings below a tag, itself included
        self.anchors: dict[int, int] = {}  # <a> elements below a tag, itself included
        for node in reversed(list(root.descendants)):
            key, parent = id(node), id(node.parent)
            size = self.size.get(key, 0) + 1
            anchors = self.anchors.get(key, 0) + (node.name == "a" if isinstance(node, Tag) else 0)
            self.size[key], self.anchors[key] = size, anchors
            self.size[parent] = self.size.get(parent, 0) + size
            self.anchors[parent] = self.anchors.get(parent, 0) + anchors

    def small(self, tag: Tag, limit: int = 64) -> bool:
        return self.size.get(id(tag), 0) <= limit


def _read_also_blocks(soup: BeautifulSoup, tree: _Tree) -> list[Tag]:
    blocks: list[Tag] = []
    inside: set[int] = set()  # the blocks found so far and everything under them
    for tag in tree.tags:
        if id(tag) in inside or id(tag.parent) in inside:
            inside.add(id(tag))
            continue
        names = " ".join([*_words(tag, "class"), " ".join(_words(tag, "id"))]) if tag.name != "body" else ""
        if tag.name not in ("html", "body", "article", "main") and _BLOCK_CLASS.search(names):
            blocks.append(tag)
            inside.add(id(tag))
        elif tag.name in _HEADINGS and tree.small(tag) and len(_text(tag)) < 40 \
                and markers._BLOCK_LABEL.match(_text(tag)) and not tag.find(("ul", "ol")):
            following = tag.find_next_sibling()
            if following is not None and following.name in ("ul", "ol") and tree.anchors.get(id(following), 0):
                blocks += [tag, following]
                inside.update((id(tag), id(following)))
    return blocks


def body_paragraphs(soup: BeautifulSoup) -> list[Tag]:
    """Each outermost ``<p>`` with text of ``<article>`` (else of the page) outside nav, header, ...: the
    paragraphs the body is made of (one walk over the tree: linear in the page's size)."""
    container = soup.find("article")
    if container is None or not container.find("p"):
        container = soup
    if any(parent.name in _OUTSIDE for parent in container.parents):  # one walk up, for the container only
        return []
    skipped: set[int] = set()  # under a tag of _OUTSIDE, or under a <p> whose text already holds it
    paragraphs = []
    for tag in (node for node in container.descendants if isinstance(node, Tag)):
        if id(tag.parent) in skipped or tag.name in _OUTSIDE:
            skipped.add(id(tag))
        elif tag.name == "p":
            skipped.add(id(tag))
            if _text(tag):
                paragraphs.append(tag)
    return paragraphs


def read(path: Path, mapping: dict[str, str]) -> Iterator[Record | Problem]:
    yield parse(read_text(path), location=str(path), default_id=path.stem)


def parse(html: str, *, location: str, default_id: str) -> Record | Problem:
    """One article from a page's HTML; its id is ``default_id`` when the page has no canonical URL."""
    with warnings.catch_warnings():  # a page whose text looks like a URL or a file name is still a page
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
        soup = BeautifulSoup(html, "html.parser")
    _drop_script(soup)
    url = _canonical(soup)
    base = url or ""
    headline = _meta(soup, "og:title") or _text(soup.find("h1")) or _text(soup.find("title"))
    published = _meta(soup, "article:published_time")
    if published is None:
        for time in soup.find_all("time", datetime=True):
            value = time["datetime"]
            try:
                if isinstance(value, str) and parse_datetime(value) is not None:
                    published = value
                    break
            except (ArticleError, ValueError, OverflowError):
                continue
    html_tag = soup.find("html")
    language = html_tag.get("lang") if isinstance(html_tag, Tag) else None
    if not isinstance(language, str) or not re.fullmatch(r"[A-Za-z]{2,3}([-_][A-Za-z0-9]+)*", language.strip()):
        language = None
    body, links = body_and_links(soup, base)
    if not headline and not body.strip():
        return Problem(location, "no headline (no og:title, <h1> or <title>) and no paragraphs to derive one from")
    slug = slug_id(url)
    raw = {"id": slug or (None if url else default_id), "headline": headline, "body": body, "url": url,
           "published_at": published, "section": _meta(soup, "article:section"),
           "language": language, "read_also": links}
    try:
        return Record(location, build_article(raw, derive_headline=True), id_from_url=slug is not None)
    except (ArticleError, ValueError) as error:
        return Problem(location, str(error))


def body_and_links(soup: BeautifulSoup, base: str) -> tuple[str, list[dict]]:
    """The body text (one paragraph a line) and the Read-also links of parsed HTML, a page or a
    fragment (a feed item's content). Script, style and the Read-also blocks are taken out of ``soup``."""
    _drop_script(soup)
    links: list[dict] = []
    for block in _read_also_blocks(soup, _Tree(soup)):
        if block.name not in _HEADINGS or block.find("a"):
            links += _links_in(block, base)
        block.decompose()
    body = "\n".join(_text(p) for p in body_paragraphs(soup))
    return body, links


def read_also_blocks(soup: BeautifulSoup) -> list[Tag]:
    """The tags that make up the page's Read-also blocks (as the reader finds them)."""
    return _read_also_blocks(soup, _Tree(soup))


def _drop_script(soup: BeautifulSoup) -> None:
    """Script, style and the like never reach the text."""
    for tag in soup.find_all(_NOT_TEXT):
        if not tag.decomposed:  # one nested in another went with it
            tag.decompose()
