"""Reading lists: story order, the latest update, superseded near-duplicates, history exclusion, budgets."""

from dataclasses import replace
from datetime import timedelta

import pytest

from recommender.engine import Engine, UnknownArticle
from recommender.reading_list import fit_budget, history_list, story_list


@pytest.fixture
def engine(corpus):
    return Engine().fit(corpus)


def test_fit_budget_takes_what_fits_in_priority_order():
    minutes = {"a": 3.0, "b": 5.0, "c": 2.0}
    assert fit_budget(["a", "b", "c"], minutes, 6) == ["a", "c"]
    assert fit_budget(["a", "b", "c"], minutes, None) == ["a", "b", "c"]
    with pytest.raises(ValueError, match="minutes must be positive"):
        fit_budget(["a"], minutes, 0)


def test_story_list_is_in_time_order_with_the_latest_marked(engine):
    result = story_list(engine, "storm-2")
    assert [i.id for i in result.items] == ["storm-1", "storm-2", "storm-3"]
    assert [i.latest for i in result.items] == [False, False, True]
    assert result.to_dict()["kind"] == "story"


def test_a_wire_copy_gives_way_to_its_original(corpus):
    copy = replace(corpus[2], id="storm-3-wire", headline=corpus[2].headline + " (wire)",
                   published_at=corpus[2].published_at + timedelta(hours=5), url=None)
    engine = Engine().fit([*corpus, copy])
    for article_id in ("storm-1", "storm-3-wire"):
        assert [i.id for i in story_list(engine, article_id).items] == ["storm-1", "storm-2", "storm-3"]


def test_story_budget_keeps_the_latest_first(engine, corpus):
    one = corpus[2].reading_minutes
    result = story_list(engine, "storm-1", minutes=one + 0.01)
    assert [i.id for i in result.items] == ["storm-3"] and result.items[0].latest
    assert result.total_minutes <= one + 0.1


def test_history_list_excludes_what_was_read_and_is_freshest_first(engine, corpus):
    result = history_list(engine, ["storm-1", "election-1"], k=4)
    ids = [i.id for i in result.items]
    assert ids and not {"storm-1", "election-1"} & set(ids)
    assert {"storm-2", "storm-3"} & set(ids) and {"election-2", "election-3"} & set(ids)  # both topics: diverse
    times = [i.published_at for i in result.items]
    assert times == sorted(times, reverse=True)


def test_history_budget(engine, corpus):
    budget = 2.5 * max(a.reading_minutes for a in corpus)
    result = history_list(engine, ["storm-1"], minutes=budget)
    assert 0 < len(result.items) <= 2 and result.total_minutes <= budget + 0.1


def test_unknown_ids_and_empty_history_are_refused(engine):
    with pytest.raises(UnknownArticle):
        story_list(engine, "nope")
    with pytest.raises(UnknownArticle):
        history_list(engine, ["storm-1", "nope"])
    with pytest.raises(ValueError, match="at least one"):
        history_list(engine, [])


def test_service_reading_lists(client):
    story = client.post("/v1/reading-list", json={"story": "storm-2", "minutes": 30})
    assert story.status_code == 200, story.get_json()
    items = story.get_json()["items"]
    assert "storm-2" in [i["id"] for i in items] and items[-1]["latest"]
    assert [i["published_at"] for i in items] == sorted(i["published_at"] for i in items)
    assert story.get_json()["total_minutes"] <= 30
    after = client.post("/v1/reading-list", json={"history": ["storm-1"], "k": 2}).get_json()
    assert len(after["items"]) <= 2 and "storm-1" not in [i["id"] for i in after["items"]]


@pytest.mark.parametrize("body, status, parameter", [
    ({}, 422, "story"),
    ({"story": "storm-1", "history": ["storm-2"]}, 422, "story"),
    ({"history": []}, 422, "history"),
    ({"story": "storm-1", "minutes": -1}, 422, "minutes"),
    ({"history": ["storm-1"], "k": 0}, 422, "k"),
    ({"story": "nope"}, 404, "id"),
])
def test_service_reading_list_errors(client, body, status, parameter):
    response = client.post("/v1/reading-list", json=body)
    assert response.status_code == status
    error = response.get_json()["error"]
    assert error.get("parameter") == parameter
