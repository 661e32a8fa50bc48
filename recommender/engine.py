"""The engine: vectorizer + index + ranking, the one scoring path for CLI, service, batch and evaluation."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from recommender import artifacts
from recommender.articles import Article
from recommender.index import ArticleIndex
from recommender.links import LinkResolver
from recommender.ranking import (Filters, Recommendation, collapse_near_duplicates, describe,
                                 maximal_marginal_relevance, shared_terms)
from recommender.vectorize import FieldVectorizer

log = logging.getLogger(__name__)


class UnknownArticle(KeyError):
    """No article with that id is known to the engine."""

    def __str__(self) -> str:
        return f"unknown article id {self.args[0]!r}"


@dataclass(frozen=True)
class EngineConfig:
    """How articles are vectorised and rankings shaped. Weights are relative, per field."""

    headline_weight: float = 0.6
    lead_weight: float = 0.3
    body_weight: float = 1.0
    read_also_weight: float = 0.0
    anchors_weight: float = 0.0
    min_df: int = 2
    max_df: float = 0.5
    collapse_duplicates: bool = True
    duplicate_threshold: float = 0.9  # cosine of syndicated wire copies (measured on news-events: 0.9+ are reprints)
    same_language: bool = True

    # Signals that can be switched off one at a time (ablation), and how.
    SIGNALS = {
        "headline": {"headline_weight": 0.0},
        "lead": {"lead_weight": 0.0},
        "duplicate_collapse": {"collapse_duplicates": False},
    }

    def field_weights(self) -> dict[str, float]:
        return {"headline": self.headline_weight, "lead": self.lead_weight, "body": self.body_weight,
                "read_also": self.read_also_weight, "anchors": self.anchors_weight}

    def without(self, signal: str) -> "EngineConfig":
        """This configuration with one signal switched off."""
        if signal not in self.SIGNALS:
            raise ValueError(f"unknown signal {signal!r}; known: {', '.join(self.SIGNALS)}")
        return replace(self, **self.SIGNALS[signal])

    @classmethod
    def from_dict(cls, values: Mapping) -> "EngineConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


class _Memory:
    """Article lookup for an engine built from a list of articles (no store)."""

    def __init__(self, articles: Iterable[Article]):
        self.articles = {a.id: a for a in articles}

    def get_many(self, ids: Iterable[str]) -> dict[str, Article]:
        return {i: self.articles[i] for i in ids if i in self.articles}


class Engine:
    """Related-story rankings over a fitted vectorizer and an exact cosine index."""

    def __init__(self, vectorizer: FieldVectorizer, index: ArticleIndex, config: EngineConfig, catalogue,
                 *, hashes: Mapping[str, str] | None = None, version: str | None = None):
        self.vectorizer = vectorizer
        self.index = index
        self.config = config
        self.catalogue = catalogue
        self.hashes = dict(hashes or {})
        self.version = version
        self.terms = vectorizer.terms_

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def from_articles(cls, articles: Sequence[Article], config: EngineConfig | None = None) -> "Engine":
        """Fit on a list of articles in memory; their Read-also links are resolved among them."""
        config = config or EngineConfig()
        resolver = LinkResolver().fit(articles)
        articles = [resolver.resolve_article(a) for a in articles]
        return cls._fit(articles, config, _Memory(articles))

    @classmethod
    def build(cls, store, config: EngineConfig | None = None) -> "Engine":
        """Fit on every article in a store (links already resolved there)."""
        articles = list(store.iter_articles())
        if not articles:
            raise ValueError("the store holds no articles: ingest some first")
        return cls._fit(articles, config or EngineConfig(), store)

    @classmethod
    def _fit(cls, articles: Sequence[Article], config: EngineConfig, catalogue) -> "Engine":
        ids = [a.id for a in articles]
        if len(set(ids)) != len(ids):
            raise ValueError("article ids must be unique")
        vectorizer = FieldVectorizer(weights=config.field_weights(), min_df=config.min_df,
                                     max_df=config.max_df).fit(articles)
        matrix = vectorizer.transform(articles, anchors=_anchors(articles))
        index = ArticleIndex.from_articles(articles, matrix)
        return cls(vectorizer, index, config, catalogue, hashes={a.id: a.content_hash for a in articles})

    def add(self, articles: Sequence[Article]) -> None:
        """Vectorise new or changed articles with the fitted vocabulary and append them (no refit)."""
        if not articles:
            return
        self.index.add(articles, self.vectorizer.transform(articles))
        self.hashes.update((a.id, a.content_hash) for a in articles)
        if isinstance(self.catalogue, _Memory):
            self.catalogue.articles.update((a.id, a) for a in articles)

    def sync(self, store) -> int:
        """Add articles stored or changed since this engine was built; returns how many."""
        stale = [i for i, h in store.content_hashes().items() if self.hashes.get(i) != h]
        self.add(list(store.get_many(stale).values()))
        return len(stale)

    # -- persistence --------------------------------------------------------------------------
    def save(self, root: str | os.PathLike) -> Path:
        """Write a new artifact version under ``root`` and make it current."""
        vectorizer_params, vectorizer_arrays = self.vectorizer.get_state()
        matrix = self.index.matrix
        alive = self.index.alive
        rows = np.flatnonzero(alive)
        matrix = matrix[rows] if rows.size != matrix.shape[0] else matrix
        ids = [self.index.ids[r] for r in rows]
        params = {"config": asdict(self.config), "vectorizer": vectorizer_params, "ids": ids,
                  "sections": [str(s) for s in self.index.sections[rows]],
                  "languages": [str(s) for s in self.index.languages[rows]],
                  "hashes": [self.hashes.get(i, "") for i in ids]}
        arrays = {"matrix_data": matrix.data, "matrix_indices": matrix.indices, "matrix_indptr": matrix.indptr,
                  "matrix_shape": np.asarray(matrix.shape, dtype=np.int64),
                  "published": self.index.published[rows], **vectorizer_arrays}
        path = artifacts.save(root, arrays, params, fingerprint=_fingerprint(ids, params["hashes"]))
        self.version = path.name
        return path

    @classmethod
    def load(cls, directory: str | os.PathLike, catalogue, *, verify: bool = True) -> "Engine":
        """Load an artifact directory (memory-mapped arrays); ``catalogue`` is the store."""
        params, arrays, manifest = artifacts.load(directory, verify=verify)
        shape = tuple(int(n) for n in arrays["matrix_shape"])
        matrix = sp.csr_matrix((arrays["matrix_data"], arrays["matrix_indices"], arrays["matrix_indptr"]), shape=shape)
        index = ArticleIndex(matrix, params["ids"], arrays["published"], params["sections"], params["languages"])
        vectorizer = FieldVectorizer.from_state(params["vectorizer"], arrays)
        return cls(vectorizer, index, EngineConfig.from_dict(params["config"]), catalogue,
                   hashes=dict(zip(params["ids"], params["hashes"])), version=manifest["version"])

    # -- rankings -----------------------------------------------------------------------------
    def related(self, article_id: str, k: int = 10, *, filters: Filters | None = None, diversity: float = 0.0,
                now: datetime | None = None) -> list[Recommendation]:
        """Top-k related stories for a known article (never the article itself)."""
        if article_id not in self.index or not self.index.alive[self.index.row_of[article_id]]:
            raise UnknownArticle(article_id)
        language = self.index.languages[self.index.row_of[article_id]]
        return self._rank(self.index.vector(article_id), language, k, filters, diversity, now, exclude=(article_id,))

    def related_to_text(self, headline: str, body: str = "", k: int = 10, *, filters: Filters | None = None,
                        diversity: float = 0.0, language: str = "en", now: datetime | None = None) -> list[Recommendation]:
        """Top-k related stories for text that is not stored (a draft, a pasted article)."""
        draft = Article(id="draft", headline=headline or body[:200] or "untitled", body=body, language=language)
        vector = self.vectorizer.transform([draft])
        return self._rank(vector, draft.language, k, filters, diversity, now, exclude=())

    def similarity(self, text_a: str, text_b: str, language: str = "en") -> float:
        """Cosine of two texts under the fitted vocabulary and IDF."""
        a = self.vectorizer.transform_text(text_a, language)
        b = self.vectorizer.transform_text(text_b, language)
        return float(a.multiply(b).sum())

    def articles(self, ids: Iterable[str]) -> dict[str, Article]:
        return self.catalogue.get_many(ids)

    def _rank(self, vector: sp.csr_matrix, language: str, k: int, filters: Filters | None, diversity: float,
              now: datetime | None, exclude: Sequence[str]) -> list[Recommendation]:
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        filters = filters or Filters()
        now = now or datetime.now(timezone.utc)
        mask = self.index.mask(language=language if self.config.same_language else None, section=filters.section,
                               published_after=filters.published_after(now), exclude=[*filters.exclude, *exclude])
        hits = self.index.search(vector, candidate_count(k), mask)
        rows = hits.indices[0][hits.indices[0] >= 0]
        return self.rerank(vector, rows, hits.scores[0][: rows.size], k, diversity=diversity)

    def rerank(self, vector: sp.csr_matrix, rows: np.ndarray, scores: np.ndarray, k: int, *,
               diversity: float = 0.0) -> list[Recommendation]:
        """Turn cosine candidates (best first) into the final top-k: duplicates collapsed, diversified, explained.

        The live path and batch scoring both end here, so they rank alike.
        """
        rows = np.asarray(rows, dtype=np.int64)
        scores = np.asarray(scores, dtype=np.float64)
        if self.config.collapse_duplicates:
            keep = scores < self.config.duplicate_threshold  # wire copies of the query itself
            rows, scores = rows[keep], scores[keep]
        candidates = self.index.matrix[rows]
        similarity = (candidates @ candidates.T).toarray()
        positions = np.arange(rows.size)
        if self.config.collapse_duplicates:
            positions = np.asarray(collapse_near_duplicates(list(positions), similarity,
                                                            self.config.duplicate_threshold), dtype=np.int64)
        if diversity > 0:
            chosen = maximal_marginal_relevance(scores[positions], similarity[np.ix_(positions, positions)], k, diversity)
            positions = positions[chosen]
        positions = positions[:k]
        return [Recommendation(self.index.ids[rows[p]], round(float(scores[p]), 6),
                               describe(shared_terms(vector, candidates[p], self.terms)))
                for p in positions]


def candidate_count(k: int) -> int:
    """How many cosine candidates feed the final top-k (room for duplicates and diversity)."""
    return 4 * k + 10


def _anchors(articles: Sequence[Article]) -> list[list[str]]:
    """For each article, the headlines other articles use when they link to it."""
    position = {a.id: i for i, a in enumerate(articles)}
    anchors: list[list[str]] = [[] for _ in articles]
    for article in articles:
        for link in article.read_also:
            if link.target_id in position:
                anchors[position[link.target_id]].append(link.headline)
    return anchors


def _fingerprint(ids: Sequence[str], hashes: Sequence[str]) -> str:
    digest = hashlib.sha256()
    for article_id, content_hash in zip(ids, hashes):
        digest.update(f"{article_id}\x1f{content_hash}\n".encode("utf-8"))
    return digest.hexdigest()
