"""The live path's small kernels against the scipy products and sparse sums they replace, and against the
top-k kernel: equal, not close."""

import numpy as np
import pytest
import scipy.sparse as sp

from recommender.candidates import prior_rows
from recommender.cosine import Row, block_dots, row_dots, strongest_shared_terms, top_k
from recommender.features import LinkGraph

DAY = 86400.0


def unit_rows(n_rows, n_terms, density, seed, dtype=np.float32):
    matrix = sp.random(n_rows, n_terms, density=density, format="csr", dtype=np.float64, random_state=seed)
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1))).ravel()
    matrix = sp.csr_matrix(sp.diags(1 / np.where(norms > 0, norms, 1)) @ matrix, dtype=dtype)
    matrix.sort_indices()  # canonical, as the index keeps its rows
    return matrix


@pytest.mark.parametrize("seed", range(5))
def test_row_dots_equal_the_float64_scipy_product_rounded_once(seed):
    matrix = unit_rows(300, 500, 0.05, seed)
    rng = np.random.default_rng(seed)
    rows = rng.choice(300, size=120, replace=True)
    for query in (matrix[int(rng.integers(300))], unit_rows(1, 500, 0.2, seed + 100),
                  unit_rows(1, 500, 0.2, seed + 200, dtype=np.float64)):
        exact = (matrix[rows].astype(np.float64) @ query.T.astype(np.float64)).toarray().ravel()
        expected = exact.astype(np.result_type(matrix.dtype, query.dtype))
        for given in (query, Row.from_sparse(query)):
            found = row_dots(matrix, rows, given)
            assert found.dtype == expected.dtype and np.array_equal(found, expected)


@pytest.mark.parametrize("seed", range(3))
def test_row_dots_equal_the_top_k_scores(seed):
    """One arithmetic: a candidate's relatedness re-scored by row_dots is its score from the search."""
    matrix = unit_rows(400, 300, 0.08, seed)
    for row in range(0, 400, 37):
        query = Row.of(matrix, row)
        found = top_k(query, matrix, 50, n_threads=1)
        hits = found.indices[0][found.indices[0] >= 0]
        assert hits.size and np.array_equal(row_dots(matrix, hits, query), found.scores[0][: hits.size])


def test_row_dots_of_nothing():
    matrix = unit_rows(10, 20, 0.3, 0)
    assert row_dots(matrix, np.arange(3), None).tolist() == [0, 0, 0]
    assert row_dots(matrix, np.arange(0), matrix[0]).size == 0
    assert row_dots(matrix, np.arange(3), sp.csr_matrix((1, 20), dtype=np.float32)).tolist() == [0, 0, 0]


@pytest.mark.parametrize("seed", range(5))
def test_block_dots_equal_the_float64_scipy_product_rounded_once(seed):
    matrix = unit_rows(200, 400, 0.05, seed)
    rows = np.random.default_rng(seed).choice(200, size=40, replace=False)
    candidates = matrix[rows].astype(np.float64)
    expected = (candidates @ candidates.T).toarray().astype(np.float32)
    found = block_dots(matrix, rows)
    assert found.dtype == expected.dtype and np.array_equal(found, expected)
    assert np.array_equal(block_dots(matrix, rows, lower=True), np.tril(expected, -1))
    assert block_dots(matrix, np.arange(0)).shape == (0, 0)


def reference_strongest(query_row, matrix, rows, n):
    """Each row's terms by their product with the query (numpy's dtype), strongest first, lower term on ties."""
    out = []
    for row in rows:
        product = matrix[row].multiply(query_row).tocsr()
        product.eliminate_zeros()
        order = np.lexsort((product.indices, -product.data))[:n]
        out.append(product.indices[order].tolist() + [-1] * (n - order.size))
    return out


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("query_dtype", [np.float32, np.float64])
def test_strongest_shared_terms_follow_the_products(seed, query_dtype):
    matrix = unit_rows(60, 50, 0.3, seed)
    matrix.data = np.round(matrix.data * 4) / 4 + np.float32(0.25)  # few distinct weights: many ties
    query = unit_rows(1, 50, 0.5, seed + 10, dtype=query_dtype)
    query.data = np.round(query.data * 4) / 4 + 0.25
    rows = np.random.default_rng(seed).choice(60, 25, replace=False)
    for n in (1, 3, 8):
        found = strongest_shared_terms(Row.from_sparse(query), matrix, rows, n)
        assert found.tolist() == reference_strongest(query, matrix, rows, n)
    assert strongest_shared_terms(Row.from_sparse(sp.csr_matrix((1, 50))), matrix, rows, 3).tolist() == [[-1] * 3] * 25


def test_linked_is_a_link_either_way():
    rng = np.random.default_rng(0)
    n = 120
    graph = LinkGraph.from_pairs([(int(s), int(t)) for s, t in rng.integers(0, n, size=(300, 2))], np.zeros(n))
    everything = np.arange(n)
    for row in range(n):
        either = set(graph.adjacency[row].indices.tolist()) | set(graph.inbound[row].indices.tolist())
        assert graph.linked(row, everything).tolist() == [r in either for r in range(n)]
    assert not graph.linked(None, everything).any()


def reference_trending(graph, moment, rows, window_days=7.0):
    """The former sparse computation: links from sources published in the window, summed per target."""
    if np.isnan(moment) or graph.adjacency.nnz == 0:
        return np.zeros(len(rows))
    with np.errstate(invalid="ignore"):
        recent = (graph.published <= moment) & (graph.published > moment - window_days * DAY)
    counts = np.asarray((sp.diags(recent.astype(np.float32)) @ graph.adjacency).sum(axis=0), dtype=np.float64).ravel()
    return counts[rows]


def reference_colinking(graph, row, rows):
    sources = graph.inbound[row].indices
    if sources.size == 0:
        return np.zeros(len(rows))
    return np.asarray(graph.adjacency[sources].sum(axis=0), dtype=np.float64).ravel()[rows]


@pytest.mark.parametrize("seed", range(3))
def test_graph_counts_equal_the_sparse_sums(seed):
    rng = np.random.default_rng(seed)
    n = 200
    published = rng.uniform(0, 60, n) * DAY
    published[rng.choice(n, 10, replace=False)] = np.nan  # undated articles never trend
    pairs = [(int(s), int(t)) for s, t in rng.integers(0, n, size=(600, 2))]
    graph = LinkGraph.from_pairs(pairs, published)
    everything = np.arange(n)
    for moment in (*published[:20], np.nan, 100 * DAY):
        assert np.array_equal(graph.trending(moment, everything), reference_trending(graph, moment, everything))
    for row in range(n):
        assert np.array_equal(graph.colinking(row, everything), reference_colinking(graph, row, everything))
    for mask in (rng.random(n) > 0.3, rng.random(n) > 0.95):  # the head of the order allowed, or hardly any
        for moment in (*published[:20], np.nan):
            trending, linked = reference_trending(graph, moment, everything), graph.in_links(everything)
            allowed = np.flatnonzero(mask & ((trending > 0) | (linked > 0)))
            order = allowed[np.lexsort((allowed, -linked[allowed], -trending[allowed]))]
            for wanted in (1, 3, 20, n):
                assert np.array_equal(prior_rows(graph, moment, mask, wanted), order[:wanted])
