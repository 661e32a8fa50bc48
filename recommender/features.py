"""Pair features for the link model: pure functions of an (article, candidates) pair, plus the link graph.

Every function takes the query's values and arrays over candidate rows and returns one float
array (one value per candidate), so each can be tested alone with a hand-computed answer.
``pair_features`` stacks them in the column order of :data:`FEATURES`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

from recommender.cosine import Row, row_dots
from recommender.ranking import SECONDS_PER_DAY

FEATURES = ("relatedness", "cosine", "headline", "body", "link_query", "link_candidate", "near_duplicate",
            "recency", "same_section", "same_site", "popularity", "trending", "colinking")
"""Columns of the pair-feature matrix, in order. Time enters only as the distance between the two
articles' dates (``recency``, the same either way): an editor can link only to what was already
published, so a feature that told later from earlier would learn that constraint, not a taste."""

SIGNAL_FEATURES = {
    "link_text": ("link_query", "link_candidate"),
    "freshness": ("recency",),
    "popularity": ("popularity", "trending"),
    "colinking": ("colinking",),
}
"""Feature groups an ablation can switch off (``EngineConfig.SIGNALS``)."""

MODEL_FIELDS = ("headline", "body", "links")
"""Per-field unit TF-IDF rows the features need; ``links`` is an article's own Read-also headlines
plus the anchor headlines other articles use when they link to it."""

RECENCY_HALF_LIFE_DAYS = 7.0
TRENDING_WINDOW_DAYS = 7.0


class Query(NamedTuple):
    """What the features know about the article a ranking is for."""

    vector: Row  # the engine's combined unit row
    fields: Mapping[str, Row]  # name -> unit row (may be all zero)
    published: float = np.nan  # epoch seconds, nan when unknown
    section: str = ""
    row: int | None = None  # its row in the index, None for unseen text
    id: str | None = None
    site: str = ""  # its publication (URL host), "" when unknown
    expanded: Row | None = None  # search row (neighbour-expanded); None: ``vector``

    @property
    def search_vector(self) -> Row:
        """The row candidates are searched and their relatedness scored with."""
        return self.vector if self.expanded is None else self.expanded


# -- pure feature functions -------------------------------------------------------------------
def age_days(query_published: float, published: np.ndarray) -> np.ndarray:
    """How many days each candidate is older than the query (negative: newer); nan when unknown."""
    return (float(query_published) - np.asarray(published, dtype=np.float64)) / SECONDS_PER_DAY


def recency(age: np.ndarray, half_life_days: float = RECENCY_HALF_LIFE_DAYS) -> np.ndarray:
    """1 for a candidate published with the query, halving every ``half_life_days`` either way; nan if unknown
    (the model reads an unknown value as the average one, see :class:`recommender.model.LinkModel`)."""
    return np.power(0.5, np.abs(np.asarray(age, dtype=np.float64)) / half_life_days)


def same_section(query_section: str | None, sections: np.ndarray) -> np.ndarray:
    """1 where the candidate's section equals the query's (both known), else 0."""
    if not query_section:
        return np.zeros(len(sections))
    return (np.asarray(sections, dtype=object) == query_section).astype(np.float64)


def same_site(query_site: str | None, sites: np.ndarray) -> np.ndarray:
    """1 where the candidate comes from the query's publication (URL host), 0 where it does not; nan where
    either is unknown (text that is not stored, an article without a URL).

    A publisher's editors link to their own stories: in an archive of several outlets, a
    candidate from another one is rarely a pick however close its text.
    """
    sites = np.asarray(sites, dtype=object)
    if not query_site:
        return np.full(len(sites), np.nan)
    return np.where(sites == "", np.nan, (sites == query_site).astype(np.float64))


def near_duplicate(cosine: np.ndarray, threshold: float) -> np.ndarray:
    """1 where the cosine reaches the near-duplicate threshold."""
    return (np.asarray(cosine, dtype=np.float64) >= threshold).astype(np.float64)


def log_count(counts: np.ndarray) -> np.ndarray:
    """``log(1 + count)``: link counts with diminishing returns."""
    return np.log1p(np.asarray(counts, dtype=np.float64))


# -- the link graph ---------------------------------------------------------------------------
class LinkGraph:
    """Resolved Read-also links between index rows: ``adjacency[s, t] = 1`` when article s links to t."""

    def __init__(self, adjacency: sp.csr_matrix, published: np.ndarray):
        adjacency = sp.csr_matrix(adjacency, dtype=np.float32)
        if adjacency.shape[0] != adjacency.shape[1] or adjacency.shape[0] != len(published):
            raise ValueError(f"adjacency must be n x n with n = {len(published)} rows, got {adjacency.shape}")
        adjacency.data[:] = 1.0
        self.adjacency = adjacency
        self.published = np.asarray(published, dtype=np.float64)
        self._inbound = None
        self._in_counts: np.ndarray | None = None  # in-links per row, built on first use
        self._by_time: tuple[np.ndarray, np.ndarray] | None = None  # (source published, target) by source time
        self._ranked: np.ndarray | None = None  # linked rows by in-links, built on first use

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[int, int]], published: np.ndarray) -> LinkGraph:
        pairs = [(s, t) for s, t in pairs if s != t]
        n = len(published)
        sources = np.asarray([s for s, _ in pairs], dtype=np.int64)
        targets = np.asarray([t for _, t in pairs], dtype=np.int64)
        adjacency = sp.csr_matrix((np.ones(len(pairs), dtype=np.float32), (sources, targets)), shape=(n, n))
        adjacency.sum_duplicates()
        return cls(adjacency, published)

    def __len__(self) -> int:
        return int(self.adjacency.nnz)

    def pairs(self) -> list[tuple[int, int]]:
        coo = self.adjacency.tocoo()
        return sorted(zip(coo.row.tolist(), coo.col.tolist()))

    def grow(self, published: np.ndarray, pairs: Iterable[tuple[int, int]] = ()) -> LinkGraph:
        """A graph over more rows (``published`` of all of them) with extra links added."""
        return LinkGraph.from_pairs([*self.pairs(), *pairs], published)

    @property
    def inbound(self) -> sp.csr_matrix:
        """Target -> sources (the transposed adjacency)."""
        if self._inbound is None:
            self._inbound = self.adjacency.T.tocsr()
        return self._inbound

    @property
    def linked_rows(self) -> np.ndarray:
        """Rows with at least one in-link, ascending."""
        return np.flatnonzero(self._in_links_of_all())

    def _in_links_of_all(self) -> np.ndarray:
        if self._in_counts is None:
            self._in_counts = np.asarray(self.inbound.getnnz(axis=1), dtype=np.float64)
        return self._in_counts

    def in_links(self, rows: np.ndarray) -> np.ndarray:
        """How many articles link to each row (editors' popularity)."""
        return self._in_links_of_all()[rows]

    def trending(self, moment: float, rows: np.ndarray, window_days: float = TRENDING_WINDOW_DAYS) -> np.ndarray:
        """Links into each row from articles published within ``window_days`` before ``moment`` (0 if unknown)."""
        if np.isnan(moment) or self.adjacency.nnz == 0:
            return np.zeros(len(rows))
        start, stop = self._window(moment, window_days)
        return _count_in(self._links_by_time()[1][start:stop], rows)

    def _links_by_time(self) -> tuple[np.ndarray, np.ndarray]:
        """(source published, target) of every link, ordered by source time (undated last)."""
        if self._by_time is None:
            sources = np.repeat(np.arange(self.adjacency.shape[0]), np.diff(self.adjacency.indptr))
            order = np.argsort(self.published[sources], kind="stable")
            self._by_time = self.published[sources][order], self.adjacency.indices[order].astype(np.int64)
        return self._by_time

    def _window(self, moment: float, window_days: float) -> tuple[int, int]:
        """The slice of the links ordered by source time whose source is published in (moment - window, moment]."""
        times = self._links_by_time()[0]
        start, stop = np.searchsorted(times, [moment - window_days * SECONDS_PER_DAY, moment], side="right")
        return int(start), int(stop)

    def favourites(self, moment: float, allowed: np.ndarray, n: int) -> np.ndarray:
        """Up to ``n`` rows ``allowed`` (a boolean array over rows) in the order editors favour them around
        ``moment``: trending first (most links from the last ``TRENDING_WINDOW_DAYS``), then all-time in-links,
        then lower row. Costs the links of the window and the head of the all-time order, not the archive."""
        start, stop = (0, 0) if np.isnan(moment) else self._window(moment, TRENDING_WINDOW_DAYS)
        targets, counts = np.unique(self._links_by_time()[1][start:stop], return_counts=True)
        trending = targets[np.lexsort((targets, -self.in_links(targets), -counts))]
        chosen = [trending[allowed[trending]][:n]]
        missing, ranked, head = n - chosen[0].size, self._by_in_links(), 0
        while missing > 0 and head < ranked.size:  # the rest by all-time in-links, a growing slice at a time
            part = ranked[head:head + 4 * n + head]
            head += part.size
            part = part[allowed[part] & ~_members(targets, part)][:missing]
            chosen.append(part)
            missing -= part.size
        return np.concatenate(chosen)

    def _by_in_links(self) -> np.ndarray:
        """Every linked row by in-links, most first, then lower row."""
        if self._ranked is None:
            rows = self.linked_rows
            self._ranked = rows[np.lexsort((rows, -self.in_links(rows)))]
        return self._ranked

    def linked(self, row: int | None, rows: np.ndarray) -> np.ndarray:
        """For each of ``rows``, whether it and ``row`` link to each other (either way)."""
        rows = np.asarray(rows, dtype=np.int64)
        if row is None or self.adjacency.nnz == 0:
            return np.zeros(rows.size, dtype=bool)
        out = self.adjacency.indices[self.adjacency.indptr[row]:self.adjacency.indptr[row + 1]]
        into = self.inbound.indices[self.inbound.indptr[row]:self.inbound.indptr[row + 1]]
        return _members(np.sort(np.concatenate([out, into])), rows)

    def colinking(self, row: int | None, rows: np.ndarray) -> np.ndarray:
        """For each candidate, how many articles link to both it and the query row (co-citation)."""
        if row is None or self.adjacency.nnz == 0:
            return np.zeros(len(rows))
        sources = self.inbound.indices[self.inbound.indptr[row]:self.inbound.indptr[row + 1]]
        if sources.size == 0:
            return np.zeros(len(rows))
        indptr, indices = self.adjacency.indptr, self.adjacency.indices
        targets = np.concatenate([indices[indptr[s]:indptr[s + 1]] for s in sources.tolist()])
        return _count_in(targets, rows)


def _members(ascending: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """For each of ``rows``, whether it occurs in ``ascending`` (sorted): ``np.isin`` for a few rows, without its
    set machinery."""
    if ascending.size == 0:
        return np.zeros(len(rows), dtype=bool)
    at = np.minimum(np.searchsorted(ascending, rows), ascending.size - 1)
    return ascending[at] == rows


def _count_in(values: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """How often each of ``rows`` occurs in ``values`` (float64), without an array over all rows."""
    values = np.sort(values)
    rows = np.asarray(rows, dtype=np.int64)
    return (np.searchsorted(values, rows, side="right") - np.searchsorted(values, rows, side="left")).astype(np.float64)


def pair_features(query: Query, rows: np.ndarray, *, matrix: sp.csr_matrix, fields: Mapping[str, sp.csr_matrix],
                  published: np.ndarray, sections: np.ndarray, graph: LinkGraph,
                  duplicate_threshold: float, sites: np.ndarray | None = None,
                  expanded: sp.csr_matrix | None = None, relatedness: np.ndarray | None = None) -> np.ndarray:
    """The ``len(rows) x len(FEATURES)`` feature matrix of (query, candidate row) pairs.

    ``expanded`` are the search rows (``matrix`` when there is no expansion); ``sites`` None: none known;
    ``relatedness`` the rows' search scores when the caller has them (the same values, not computed twice).
    """
    rows = np.asarray(rows, dtype=np.int64)

    def dots(field: sp.csr_matrix, row: Row | None) -> np.ndarray:  # the cosines of the query's row with the rows'
        return row_dots(field, rows, row).astype(np.float64)

    cosine = dots(matrix, query.vector)
    age = age_days(query.published, published[rows])
    columns = {
        "relatedness": (cosine if expanded is None else dots(expanded, query.search_vector)) if relatedness is None
        else np.asarray(relatedness, dtype=np.float64),
        "cosine": cosine,
        "headline": dots(fields["headline"], query.fields.get("headline")),
        "body": dots(fields["body"], query.fields.get("body")),
        "link_query": dots(matrix, query.fields.get("links")),
        "link_candidate": dots(fields["links"], query.vector),
        "near_duplicate": near_duplicate(cosine, duplicate_threshold),
        "recency": recency(age),
        "same_section": same_section(query.section, sections[rows]),
        "same_site": np.full(len(rows), np.nan) if sites is None else same_site(query.site, sites[rows]),
        "popularity": log_count(graph.in_links(rows)),
        "trending": log_count(graph.trending(query.published, rows)),
        "colinking": log_count(graph.colinking(query.row, rows)),
    }
    return np.column_stack([columns[name] for name in FEATURES]).astype(np.float64)


__all__ = ["FEATURES", "SIGNAL_FEATURES", "MODEL_FIELDS", "Query", "LinkGraph", "pair_features",
           "age_days", "recency", "same_section", "same_site", "near_duplicate", "log_count"]
