"""Rankers the harness can run: the baselines and an adapter for the engine, one contract.

Contract (every ranker passes ``tests/test_evaluation_rankers.py``):

* ``fit(articles) -> self``: learns from the articles only (their visible Read-also links included);
* ``rank(query_id, k) -> Ranking`` (its ``ids`` and ``scores``): at most ``k`` other article ids, scores
  non-increasing, never the query itself; deterministic for a given fit;
* ``score(query_id, candidate_ids) -> np.ndarray``: a score per candidate (higher = more related),
  used to order MIND impressions;
* ``similarity(text_a, text_b) -> float`` where it makes sense (STS); otherwise ``NotImplementedError``.
"""

from __future__ import annotations

import logging
import math
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np
from sklearn.exceptions import NotFittedError
from sklearn.feature_extraction.text import TfidfVectorizer

from recommender.articles import Article
from recommender.cosine import all_pairs_top_k
from recommender.expansion import expand
from recommender.ranking import Ranking

__all__ = ["Ranker", "RandomRanker", "MostRecentRanker", "MostLinkedRanker", "PlainTfidfRanker",
           "BM25MLTRanker", "article_text", "mlt_terms"]


def article_text(article: Article) -> str:
    """Title + " " + text, the document every text baseline sees."""
    return f"{article.headline} {article.body}"


class Ranker:
    """Shared plumbing: the id -> row map, argument checks and a fallback ``score``."""

    name = "ranker"

    def fit(self, articles: Iterable[Article]):
        self.articles_ = list(articles)
        if not self.articles_:
            raise ValueError("fit needs at least one article, got none")
        self.rows_ = {article.id: row for row, article in enumerate(self.articles_)}
        self._fit()
        return self

    def _fit(self):
        """Subclasses learn here, after ``articles_`` and ``rows_`` are set."""

    def _row(self, query_id: str) -> int:
        if not hasattr(self, "rows_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted yet; call fit(articles) first")
        try:
            return self.rows_[query_id]
        except KeyError:
            raise KeyError(f"unknown article id {query_id!r}") from None

    @staticmethod
    def _check_k(k: int) -> int:
        if not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        return int(k)

    def rank(self, query_id: str, k: int = 10) -> Ranking:
        raise NotImplementedError

    def _scores(self, query_id: str) -> np.ndarray | None:
        """A score for every fitted article, when the ranker has them (else ``None``)."""
        return None

    def score(self, query_id: str, candidate_ids: Sequence[str]) -> np.ndarray:
        """Scores of given candidates; items the ranking leaves out score below every ranked one."""
        full = self._scores(query_id)
        if full is not None:
            return np.array([full[self.rows_[c]] for c in candidate_ids], dtype=float)
        ranked = self.rank(query_id, k=max(1, len(self.articles_) - 1))
        lookup = dict(zip(ranked.ids, ranked.scores.tolist()))
        floor = (min(lookup.values()) - 1.0) if lookup else 0.0
        return np.array([lookup.get(c, floor) for c in candidate_ids], dtype=float)

    def similarity(self, text_a: str, text_b: str) -> float:
        raise NotImplementedError(f"{self.name} has no text-to-text similarity")

    def _ordered(self, scores: np.ndarray, query_row: int, k: int, *, positive_only: bool) -> Ranking:
        """Top k rows by score, ties by lower row, the query row excluded."""
        scores = np.asarray(scores, dtype=float).copy()
        scores[query_row] = -np.inf
        keep = np.flatnonzero(scores > 0) if positive_only else np.flatnonzero(np.isfinite(scores))
        order = keep[np.lexsort((keep, -scores[keep]))][:k]
        return Ranking.from_scores([self.articles_[row].id for row in order], scores[order])


class RandomRanker(Ranker):
    """Uniformly random order, seeded per query so reruns agree."""

    name = "random"

    def __init__(self, *, seed: int = 0):
        self.seed = seed

    def _scores(self, query_id):
        self._row(query_id)
        rng = np.random.default_rng([self.seed, zlib.crc32(query_id.encode("utf-8"))])
        return rng.random(len(self.articles_))

    def rank(self, query_id, k=10):
        row, k = self._row(query_id), self._check_k(k)
        return self._ordered(self._scores(query_id), row, k, positive_only=False)


class MostRecentRanker(Ranker):
    """Newest articles published up to the query's time (all dated ones when the query has no date)."""

    name = "most-recent"

    def _fit(self):
        self.timestamps_ = np.array([a.published_at.timestamp() if a.published_at else -np.inf
                                     for a in self.articles_])

    def _scores(self, query_id):
        row = self._row(query_id)
        scores = self.timestamps_.copy()
        if np.isfinite(scores[row]):
            scores[scores > scores[row]] = -np.inf
        return scores

    def rank(self, query_id, k=10):
        row, k = self._row(query_id), self._check_k(k)
        return self._ordered(self._scores(query_id), row, k, positive_only=False)


class MostLinkedRanker(Ranker):
    """Popularity among editors: articles most often the target of a visible Read-also link.

    Ties (including all the never-linked articles) go to the newer article, then corpus order.
    """

    name = "most-linked"

    def _fit(self):
        counts = Counter(link.target_id for a in self.articles_ for link in a.read_also
                         if link.target_id in self.rows_)
        self.in_links_ = np.array([counts.get(a.id, 0) for a in self.articles_], dtype=float)
        times = np.array([a.published_at.timestamp() if a.published_at else 0.0 for a in self.articles_])
        spread = times.max() - times.min() if times.size else 0.0
        recency = (times - times.min()) / spread if spread > 0 else np.zeros_like(times)
        self.scores_ = self.in_links_ + 0.5 * recency  # recency only breaks ties: < 1 link

    def _scores(self, query_id):
        self._row(query_id)
        return self.scores_

    def rank(self, query_id, k=10):
        row, k = self._row(query_id), self._check_k(k)
        return self._ordered(self.scores_, row, k, positive_only=False)


