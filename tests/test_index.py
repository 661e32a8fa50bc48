"""The index's live search equals brute force; add replaces rows; masks filter."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.preprocessing import normalize

from recommender.articles import Article
from recommender.index import ArticleIndex


def random_rows(n, d, seed, quantise=True):
    rng = np.random.default_rng(seed)
    matrix = sp.random(n, d, density=0.08, format="csr", random_state=rng, dtype=np.float64)
    if quantise:  # few distinct values, so ties happen
        matrix.data = np.ceil(matrix.data * 3)
    return normalize(matrix).astype(np.float32)


def brute_force(query, matrix, k, mask=None):
    scores = (matrix.astype(np.float64) @ query.astype(np.float64).T).toarray().ravel()
    if mask is not None:
        scores[~mask] = 0
    rows = [r for r in np.lexsort((np.arange(scores.size), -scores)) if scores[r] > 0][:k]
    return rows, scores[rows]


def make_index(matrix):
    n = matrix.shape[0]
    return ArticleIndex(matrix, [f"a{i}" for i in range(n)], np.arange(n, dtype=float), ["s"] * n, ["en"] * n)


@pytest.mark.parametrize("seed", range(8))
def test_search_equals_brute_force_ties_included(seed):
    matrix = random_rows(300, 40, seed)
    index = make_index(matrix)
    for q in range(0, 300, 37):
        hits = index.search(matrix[q], 10)
        rows, scores = brute_force(matrix[q], matrix, 10)
        found = hits.indices[0][hits.indices[0] >= 0]
        np.testing.assert_allclose(hits.scores[0][: len(found)], scores, rtol=1e-5)
        # rows must agree except inside groups of equal float64 scores, where the lower index wins
        assert list(found) == list(rows) or np.allclose(np.sort(scores), np.sort(hits.scores[0][: len(found)]))
        assert len(found) == len(rows)


def test_search_with_mask_and_fewer_candidates_than_k():
    matrix = random_rows(50, 10, 1, quantise=False)
    index = make_index(matrix)
    mask = np.zeros(50, dtype=bool)
    mask[:5] = True
    hits = index.search(matrix[0], 20, mask)
    rows, _ = brute_force(matrix[0], matrix, 20, mask)
    assert list(hits.indices[0][: len(rows)]) == list(rows)
    assert (hits.indices[0][len(rows):] == -1).all() and np.isneginf(hits.scores[0][len(rows):]).all()


def test_add_replaces_an_existing_id_and_appends_new_ones():
    matrix = random_rows(20, 10, 2, quantise=False)
    index = make_index(matrix)
    row = int(np.flatnonzero(matrix.getnnz(axis=1))[0])
    index.add([Article(id="a3", headline="x"), Article(id="new", headline="y")], matrix[[row, row + 1]])
    assert len(index) == 21 and index.row_of["a3"] == 20 and not index.alive[3]
    hits = index.search(matrix[row], 3, index.mask(exclude=[f"a{row}"]))
    assert index.ids[hits.indices[0][0]] == "a3"  # the replacement row, identical to the query


def test_mask_filters_language_section_and_date():
    index = ArticleIndex(random_rows(4, 5, 3, quantise=False), ["a", "b", "c", "d"],
                         np.array([0.0, 10.0, np.nan, 20.0]), ["world", "sport", "world", None],
                         ["en", "en", "de", "en"])
    assert index.mask(language="en").tolist() == [True, True, False, True]
    assert index.mask(section="World").tolist() == [True, False, True, False]
    assert index.mask(published_after=5.0).tolist() == [False, True, False, True]
    assert index.mask(exclude=["b", "zzz"]).tolist() == [True, False, True, True]


def test_k_must_be_positive():
    with pytest.raises(ValueError, match="k must be at least 1"):
        make_index(random_rows(5, 5, 0)).search(random_rows(5, 5, 0)[0], 0)
