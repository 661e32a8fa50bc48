"""Batch scoring: same ranking as the live path, resumable, JSON Lines contract, store lists, CLI."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import build_model
from recommender import batch
from recommender.articles import Article, ReadAlsoLink
from recommender.artifacts import load_engine
from recommender.cli import cli
from recommender.ranking import Filters
from recommender.store import Store
from recommender.versions import model_root, open_engine

START = datetime(2025, 1, 1, tzinfo=UTC)
K = 5


def archive(n: int = 150, seed: int = 3) -> list[Article]:
    """Stories of ~6 articles over a shared background vocabulary; a fifth in German; some wire copies;
    every other follow-up links to the previous article of its story (enough links for the link model)."""
    rng = random.Random(seed)
    background = [f"word{i}" for i in range(400)]
    weights = [1.0 / (i + 1) for i in range(len(background))]
    articles = []
    for i in range(n):
        story = i % (n // 6)
        story_words = [f"story{story}term{j}" for j in range(12)]
        words = rng.choices(background, weights, k=70) + rng.choices(story_words, k=25)
        rng.shuffle(words)
        body = " ".join(words)
        if i % 37 == 5:  # a wire copy of the previous article
            body = articles[-1].body
        previous = articles[i - n // 6] if i >= n // 6 and i % 2 else None
        links = (ReadAlsoLink(previous.headline, target_id=previous.id, resolution="headline"),) if previous else ()
        articles.append(Article(id=f"a{i:04d}", headline=" ".join(words[:7]), body=body,
                                section=("world", "sport", "money")[i % 3], language="de" if i % 5 == 0 else "en",
                                published_at=START + timedelta(hours=7 * i), read_also=links))
    return articles


@pytest.fixture
def model(tmp_path):
    """A store and its built model: ``(db, artifact directory)``."""
    db = tmp_path / "readalso.db"
    with Store(db) as store:
        store.articles.upsert_many(archive())
        store.feedback.set("a0020", "a0100", "pin")
        store.feedback.set("a0030", "a0055", "block")
        path = build_model(store, model_root(db))
    return db, path


class WithoutLists:
    """The store as the live path would see it without precomputed lists."""

    def __init__(self, store):
        self.store = store

    def feedback_for(self, article_id):
        return self.store.feedback_for(article_id)

    def get_many(self, ids):
        return self.store.get_many(ids)

    def precomputed(self, article_id, model_version, k):
        return None

    def list_reaches(self, model_version):
        return {}


def live_lists(db, artifact, k=K):
    """What the live path ranks for every article."""
    with Store(db) as store:
        engine = load_engine(artifact, WithoutLists(store))
        return {i: [(r.id, r.score, r.reason, r.editor_probability) for r in engine.related(i, k)]
                for i in engine.index.ids}


def read_jsonl(path):
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def test_batch_equals_live_ranking_for_every_article(model, tmp_path):
    db, artifact = model
    report = batch.run_batch(artifact, db=db, k=K, out=tmp_path / "related.jsonl", block_rows=16, progress=False)
    expected = live_lists(db, artifact)
    lines = read_jsonl(tmp_path / "related.jsonl")
    assert report.articles == len(lines) == len(expected) == 150
    assert report.blocks == report.computed_blocks == 10 and report.reused_blocks == 0
    assert {line["id"]: [(r["id"], r["score"]) for r in line["related"]] for line in lines} == \
        {i: [(t, s) for t, s, _, _ in ranking] for i, ranking in expected.items()}
    with Store(db) as store:
        assert {i: store.precomputed(i, artifact.name, len(r)) for i, r in expected.items()} == expected
        assert store.lists.counts() == {artifact.name: 150}
    assert expected["a0020"][0][0] == "a0100"  # the editor's pin, in the batch list too
    assert expected["a0020"][0][2] == "pinned by an editor"
    assert "a0055" not in {t for t, _, _, _ in expected["a0030"]}


@pytest.mark.slow
def test_parallel_processes_give_the_same_lists(model, tmp_path):
    db, artifact = model
    batch.run_batch(artifact, db=db, k=K, out=tmp_path / "one.jsonl", block_rows=32, write_store=False, progress=False)
    batch.run_batch(artifact, db=db, k=K, out=tmp_path / "two.jsonl", block_rows=32, n_jobs=2, write_store=False,
                    progress=False)
    assert read_jsonl(tmp_path / "one.jsonl") == read_jsonl(tmp_path / "two.jsonl")


def test_jsonl_contract(model, tmp_path):
    db, artifact = model
    batch.run_batch(artifact, db=db, k=K, out=tmp_path / "related.jsonl", progress=False)
    lines = read_jsonl(tmp_path / "related.jsonl")
    ids = [line["id"] for line in lines]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)  # one line per article, row order
    for line in lines:
        assert set(line) == {"id", "related"}
        assert 0 < len(line["related"]) <= K
        assert all(set(item) == {"id", "score", "reason", "editor_probability"} for item in line["related"])
        assert all(0 <= item["score"] <= 1 for item in line["related"])
        assert line["id"] not in {item["id"] for item in line["related"]}


def test_an_interrupted_run_resumes_without_redoing_finished_blocks(model, tmp_path, monkeypatch):
    db, artifact = model
    batch.run_batch(artifact, db=db, k=K, out=tmp_path / "clean.jsonl", block_rows=16, write_store=False,
                    progress=False)

    class Interrupted(Exception):
        pass

    def stop_after_three(number):
        if number == 2:
            raise Interrupted

    work = tmp_path / "work"
    with pytest.raises(Interrupted):
        batch.run_batch(artifact, db=db, k=K, out=tmp_path / "resumed.jsonl", block_rows=16, write_store=False,
                        work_dir=work, on_block=stop_after_three, progress=False)
    assert sorted(p.name for p in work.iterdir()) == [f"block-00000{n}.jsonl" for n in range(3)]
    assert not (tmp_path / "resumed.jsonl").exists()

    scored = []
    real = batch.score_rows
    monkeypatch.setattr(batch, "score_rows",
                        lambda engine, rows, k, **options: scored.append(len(rows)) or real(engine, rows, k, **options))
    report = batch.run_batch(artifact, db=db, k=K, out=tmp_path / "resumed.jsonl", block_rows=16, write_store=False,
                             work_dir=work, progress=False)
    assert (report.reused_blocks, report.computed_blocks) == (3, 7)
    assert sum(scored) == 150 - 3 * 16
    assert read_jsonl(tmp_path / "resumed.jsonl") == read_jsonl(tmp_path / "clean.jsonl")
    assert not work.exists()  # removed after a successful merge


def test_since_and_ids_select_articles(model, tmp_path):
    db, artifact = model
    since = START + timedelta(hours=7 * 140)
    report = batch.run_batch(artifact, db=db, k=K, out=tmp_path / "since.jsonl", since=since, progress=False)
    assert report.articles == 10
    assert [line["id"] for line in read_jsonl(tmp_path / "since.jsonl")] == [f"a{i:04d}" for i in range(140, 150)]
    batch.run_batch(artifact, db=db, k=K, out=tmp_path / "ids.jsonl", ids=["a0007", "a0003"], progress=False)
    lines = read_jsonl(tmp_path / "ids.jsonl")
    assert [line["id"] for line in lines] == ["a0003", "a0007"]
    expected = live_lists(db, artifact)
    assert [(r["id"], r["score"]) for r in lines[1]["related"]] == [(t, s) for t, s, _, _ in expected["a0007"]]
    with Store(db) as store:
        assert store.lists.counts() == {artifact.name: 12}
    with pytest.raises(ValueError, match=r"unknown article id.*'nope'"):
        batch.run_batch(artifact, db=db, k=K, ids=["a0001", "nope"], progress=False)


def test_live_path_serves_precomputed_lists_only_when_filters_allow(model):
    db, artifact = model
    batch.run_batch(artifact, db=db, k=10, progress=False)
    with Store(db) as store:
        store.lists.replace(artifact.name, [("a0010", [("a0099", 0.5, "from the table", None)] * 10, 0.0)])
    store, engine = open_engine(db)
    with store:
        assert engine.related("a0010", 4)[0].reason == "from the table"  # precomputed, first k of 10
        assert engine.related("a0010", 11)[0].reason != "from the table"  # longer than stored: live
        assert engine.related("a0010", 4, filters=Filters(section="money"))[0].reason != "from the table"
        assert engine.related("a0010", 4, diversity=0.3)[0].reason != "from the table"
        engine.stale.add("a0010")  # an article added since reached its list
        assert engine.related("a0010", 4)[0].reason != "from the table"
        engine.stale.clear()
        engine.lists_key = "another-fit"
        assert engine.related("a0010", 4)[0].reason != "from the table"


def test_cli_batch(model, tmp_path):
    db, artifact = model
    runner = CliRunner()
    result = runner.invoke(cli, ["--db", str(db), "batch", "-k", "3", "--out", str(tmp_path / "cli.jsonl"),
                                 "--block-rows", "50"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "150 related lists for " + artifact.name in result.output and "3 blocks computed" in result.output
    lines = read_jsonl(tmp_path / "cli.jsonl")
    assert len(lines) == 150 and all(len(line["related"]) <= 3 for line in lines)
    (tmp_path / "ids.txt").write_text("a0001\n\na0002\n", encoding="utf-8")
    result = runner.invoke(cli, ["--db", str(db), "batch", "--ids", str(tmp_path / "ids.txt"), "--since", "2025-01-01",
                                 "--out", str(tmp_path / "two.jsonl")])
    assert result.exit_code == 0, result.output
    assert [line["id"] for line in read_jsonl(tmp_path / "two.jsonl")] == ["a0001", "a0002"]
    result = runner.invoke(cli, ["--db", str(db), "batch", "--ids", "-"], input="missing\n")
    assert result.exit_code == 1 and "unknown article id(s): 'missing'" in result.output


def test_batch_help_states_the_memory_formula():
    result = CliRunner().invoke(cli, ["batch", "--help"])
    assert result.exit_code == 0 and "Memory: peak" in result.output and "--dask" in result.output


def test_block_size_formula():
    assert batch.default_block_rows(1_000_000, 2) == batch.MAX_BLOCK_ROWS
    assert batch.default_block_rows(10, 2) == batch.MIN_BLOCK_ROWS
    assert batch.default_block_rows(8000, 2) == 1000


def tied_archive(n: int = 240, seed: int = 11, links: bool = True) -> list[Article]:
    """Short articles over a 24-word vocabulary, a third of them word-for-word permutations of another
    (identical vectors, so exact ties), the rest close enough that their scores differ in the last bits;
    every third links to an earlier one (the link model trains)."""
    rng = random.Random(seed)
    vocabulary = [f"term{i}" for i in range(24)]
    articles = []
    for i in range(n):
        if i % 3 == 2:
            words = articles[rng.randrange(len(articles))].body.split()
            rng.shuffle(words)
        else:
            words = rng.choices(vocabulary, k=14)
        earlier = articles[rng.randrange(len(articles))] if links and i % 3 == 0 and articles else None
        read_also = (ReadAlsoLink(earlier.headline, target_id=earlier.id, resolution="headline"),) if earlier else ()
        articles.append(Article(id=f"t{i:04d}", headline=f"report {i}", body=" ".join(words), section="world",
                                published_at=START + timedelta(hours=i), read_also=read_also))
    return articles


@pytest.mark.parametrize("links", [True, False], ids=["link-model", "relatedness-only"])
def test_batch_equals_live_on_ties_and_last_bit_differences(tmp_path, links):
    db = tmp_path / "ties.db"
    with Store(db) as store:
        store.articles.upsert_many(tied_archive(links=links))
        artifact = build_model(store, model_root(db))
    batch.run_batch(artifact, db=db, k=8, out=tmp_path / "ties.jsonl", block_rows=64, write_store=False,
                    progress=False)
    stored = {line["id"]: [(r["id"], r["score"], r["reason"], r["editor_probability"]) for r in line["related"]]
              for line in read_jsonl(tmp_path / "ties.jsonl")}
    live = live_lists(db, artifact, k=8)
    assert stored == live
    with Store(db) as store:
        engine = load_engine(artifact, WithoutLists(store))
    assert engine.model_active == links  # with the model, its candidates, features and order must agree too
    # the corpus does what it is built for: candidates that tie exactly, and scores whose last bits depend
    # on how the products are summed (float32 term by term vs the kernel's float64)
    index = engine.index
    hits = index.search(index.expanded, 50, index.mask(), exclude=np.arange(len(index.ids)))
    assert any(np.unique(scores[scores > 0]).size < (scores > 0).sum() for scores in hits.scores)
    float32_sums = np.asarray((index.expanded @ index.expanded.T).todense(), dtype=np.float32)
    found = hits.indices >= 0
    summed = np.take_along_axis(float32_sums, np.where(found, hits.indices, 0), axis=1)
    assert (summed[found] != hits.scores[found]).any()
