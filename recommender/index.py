"""The searchable index: unit TF-IDF rows with their ids and filterable metadata, inverted postings, incremental add."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import numpy as np
import scipy.sparse as sp

from recommender.articles import Article, site_of
from recommender.cosine import Neighbours, Postings, Row, row_dots, term_postings, top_k
from recommender.expansion import strongest_terms

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
        self._postings: Postings | None = None
        self._neighbour_postings: Postings | None = None
        self._language_rows: dict[str, np.ndarray] = {}  # language -> boolean rows, built on first use

    @classmethod
    def from_articles(cls, articles: Sequence[Article], matrix: sp.csr_matrix,
                      copies: sp.csr_matrix | None = None) -> ArticleIndex:
        return cls(matrix, [a.id for a in articles], np.asarray([epoch_seconds(a.published_at) for a in articles]),
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
        self._postings = None

    @property
    def postings(self) -> Postings:
        """The search rows (``expanded``) inverted and tiled for the top-k kernel (``cosine.top_k``); built on
        first use unless an artifact brought them (:meth:`attach_postings`)."""
        if self._postings is None:
            self._postings = inverted_postings(self.expanded)
        return self._postings

    @property
    def neighbour_postings(self) -> Postings:
        """The article vectors (``matrix``) inverted, for finding neighbours to expand with: the search postings
        when there is no expansion; built on first use unless attached."""
        if self._neighbour_postings is None:
            self._neighbour_postings = (self.postings if not self.expansion
                                        else inverted_postings(self.matrix))
        return self._neighbour_postings

    def attach_postings(self, search: Postings, neighbours: Postings | None = None) -> None:
        """Search with postings inverted elsewhere (a saved artifact's, memory-mapped, so server workers share
        them and none inverts the rows again); ``neighbours`` None: built on first use as before."""
        for name, given in (("search", search), ("neighbour", neighbours)):
            if given is not None and (given.n_rows, given.n_terms) != self.matrix.shape:
                raise ValueError(f"{name} postings cover {given.n_rows} x {given.n_terms}, the index is "
                                 f"{self.matrix.shape[0]} x {self.matrix.shape[1]}")
        self._postings = search
        self._neighbour_postings = neighbours if self.expansion else None

    def nearest(self, vectors: sp.csr_matrix, m: int, languages: Sequence[str] | None, *,
                exclude: np.ndarray | None = None, n_threads: int | None = None) -> Neighbours:
        """Each article vector's ``m`` nearest live article vectors (of its language, when ``languages`` are
        given), by the exact top-k kernel; ``exclude[i]`` is a row never returned for vector i (-1: none).
        ``n_threads`` goes to the kernel (default: all cores)."""
        vectors = sp.csr_matrix(vectors, dtype=np.float32)
        n = vectors.shape[0]
        exclude = np.full(n, -1, dtype=np.int64) if exclude is None else np.asarray(exclude, dtype=np.int64)
        indices = np.full((n, m), -1, dtype=np.int64)
        scores = np.full((n, m), -np.inf, dtype=np.float32)
        groups = [None] if languages is None else sorted(set(languages))
        for language in groups:
            chosen = (np.arange(n) if language is None
                      else np.flatnonzero(np.asarray(languages, dtype=object) == language))
            hits = top_k(vectors[chosen], self.neighbour_postings, m, exclude=exclude[chosen],
                         mask=self.mask(language=language), n_threads=n_threads)
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
        self._postings = self._neighbour_postings = None
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

    def search(self, queries: sp.csr_matrix | Row, k: int, mask: np.ndarray | None = None, *,
               exclude: np.ndarray | None = None, max_terms: int | None = None, pool: int | None = None,
               n_threads: int | None = 1) -> Neighbours:
        """Top-k search rows by cosine for a block of query rows (a live query is a block of one), through the
        one top-k kernel; exact by default. ``exclude[i]`` is a row never returned for query i.

        With ``max_terms`` (More Like This keeps 25) only each query's strongest terms probe the
        postings; the best ``pool`` rows by that partial score (default ``4 k``) are then scored
        exactly, so returned scores are true cosines but a row may be missed: the loss is
        measured in ``scripts/bench_query.py`` and reported in docs/batch.md.
        """
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        if max_terms is None or _longest_row(queries) <= max_terms:  # nothing to prune: the exact search
            return top_k(queries, self.postings, k, exclude=exclude, mask=mask, n_threads=n_threads)
        queries = sp.csr_matrix(queries.csr() if isinstance(queries, Row) else queries, dtype=np.float32)
        probes = top_k(prune_rows(queries, max_terms), self.postings, pool or 4 * k, exclude=exclude, mask=mask,
                       n_threads=n_threads)
        indices = np.full((queries.shape[0], k), -1, dtype=np.int64)
        values = np.full((queries.shape[0], k), -np.inf, dtype=np.float32)
        for i, found in enumerate(probes.indices):
            rows = found[found >= 0]
            exact = row_dots(self.expanded, rows, queries[i])
            order = np.lexsort((rows, -exact))[:k]
            order = order[exact[order] > 0]
            indices[i, : order.size], values[i, : order.size] = rows[order], exact[order]
        return Neighbours(indices, values)


def _longest_row(queries: sp.csr_matrix | Row) -> int:
    """The most terms any query row has."""
    if isinstance(queries, Row):
        return queries.nnz
    return int(np.diff(sp.csr_matrix(queries).indptr).max(initial=0))


def inverted_postings(rows: sp.csr_matrix) -> Postings:
    """The index's own (canonical) rows inverted term -> rows, sorted by row, and tiled for the top-k kernel:
    without the copy and checks ``cosine.postings`` makes of rows from elsewhere."""
    by_term = rows.T.tocsr()
    by_term.sort_indices()
    return term_postings(by_term, rows.shape[0])


def prune_rows(rows: sp.csr_matrix, n_terms: int) -> sp.csr_matrix:
    """Each row with only its ``n_terms`` largest weights (term order kept), e.g. More Like This's 25."""
    if n_terms < 1:
        raise ValueError(f"n_terms must be at least 1, got {n_terms}")
    rows = sp.csr_matrix(rows, dtype=np.float32)
    rows.sort_indices()
    return strongest_terms(rows, np.full(rows.shape[0], n_terms))
