"""Batch scoring on dask.distributed: a LocalCluster of two worker processes gives the local lists.

The reference is the live ranking of every article, which tests/test_batch.py shows the local
(joblib) batch run reproduces exactly; comparing with it here spares this test a third compilation
of the top-k kernel, so it stays under a minute.
"""

from __future__ import annotations

import json

import pytest

from recommender import batch

pytest.importorskip("distributed")
from test_batch import K, live_lists, model  # noqa: F401  (the store-and-model fixture)

pytestmark = pytest.mark.slow


def test_dask_local_cluster_equals_local_run(model, tmp_path):  # noqa: F811
    db, artifact = model
    expected = live_lists(db, artifact)
    report = batch.run_batch(artifact, db, k=K, out=tmp_path / "dask.jsonl", block_rows=40, n_jobs=2, dask="local",
                             progress=False)
    assert (report.blocks, report.computed_blocks, report.articles) == (4, 4, 150)
    lines = [json.loads(line) for line in (tmp_path / "dask.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [line["id"] for line in lines] == sorted(expected)
    assert {line["id"]: [(r["id"], r["score"]) for r in line["related"]] for line in lines} == \
        {i: [(t, s) for t, s, *_ in ranking] for i, ranking in expected.items()}
