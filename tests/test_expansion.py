"""Neighbour expansion: the blend and the term cut against brute-force references."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.preprocessing import normalize

from recommender.expansion import expand, strongest_terms


def cut_by_sorting(rows, keep):
    """Each row's ``keep[i]`` largest values, ties to the lower term, by one global sort (the reference)."""
    out = []
    for i in range(rows.shape[0]):
        row = rows[i]
        order = sorted(zip(-row.data, row.indices))[: keep[i]]
        chosen = sorted(t for _, t in order)
        dense = np.zeros(rows.shape[1])
        dense[chosen] = row.toarray().ravel()[chosen]
        out.append(dense)
    return np.vstack(out)


@pytest.mark.parametrize("seed", range(12))
def test_strongest_terms_keeps_the_largest_with_ties_to_the_lower_term(seed):
    rng = np.random.default_rng(seed)
    rows = sp.random(30, 60, density=rng.uniform(0.05, 0.6), format="lil", random_state=seed)
    rows[0, :] = 0  # an empty row, first and last
    rows[-1, :] = 0
    rows = rows.tocsr()
    rows.data = np.round(rows.data * 3) / 3 + 0.5  # many ties
    rows.sort_indices()
    keep = rng.integers(0, 20, rows.shape[0])
    assert np.array_equal(strongest_terms(rows, keep).toarray(), cut_by_sorting(rows, keep))


def test_expand_blends_each_row_with_its_neighbours_by_cosine():
    base = normalize(sp.csr_matrix(np.array([[1.0, 0, 0, 0], [0.6, 0.8, 0, 0], [0, 0, 1.0, 0], [0, 0, 0.6, 0.8]])))
    neighbours = np.array([[1, -1], [0, 2], [3, -1], [2, 0]])
    similarities = np.array([[0.6, -np.inf], [0.6, 0.0], [0.6, -np.inf], [0.6, 0.0]])
    expanded = expand(base, base, neighbours, similarities, weight=1.0, max_terms=None).toarray()
    expected = normalize(base.toarray() + 0.6 * base.toarray()[[1, 0, 3, 2]])  # zero-cosine neighbours add nothing
    assert expanded == pytest.approx(expected, abs=1e-6)
    cut = expand(base, base, neighbours, similarities, weight=1.0, max_terms=1).toarray()
    assert (np.count_nonzero(cut, axis=1) == [1, 2, 1, 2]).all()  # never fewer terms than the row's own
