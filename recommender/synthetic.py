"""Synthetic news corpora: a Zipfian vocabulary, documents of 200-600 tokens, planted story clusters.

Token ids are drawn with numpy and counted straight into a CSR matrix (no Python strings), so a
million documents take about a minute. ``texts`` renders the same documents as pseudo-words for
the pipelines that start from raw text.

Model: rank ``r`` of the vocabulary has probability ~ 1 / (r + 1) ** zipf_exponent. The first
``n_stop_words`` ranks stand for the function words a stop list removes; they are never emitted
into the matrix. Documents belong to stories; a story owns ``story_terms`` words of mid frequency,
and each document of the story draws ``story_share`` of its tokens from them, the rest from the
global Zipf law. ``labels`` is the story of each document, the ground truth for "related".
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import scipy.sparse as sp


class Corpus(NamedTuple):
    counts: sp.csr_matrix  # (n_docs, vocab_size) int32 term counts, stop words dropped
    labels: np.ndarray  # (n_docs,) int64 story id


def generate_counts(n_docs: int, *, vocab_size: int = 100_000, zipf_exponent: float = 1.05,
                    min_tokens: int = 200, max_tokens: int = 600, docs_per_story: float = 20.0,
                    story_terms: int = 40, story_share: float = 0.15, n_stop_words: int = 150,
                    seed: int = 0, chunk_docs: int = 20_000) -> Corpus:
    """Term counts of ``n_docs`` synthetic documents (seeded, deterministic for a given chunk_docs)."""
    if n_docs < 1:
        raise ValueError(f"n_docs must be at least 1, got {n_docs}")
    if not 1 <= min_tokens <= max_tokens:
        raise ValueError(f"need 1 <= min_tokens <= max_tokens, got {min_tokens}, {max_tokens}")
    if not 0.0 <= story_share < 1.0:
        raise ValueError(f"story_share must be in [0, 1), got {story_share}")
    if not 0 <= n_stop_words < vocab_size // 2:
        raise ValueError(f"n_stop_words must be in 0..{vocab_size // 2 - 1}, got {n_stop_words}")
    rng = np.random.default_rng(seed)
    cdf = np.cumsum(1.0 / np.arange(1, vocab_size + 1) ** zipf_exponent)
    cdf /= cdf[-1]
    n_stories = max(1, int(round(n_docs / docs_per_story)))
    # story words come from the mid-frequency band, as names and topical words do in news
    band = np.arange(max(n_stop_words, min(500, vocab_size // 4)), vocab_size)
    story_words = rng.choice(band, size=(n_stories, story_terms))
    labels = rng.integers(0, n_stories, size=n_docs)
    lengths = rng.integers(min_tokens, max_tokens + 1, size=n_docs)
    parts = []
    for start in range(0, n_docs, chunk_docs):
        stop = min(n_docs, start + chunk_docs)
        parts.append(_chunk_counts(rng, cdf, story_words, labels[start:stop], lengths[start:stop],
                                   story_share, vocab_size))
    counts = sp.vstack(parts, format="csr")
    keep = np.ones(vocab_size, dtype=bool)
    keep[:n_stop_words] = False
    counts = counts[:, np.flatnonzero(keep)].tocsr()
    counts.sort_indices()
    return Corpus(counts, labels.astype(np.int64))


def _chunk_counts(rng, cdf, story_words, labels, lengths, story_share, vocab_size) -> sp.csr_matrix:
    n = labels.size
    doc = np.repeat(np.arange(n, dtype=np.int64), lengths)
    tokens = np.searchsorted(cdf, rng.random(doc.size)).astype(np.int64)
    from_story = rng.random(doc.size) < story_share
    pick = rng.integers(0, story_words.shape[1], size=int(from_story.sum()))
    tokens[from_story] = story_words[labels[doc[from_story]], pick]
    keys, counts = np.unique(doc * vocab_size + tokens, return_counts=True)
    return sp.csr_matrix((counts.astype(np.int32), (keys // vocab_size, keys % vocab_size)),
                         shape=(n, vocab_size))


def tfidf(counts: sp.csr_matrix, *, min_df: int = 2) -> sp.csr_matrix:
    """What ``TfidfVectorizer(sublinear_tf=True, min_df=min_df, dtype=float32)`` makes of the counts.

    Smooth idf ln((1 + n) / (1 + df)) + 1, tf 1 + ln(count), rows L2-normalised; terms in fewer
    than ``min_df`` documents are dropped (and columns left empty removed).
    """
    counts = sp.csr_matrix(counts)
    n = counts.shape[0]
    df = np.bincount(counts.indices, minlength=counts.shape[1])
    kept = np.flatnonzero(df >= min_df)
    counts = counts[:, kept].tocsr()
    idf = (np.log((1.0 + n) / (1.0 + df[kept])) + 1.0).astype(np.float32)
    data = (1.0 + np.log(counts.data.astype(np.float32))) * idf[counts.indices]
    x = sp.csr_matrix((data.astype(np.float32), counts.indices, counts.indptr), shape=counts.shape)
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1), dtype=np.float64).ravel())
    norms[norms == 0] = 1.0
    x.data /= np.repeat(norms, np.diff(x.indptr)).astype(np.float32)
    return x


def generate_tfidf(n_docs: int, *, seed: int = 0, **options) -> tuple[sp.csr_matrix, np.ndarray]:
    """L2-normalised float32 TF-IDF rows of a synthetic corpus and the story label of each row."""
    corpus = generate_counts(n_docs, seed=seed, **options)
    return tfidf(corpus.counts), corpus.labels


def texts(corpus: Corpus, *, max_docs: int = 50_000) -> list[str]:
    """The documents as text: pseudo-words ``w<id>`` repeated by count (for small corpora)."""
    counts = corpus.counts
    if counts.shape[0] > max_docs:
        raise ValueError(f"texts() is for small corpora, got {counts.shape[0]} > max_docs={max_docs} documents")
    rng = np.random.default_rng(0)
    out = []
    for i in range(counts.shape[0]):
        lo, hi = counts.indptr[i], counts.indptr[i + 1]
        words = np.repeat(counts.indices[lo:hi], counts.data[lo:hi])
        out.append(" ".join(f"w{t}" for t in rng.permutation(words)))
    return out
