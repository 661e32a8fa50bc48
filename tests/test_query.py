"""The live query path: pruning the query to its strongest terms, checked against the exact search."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.preprocessing import normalize

from recommender.articles import Article
from recommender.index import ArticleIndex, prune_rows


def random_index(n=400, terms=300, seed=0) -> ArticleIndex:
    rng = np.random.default_rng(seed)
    matrix = sp.random(n, terms, density=0.08, format="csr", dtype=np.float32, random_state=rng)
    matrix = normalize(matrix).astype(np.float32)
    return ArticleIndex(matrix, [f"a{i}" for i in range(n)], np.zeros(n), [None] * n, ["en"] * n)


def test_prune_rows_keeps_the_strongest_terms_in_term_order():
    query = sp.csr_matrix(np.array([[0.1, 0.0, 0.5, 0.3, 0.2]], dtype=np.float32))
    pruned = prune_rows(query, 2)
    assert pruned.indices.tolist() == [2, 3] and pruned.data.tolist() == pytest.approx([0.5, 0.3])
    assert prune_rows(query, 10).nnz == 4
    with pytest.raises(ValueError, match="n_terms must be at least 1, got 0"):
        prune_rows(query, 0)


def test_pruned_search_returns_exact_scores_and_nearly_the_exact_rows():
    index = random_index()
    mask = index.mask(language="en")
    recall = []
    for row in range(0, 400, 7):
        query = index.matrix[row]
        exact = index.search(query, 20, mask)
        pruned = index.search(query, 20, mask, max_terms=8)
        found = pruned.indices[0][pruned.indices[0] >= 0]
        truth = (index.matrix[found].astype(np.float64) @ query.T.astype(np.float64)).toarray().ravel()
        assert np.array_equal(pruned.scores[0][: found.size], truth.astype(np.float32))  # true cosines, best first
        assert np.all(np.diff(pruned.scores[0][: found.size]) <= 0)
        recall.append(len(set(found) & set(exact.indices[0])) / 20)
        same = index.search(query, 20, mask, max_terms=query.nnz)  # nothing pruned: the exact search
        assert np.array_equal(same.indices, exact.indices) and np.array_equal(same.scores, exact.scores)
    assert np.mean(recall) > 0.5


def test_language_masks_follow_added_rows():
    index = random_index(n=10)
    assert index.mask(language="de").sum() == 0 and index.mask(language="en").sum() == 10
    index.add([Article(id="a3", headline="Neu", body="Text", language="de")], index.matrix[3])
    assert index.mask(language="de").tolist() == [False] * 10 + [True]
    assert index.mask(language="en").sum() == 9  # the replaced row is hidden
