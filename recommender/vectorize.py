"""Field-weighted TF-IDF: headline, body and link text share one fitted vocabulary and IDF."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize
from sklearn.utils.validation import check_is_fitted

from recommender.articles import Article
from recommender.tokenize import Analyzer

FIELDS = ("headline", "lead", "body", "read_also", "anchors")
DEFAULT_WEIGHTS = {"headline": 0.3, "lead": 0.0, "body": 1.0, "read_also": 0.0, "anchors": 0.0}
"""Each field's weight unless a configuration says otherwise (the engine's defaults: headline 0.3 and no
separate lead, measured on news-events among 20,000 distractors; see docs/evaluation.md)."""
LEAD_WORDS = 60
SMALL_CORPUS = 20
"""Below this many documents ``fit`` keeps every term: document-frequency cuts would leave too few."""
log = logging.getLogger(__name__)


def field_texts(article: Article, anchors: Sequence[str] = ()) -> dict[str, str]:
    """The text of each field of an article; ``anchors`` are headlines other articles use to link to it."""
    words = article.body.split()
    return {
        "headline": article.headline,
        "lead": " ".join(words[:LEAD_WORDS]),
        "body": article.body,
        "read_also": " ".join(link.headline for link in article.read_also),
        "anchors": " ".join(anchors),
    }


def combine(fields: Mapping[str, sp.csr_matrix], weights: Mapping[str, float]) -> sp.csr_matrix:
    """Weighted sum of per-field unit rows, renormalised to unit length (float32 CSR)."""
    total = None
    for name, matrix in fields.items():
        weight = weights.get(name, 0.0)
        if weight:
            total = matrix * weight if total is None else total + matrix * weight
    if total is None:
        raise ValueError(f"at least one field weight must be positive, got {dict(weights)}")
    return normalize(sp.csr_matrix(total, dtype=np.float32)).astype(np.float32)


class FieldVectorizer(BaseEstimator):
    """TF-IDF per field on one vocabulary fitted on headline + body, combined by field weights.

    Parameters are stored as given; ``fit`` learns ``vocabulary_`` and ``idf_``, and records the
    document-frequency cuts it applied as ``min_df_`` and ``max_df_``: none (1 and 1.0, with a logged
    warning) below :data:`SMALL_CORPUS` documents or when the given cuts would leave no term.
    """

    def __init__(self, *, weights: Mapping[str, float] | None = None, min_df: int | float = 2,
                 max_df: float = 0.5, sublinear_tf: bool = True, max_features: int | None = None):
        self.weights = weights
        self.min_df = min_df
        self.max_df = max_df
        self.sublinear_tf = sublinear_tf
        self.max_features = max_features

    @property
    def field_weights(self) -> dict[str, float]:
        return {**DEFAULT_WEIGHTS, **(self.weights or {})}

    def fit(self, articles: Sequence[Article]) -> FieldVectorizer:
        documents = [(f"{a.headline}\n{a.body}", a.language) for a in articles]
        if not documents:
            raise ValueError("cannot fit on an empty corpus")
        self.min_df_, self.max_df_ = self.min_df, self.max_df
        if len(documents) < SMALL_CORPUS:
            self._keep_every_term(f"{len(documents)} documents (fewer than {SMALL_CORPUS})")
        tfidf = self._tfidf(min_df=self.min_df_, max_df=self.max_df_)
        try:
            tfidf.fit(documents)
        except ValueError:
            self._keep_every_term(f"no term left after the cuts on {len(documents)} documents")
            tfidf = self._tfidf(min_df=self.min_df_, max_df=self.max_df_).fit(documents)
        self._tfidf_ = tfidf
        self.vocabulary_ = {term: int(col) for term, col in tfidf.vocabulary_.items()}
        self.idf_ = tfidf.idf_.astype(np.float32)
        return self

    def _keep_every_term(self, why: str) -> None:
        if (self.min_df_, self.max_df_) != (1, 1.0):
            log.warning("vectorizer: %s; min_df=%s and max_df=%s are not applied, every term is kept",
                        why, self.min_df_, self.max_df_)
        self.min_df_, self.max_df_ = 1, 1.0

    def transform_fields(self, articles: Sequence[Article],
                         anchors: Sequence[Sequence[str]] | None = None) -> dict[str, sp.csr_matrix]:
        """Unit-length TF-IDF rows of each field with a positive weight."""
        check_is_fitted(self, "idf_")
        anchors = anchors if anchors is not None else [()] * len(articles)
        texts = [field_texts(a, links) for a, links in zip(articles, anchors)]
        return {
            name: self._tfidf_.transform([(t[name], a.language) for t, a in zip(texts, articles)]).astype(np.float32)
            for name, weight in self.field_weights.items() if weight
        }

    def transform(self, articles: Sequence[Article], anchors: Sequence[Sequence[str]] | None = None) -> sp.csr_matrix:
        """Article vectors: the weighted, renormalised sum of their field vectors."""
        return combine(self.transform_fields(articles, anchors), self.field_weights)

    def transform_text(self, text: str, language: str = "en") -> sp.csr_matrix:
        """One unit-length TF-IDF row for plain text (headline similarity, reasons)."""
        return self.transform_texts([text], [language])

    def transform_copies(self, articles: Sequence[Article]) -> sp.csr_matrix:
        """Unit rows of each article's body (its headline when the body is empty), for finding wire copies."""
        return self.transform_texts([a.body if a.body.strip() else a.headline for a in articles],
                                    [a.language for a in articles])

    def transform_texts(self, texts: Sequence[str], languages: Sequence[str]) -> sp.csr_matrix:
        """Unit-length TF-IDF rows for many plain texts at once (an empty text gives an all-zero row)."""
        check_is_fitted(self, "idf_")
        return self._tfidf_.transform(list(zip(texts, languages))).astype(np.float32)

    @property
    def terms_(self) -> np.ndarray:
        terms = np.empty(len(self.vocabulary_), dtype=object)
        for term, col in self.vocabulary_.items():
            terms[col] = term
        return terms

    def get_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        """JSON-able parameters and arrays that rebuild this fitted vectorizer without pickle."""
        check_is_fitted(self, "idf_")
        params = {"weights": self.field_weights, "min_df": self.min_df, "max_df": self.max_df,
                  "sublinear_tf": self.sublinear_tf, "max_features": self.max_features,
                  "vocabulary": self.vocabulary_}
        return params, {"idf": self.idf_}

    @classmethod
    def from_state(cls, params: dict, arrays: Mapping[str, np.ndarray]) -> FieldVectorizer:
        vectorizer = cls(weights=params["weights"], min_df=params["min_df"], max_df=params["max_df"],
                         sublinear_tf=params["sublinear_tf"], max_features=params["max_features"])
        vectorizer.vocabulary_ = {term: int(col) for term, col in params["vocabulary"].items()}
        vectorizer.idf_ = np.asarray(arrays["idf"], dtype=np.float32)
        tfidf = vectorizer._tfidf(min_df=1, max_df=1.0, vocabulary=vectorizer.vocabulary_)
        tfidf.idf_ = vectorizer.idf_.astype(np.float64)
        vectorizer._tfidf_ = tfidf
        return vectorizer

    def _tfidf(self, **overrides) -> TfidfVectorizer:
        options = dict(analyzer=Analyzer(), sublinear_tf=self.sublinear_tf, max_features=self.max_features,
                       dtype=np.float32)
        return TfidfVectorizer(**{**options, **overrides})


__all__ = ["FIELDS", "FieldVectorizer", "combine", "field_texts"]