class PlainTfidfRanker(Ranker):
    """Cosine over ``TfidfVectorizer()`` with scikit-learn defaults on title + " " + text."""

    name = "tfidf"

    def _fit(self):
        self.vectorizer_ = TfidfVectorizer()
        self.matrix_ = self.vectorizer_.fit_transform(article_text(a) for a in self.articles_).tocsr()

    def _scores(self, query_id):
        # a plain sparse dot product (rows are L2-normalised), independent of the engine's top-k code
        row = self._row(query_id)
        return (self.matrix_ @ self.matrix_[row].T).toarray().ravel()

    def rank(self, query_id, k=10):
        row, k = self._row(query_id), self._check_k(k)
        return self._ordered(self._scores(query_id), row, k, positive_only=True)

    def similarity(self, text_a, text_b):
        if not hasattr(self, "vectorizer_"):
            raise NotFittedError("PlainTfidfRanker is not fitted yet; call fit(articles) first")
        vectors = self.vectorizer_.transform([text_a, text_b])
        return float((vectors[0] @ vectors[1].T).toarray()[0, 0])


class TunedTfidfRanker(PlainTfidfRanker):
    """Cosine over a tuned ``TfidfVectorizer``: sublinear tf, English stop words, 1-2-grams, ``max_df=0.5``.

    With ``expansion`` (``tfidf-tuned+expansion``) each vector, the query's included, is blended with
    its ``expansion`` nearest neighbours weighted by cosine and renormalised
    (:func:`recommender.expansion.expand`): the strongest simple baseline a retrieval engineer would try.
    """

    def __init__(self, *, expansion: int = 0):
        self.expansion = expansion
        self.name = "tfidf-tuned+expansion" if expansion else "tfidf-tuned"

    def _fit(self):
        self.vectorizer_ = TfidfVectorizer(sublinear_tf=True, stop_words="english", ngram_range=(1, 2), max_df=0.5)
        matrix = self.vectorizer_.fit_transform(article_text(a) for a in self.articles_).tocsr()
        if self.expansion:
            near = all_pairs_top_k(matrix.astype(np.float32), self.expansion)
            matrix = expand(matrix, matrix, near.indices, near.scores, max_terms=None)
        self.matrix_ = matrix


def mlt_terms(term_counts: Counter, doc_freq: dict, n_docs: int, *, max_query_terms: int = 25,
              min_term_freq: int = 2, min_doc_freq: int = 5) -> list[str]:
    """Elasticsearch/Lucene More Like This term selection.

    Each term of the document scores ``tf * idf`` with Lucene's classic ``idf = 1 + ln(N / (df + 1))``;
    terms rarer than ``min_term_freq`` in the document or ``min_doc_freq`` in the corpus are skipped
    (ES defaults 2 and 5); the ``max_query_terms`` best (ties alphabetical) form the query.
    """
    scored = []
    for term, tf in term_counts.items():
        df = doc_freq.get(term, 0)
        if tf >= min_term_freq and df >= min_doc_freq:
            scored.append((-(tf * (1.0 + math.log(n_docs / (df + 1)))), term))
    return [term for _, term in sorted(scored)[:max_query_terms]]


class BM25MLTRanker(Ranker):
    """BM25 (bm25s, Lucene variant, ES defaults k1=1.2, b=0.75) queried More-Like-This style.

    The query is the article's ``max_query_terms`` strongest terms (:func:`mlt_terms`); a short
    article with no term passing ``min_term_freq`` falls back to ``min_term_freq=1`` rather than
    to an empty query.
    """

    name = "bm25-mlt"

    def __init__(self, *, max_query_terms: int = 25, min_term_freq: int = 2, min_doc_freq: int = 5,
                 k1: float = 1.2, b: float = 0.75):
        self.max_query_terms = max_query_terms
        self.min_term_freq = min_term_freq
        self.min_doc_freq = min_doc_freq
        self.k1 = k1
        self.b = b

    def _fit(self):
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)  # bm25s sets its logger to DEBUG on import
        tokens = bm25s.tokenize([article_text(a) for a in self.articles_], stopwords="en",
                                return_ids=False, show_progress=False)
        self.doc_terms_ = [Counter(doc) for doc in tokens]
        self.doc_freq_ = Counter(term for counts in self.doc_terms_ for term in counts)
        self.index_ = bm25s.BM25(k1=self.k1, b=self.b, method="lucene")
        self.index_.index(tokens, show_progress=False)
        self.vocab_ = set(self.doc_freq_)

    def query_terms(self, query_id: str) -> list[str]:
        counts = self.doc_terms_[self._row(query_id)]
        options = dict(max_query_terms=self.max_query_terms, min_doc_freq=self.min_doc_freq)
        terms = mlt_terms(counts, self.doc_freq_, len(self.articles_), min_term_freq=self.min_term_freq, **options)
        if not terms:
            terms = mlt_terms(counts, self.doc_freq_, len(self.articles_), min_term_freq=1, **options)
        return terms

    def _scores(self, query_id):
        terms = self.query_terms(query_id)
        if not terms:
            return np.zeros(len(self.articles_))
        return np.asarray(self.index_.get_scores(terms), dtype=float)

    def rank(self, query_id, k=10):
        row, k = self._row(query_id), self._check_k(k)
        return self._ordered(self._scores(query_id), row, k, positive_only=True)
