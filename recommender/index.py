"""The searchable index: unit TF-IDF rows with their ids and filterable metadata, inverted postings, incremental add."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import numpy as np
import scipy.sparse as sp

from recommender.articles import Article, site_of
from recommender.rowdots import row_times
from recommender.topk import Neighbours, Postings, term_postings, top_k

NO_DATE = np.nan


def epoch_seconds(moment: datetime | None) -> float:
    return moment.timestamp() if moment is not None else NO_DATE


class ArticleIndex:
    """Rows of article vectors; a replaced article keeps its old row hidden and gains a new one.

    ``copies`` are unit rows of each article's body alone (its headline when it has no body): wire
    copies share their body whatever headline an outlet gives them, so duplicates are found there.
    Without them the article vectors stand in.

    ``expanded`` are the rows searches run on: the article vectors blended with their nearest
    neighbours (:mod:`recommender.expansion`); without them the article vectors themselves. The
    article vectors (``matrix``) stay the basis of features, reasons and of finding neighbours.
    """

    def __init__(self, matrix: sp.csr_matrix, ids: Sequence[str], published: np.ndarray,
                 sections: Sequence[str | None], languages: Sequence[str], copies: sp.csr_matrix | None = None,
                 sites: Sequence[str | None] | None = None, expanded: sp.csr_matrix | None = None):
        sites = [""] * len(ids) if sites is None else sites
        if not (matrix.shape[0] == len(ids) == len(published) == len(sections) == len(languages) == len(sites)):
            raise ValueError("matrix rows, ids and metadata must have the same length")
        if copies is not None and copies.shape != matrix.shape:
            raise ValueError(f"copies must have the matrix's shape {matrix.shape}, got {copies.shape}")
        self.matrix = sp.csr_matrix(matrix, dtype=np.float32)
        self.copies = self.matrix if copies is None else sp.csr_matrix(copies, dtype=np.float32)
        self.expanded = self.matrix
        if expanded is not None:
            self.set_expanded(expanded)
        self.ids = list(ids)
        self.published = np.asarray(published, dtype=np.float64)
        self.sections = np.asarray([s or "" for s in sections], dtype=object)
        self.languages = np.asarray(list(languages), dtype=object)
        self.sites = np.asarray([s or "" for s in sites], dtype=object)  # publication (URL host), "" unknown
        self.alive = np.ones(len(self.ids), dtype=bool)
        self.row_of = {article_id: row for row, article_id in enumerate(self.ids)}
        self._postings = None
        self._kernel_postings = None
        self._neighbour_postings = None
        self._language_rows: dict[str, np.ndarray] = {}  # language -> boolean rows, built on first use

    @classmethod
    def from_articles(cls, articles: Sequence[Article], matrix: sp.csr_matrix,
                      copies: sp.csr_matrix | None = None) -> "ArticleIndex":
        return cls(matrix, [a.id for a in articles], [epoch_seconds(a.published_at) for a in articles],
                   [a.section for a in articles], [a.language for a in articles], copies,
                   [site_of(a.url) for a in articles])

    def __len__(self) -> int:
        return int(self.alive.sum())

    def __contains__(self, article_id: str) -> bool:
        return article_id in self.row_of

    @property
    def expansion(self) -> bool:
        """Whether searches run on neighbour-expanded rows."""
        return self.expanded is not self.matrix

    def set_expanded(self, expanded: sp.csr_matrix, start: int = 0) -> None:
        """Use ``expanded`` as the search rows from row ``start`` on (the rows before it keep theirs)."""
        expanded = sp.csr_matrix(expanded, dtype=np.float32)
        if expanded.shape != (self.matrix.shape[0] - start, self.matrix.shape[1]):
            raise ValueError(f"expanded rows must be {self.matrix.shape[0] - start} x {self.matrix.shape[1]}, "
                             f"got {expanded.shape}")
        self.expanded = expanded if start == 0 else sp.vstack([self.expanded[:start], expanded], format="csr")
        self._postings = self._kernel_postings = None

    @property
    def postings(self) -> sp.csr_matrix:
        """Term -> rows inverted index of the search rows (``expanded``), built on first use."""
        if self._postings is None:
            self._postings = _inverted(self.expanded)
        return self._postings

    @property
    def kernel_postings(self) -> Postings:
        """``postings`` tiled for the all-pairs kernel (``topk.top_k``), sharing their arrays; built on first use."""
        if self._kernel_postings is None:
            self._kernel_postings = term_postings(self.postings, self.matrix.shape[0])
        return self._kernel_postings

    def nearest(self, vectors: sp.csr_matrix, m: int, languages: Sequence[str] | None, *,
                exclude: np.ndarray | None = None) -> Neighbours:
        """Each article vector's ``m`` nearest live article vectors (of its language, when ``languages`` are
        given), by the exact top-k kernel; ``exclude[i]`` is a row never returned for vector i (-1: none)."""
        vectors = sp.csr_matrix(vectors, dtype=np.float32)
        if self._neighbour_postings is None:
            self._neighbour_postings = (self.kernel_postings if not self.expansion
                                        else term_postings(_inverted(self.matrix), self.matrix.shape[0]))
        n = vectors.shape[0]
        exclude = np.full(n, -1, dtype=np.int64) if exclude is None else np.asarray(exclude, dtype=np.int64)
        indices = np.full((n, m), -1, dtype=np.int64)
        scores = np.full((n, m), -np.inf, dtype=np.float32)
        groups = [None] if languages is None else sorted(set(languages))
        for language in groups:
            chosen = (np.arange(n) if language is None
                      else np.flatnonzero(np.asarray(languages, dtype=object) == language))
            hits = top_k(vectors[chosen], self._neighbour_postings, m, exclude=exclude[chosen],
                         mask=self.mask(language=language), n_threads=1)
            indices[chosen], scores[chosen] = hits.indices, hits.scores
        return Neighbours(indices, scores)

    def add(self, articles: Sequence[Article], matrix: sp.csr_matrix, copies: sp.csr_matrix | None = None) -> None:
        """Append new rows; an id already present is replaced (its old row is hidden).

        New rows search as themselves until :meth:`set_expanded` gives them expanded rows.
        """
        if not articles:
            return
        separate, expanded = self.copies is not self.matrix, self.expansion
        if separate and copies is None:
            raise ValueError("this index keeps body rows for duplicate detection: pass copies")
        for article in articles:
            if article.id in self.row_of:
                self.alive[self.row_of[article.id]] = False
        start = len(self.ids)
        self.matrix = sp.vstack([self.matrix, sp.csr_matrix(matrix, dtype=np.float32)], format="csr")
        self.copies = (sp.vstack([self.copies, sp.csr_matrix(copies, dtype=np.float32)], format="csr")
                       if separate else self.matrix)
        self.expanded = (sp.vstack([self.expanded, sp.csr_matrix(matrix, dtype=np.float32)], format="csr")
                         if expanded else self.matrix)
        self.ids.extend(a.id for a in articles)
        self.published = np.concatenate([self.published, [epoch_seconds(a.published_at) for a in articles]])
        self.sections = np.concatenate([self.sections, np.asarray([a.section or "" for a in articles], dtype=object)])
        self.languages = np.concatenate([self.languages, np.asarray([a.language for a in articles], dtype=object)])
        self.sites = np.concatenate([self.sites, np.asarray([site_of(a.url) for a in articles], dtype=object)])
        self.alive = np.concatenate([self.alive, np.ones(len(articles), dtype=bool)])
        self.row_of.update((a.id, start + i) for i, a in enumerate(articles))
        self._postings = self._kernel_postings = self._neighbour_postings = None
        self._language_rows = {}

    def vector(self, article_id: str) -> sp.csr_matrix:
        """The article's search row (expanded when the index is)."""
        return self.expanded[self.row_of[article_id]]

    def mask(self, *, language: str | None = None, section: str | None = None,
             published_after: float | None = None, exclude: Sequence[str] = ()) -> np.ndarray:
        """Rows allowed as candidates: alive, and matching the given filters."""
        allowed = self.alive.copy()
        if language is not None:
            if language not in self._language_rows:  # comparing an object array costs ~1 ms per 100k rows
                self._language_rows[language] = self.languages == language
            allowed &= self._language_rows[language]
        if section is not None:
            allowed &= self.sections == section.strip().lower()
        if published_after is not None:
            with np.errstate(invalid="ignore"):
                allowed &= self.published >= published_after
        rows = [self.row_of[i] for i in exclude if i in self.row_of]
        allowed[rows] = False
        return allowed

    def search(self, query: sp.csr_matrix, k: int, mask: np.ndarray | None = None, *,
               max_terms: int | None = None, pool: int | None = None) -> Neighbours:
        """Top-k rows by cosine for one query row, through the inverted postings; exact by default.

        With ``max_terms`` (More Like This keeps 25) only the query's strongest terms probe the
        postings; the best ``pool`` rows by that partial score (default ``4 k``) are then scored
        exactly, so returned scores are true cosines but a row may be missed: the loss is
        measured in ``scripts/bench_query.py`` and reported in docs/batch.md.
        """
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        query = sp.csr_matrix(query, dtype=np.float32)
        pruned = max_terms is not None and query.nnz > max_terms
        probe = prune_query(query, max_terms) if pruned else query
        scores = row_times(probe, self.postings)  # = (probe @ postings).toarray(), without the sparse result
        if mask is not None:
            scores[~mask] = 0.0
        rows = _best(scores, (pool or 4 * k) if pruned else k)
        if pruned:  # the live arithmetic of the full product, for the pool only
            exact = np.asarray((self.matrix[rows] @ query.T).todense(), dtype=np.float32).ravel()
            order = np.lexsort((rows, -exact))[:k]
            order = order[exact[order] > 0]
            rows, found = rows[order], exact[order]
        else:
            found = scores[rows]
        indices = np.full((1, k), -1, dtype=np.int64)
        values = np.full((1, k), -np.inf, dtype=np.float32)
        indices[0, : rows.size], values[0, : rows.size] = rows, found
        return Neighbours(indices, values)


def _inverted(rows: sp.csr_matrix) -> sp.csr_matrix:
    """Term -> rows postings (the transposed rows), sorted by row."""
    postings = rows.T.tocsr()
    postings.sort_indices()
    return postings


def prune_query(query: sp.csr_matrix, n_terms: int) -> sp.csr_matrix:
    """The row with only its ``n_terms`` largest weights (term order kept), e.g. More Like This's 25."""
    if n_terms < 1:
        raise ValueError(f"n_terms must be at least 1, got {n_terms}")
    query = sp.csr_matrix(query, dtype=np.float32)
    if query.nnz <= n_terms:
        return query
    keep = np.sort(np.argsort(-query.data, kind="stable")[:n_terms])
    return sp.csr_matrix((query.data[keep], query.indices[keep], np.array([0, n_terms])), shape=query.shape)


def _best(scores: np.ndarray, k: int) -> np.ndarray:
    """Rows of the k best positive scores, best first, ties by lower row."""
    candidates = np.flatnonzero(scores > 0)
    if candidates.size > k:
        kth = -np.partition(-scores[candidates], k - 1)[k - 1]
        candidates = candidates[scores[candidates] >= kth]
    return candidates[np.lexsort((candidates, -scores[candidates]))[:k]]
