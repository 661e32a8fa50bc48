"""Editors' pins and blocks: stored, and honoured by the engine path (CLI, service and batch all end in rerank)."""

import json

import pytest
from click.testing import CliRunner

from linked_corpus import linked_corpus
from recommender import pipeline
from recommender.catalogue import Feedback
from recommender.cli import cli
from recommender.engine import Engine
from recommender.links import resolve_store
from recommender.reading_list import story_list
from recommender.store import Store


@pytest.fixture
def store(tmp_path, corpus):
    with Store(tmp_path / "s.db") as s:
        s.articles.upsert_many(corpus)
        resolve_store(s)
        yield s


def test_pins_and_blocks_are_stored_replaced_and_removed(store):
    assert store.feedback_for("storm-1") is None
    store.feedback.set("storm-1", "chips-2", "pin")
    store.feedback.set("storm-1", "chips-1", "pin")
    store.feedback.set("storm-1", "storm-2", "block")
    assert store.feedback_for("storm-1") == Feedback(("chips-2", "chips-1"), frozenset({"storm-2"}))
    store.feedback.set("storm-1", "chips-2", "block")  # a pair is pinned or blocked, not both
    assert store.feedback_for("storm-1") == Feedback(("chips-1",), frozenset({"storm-2", "chips-2"}))
    assert store.feedback.remove("storm-1", "chips-1", "pin") and not store.feedback.remove("storm-1", "chips-1")
    assert store.feedback.all() == [("storm-1", "storm-2", "block"), ("storm-1", "chips-2", "block")]


@pytest.mark.parametrize("args, message", [
    (("storm-1", "storm-1", "pin"), "itself"),
    (("storm-1", "nope", "pin"), "unknown article id 'nope'"),
    (("storm-1", "storm-2", "like"), "feedback kind"),
])
def test_bad_feedback_is_refused(store, args, message):
    with pytest.raises(ValueError, match=message):
        store.feedback.set(*args)


def test_engine_honours_pins_and_blocks(store):
    engine = Engine(None, store).fit(store.articles.iter_articles())
    assert {r.id for r in engine.related("storm-1", 2)} == {"storm-2", "storm-3"}
    store.feedback.set("storm-1", "storm-2", "block")
    store.feedback.set("storm-1", "chips-3", "pin")
    ranking = engine.related("storm-1", 2)
    assert [r.id for r in ranking] == ["chips-3", "storm-3"] and ranking[0].reason == "pinned by an editor"
    assert "storm-2" not in [r.id for r in engine.related("storm-1", 8)]
    # a pin still respects the caller's exclusions
    from recommender.ranking import Filters
    assert "chips-3" not in [r.id for r in engine.related("storm-1", 3, filters=Filters(exclude={"chips-3"}))]
    # batch scoring ranks the article in a block through the same pipeline: same list
    mask = engine.index.mask()
    assert pipeline.rank(engine, [engine.query("storm-1")], 2, mask)[0] == ranking
    # reading lists never show a blocked story
    assert "storm-2" not in [i.id for i in story_list(engine, "storm-1").items]


def test_blocks_hold_with_the_link_model(tmp_path):
    with Store(tmp_path / "m.db") as s:
        s.articles.upsert_many(linked_corpus())
        resolve_store(s)
        engine = Engine(None, s).fit(s.articles.iter_articles())
        assert engine.model_active
        first = engine.related("s4-d59", 1)[0].id
        s.feedback.set("s4-d59", first, "block")
        assert first not in [r.id for r in engine.related("s4-d59", 10)]


def test_cli_pin_block_and_reading_list(tmp_path, corpus):
    db = tmp_path / "c.db"
    path = tmp_path / "a.jsonl"
    path.write_text("\n".join(json.dumps({"id": a.id, "headline": a.headline, "body": a.body, "section": a.section,
                                          "published_at": a.published_at.isoformat()}) for a in corpus))
    runner = CliRunner()

    def run(*args):
        result = runner.invoke(cli, ["--db", str(db), *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    run("ingest", str(path))
    run("build")
    assert "pinned chips-1" in run("pin", "storm-1", "chips-1")
    assert json.loads(run("related", "storm-1", "-k", "1", "--json"))[0]["id"] == "chips-1"
    run("pin", "storm-1", "chips-1", "--remove")
    run("block", "storm-1", "storm-3")
    assert "storm-3" not in run("related", "storm-1")
    story = json.loads(run("reading-list", "--story", "storm-2", "--json"))
    assert [i["id"] for i in story["items"]] == ["storm-1", "storm-2", "storm-3"]
    assert story["items"][-1]["latest"]
    after = json.loads(run("reading-list", "--history", "storm-1", "election-1", "--minutes", "5", "--json"))
    assert after["total_minutes"] <= 5 and "storm-1" not in [i["id"] for i in after["items"]]
    assert "too few resolved links" in run("train")
    result = runner.invoke(cli, ["--db", str(db), "reading-list", "--story", "nope"])
    assert result.exit_code == 1 and "unknown article id 'nope'" in result.output


def test_the_service_applies_a_pin_at_once(make_app, service_db):
    client = make_app(RANKING_CACHE_SECONDS=30).test_client()
    url = "/v1/articles/storm-1/related?k=2"
    assert client.get(url).get_json()["related"][0]["id"] != "chips-3"
    with Store(service_db) as store:
        store.feedback.set("storm-1", "chips-3", "pin")
    assert client.get(url).get_json()["related"][0]["id"] == "chips-3"  # the cached ranking was dropped
    with Store(service_db) as store:
        store.feedback.set("storm-1", "chips-3", "block")
    assert "chips-3" not in [r["id"] for r in client.get(url).get_json()["related"]]
