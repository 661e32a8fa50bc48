"""Resolving Read-also items to articles: canonical URL, else normalised headline, else fuzzy headline."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from recommender.articles import Article, ReadAlsoLink, canonical_url, normalise_headline

FUZZY_THRESHOLD = 90.0
"""Minimum rapidfuzz ``token_sort_ratio`` (0-100) between normalised headlines for a fuzzy match."""


@dataclass(frozen=True)
class Resolution:
    target_id: str | None
    how: str | None  # "url", "headline", "fuzzy" or None


class LinkResolver:
    """Finds the article a Read-also item points at among a known set of articles."""

    def __init__(self, *, fuzzy_threshold: float = FUZZY_THRESHOLD):
        self.fuzzy_threshold = fuzzy_threshold

    def fit(self, articles: Iterable[Article] | Iterable[tuple[str, str | None, str]]) -> LinkResolver:
        """Index ``Article`` objects, or ``(id, url, headline)`` triples."""
        self.by_url_: dict[str, str] = {}
        self.by_headline_: dict[str, str] = {}
        for item in articles:
            article_id, url, headline = (item.id, item.url, item.headline) if isinstance(item, Article) else item
            url_key = canonical_url(url) if url else None
            if url_key:
                self.by_url_.setdefault(url_key, article_id)
            self.by_headline_.setdefault(normalise_headline(headline), article_id)
        self.headline_keys_: Sequence[str] = list(self.by_headline_)
        return self

    def resolve(self, link: ReadAlsoLink, *, source_id: str | None = None) -> Resolution:
        """Where the link points; an article never resolves a link to itself."""
        if link.url:
            url_key = canonical_url(link.url)
            target = self.by_url_.get(url_key) if url_key else None
            if target and target != source_id:
                return Resolution(target, "url")
        key = normalise_headline(link.headline)
        target = self.by_headline_.get(key)
        if target and target != source_id:
            return Resolution(target, "headline")
        if len(key) >= 12 and self.headline_keys_:
            match = process.extractOne(key, self.headline_keys_, scorer=fuzz.token_sort_ratio,
                                       score_cutoff=self.fuzzy_threshold)
            if match and self.by_headline_[match[0]] != source_id:
                return Resolution(self.by_headline_[match[0]], "fuzzy")
        return Resolution(None, None)

    def resolve_article(self, article: Article) -> Article:
        """The article with each of its links resolved (already-resolved links are kept)."""
        links = []
        for link in article.read_also:
            if link.target_id is None:
                found = self.resolve(link, source_id=article.id)
                link = ReadAlsoLink(link.headline, link.url, found.target_id, found.how)
            links.append(link)
        return article.with_links(links)


def resolve_store(store) -> dict[str, int]:
    """Resolve every unresolved link in a store against its articles; returns link counts."""
    store.links.clear_dangling()
    pending = store.links.unresolved()
    if pending:
        resolver = LinkResolver().fit(store.links.candidates())
        found = []
        for source_id, position, headline, url in pending:
            resolution = resolver.resolve(ReadAlsoLink(headline, url), source_id=source_id)
            if resolution.target_id:
                found.append((source_id, position, resolution.target_id, resolution.how))
        store.links.set_targets(found)
    return store.links.counts()
