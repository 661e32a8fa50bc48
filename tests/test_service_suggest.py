"""POST /v1/suggest: the Read-also block for a CMS draft, in the draft's own shape."""

from __future__ import annotations

import pytest

from conftest import HOSTILE_HEADLINE

STORM_TEXT = ("Storm Ardent flood barriers fail again on the river.\n"
              "Rescue crews reached the estuary towns at dawn with sandbags.\n"
              "The tide forecast warns of a second surge along the coast.\n"
              "Shelter places are full, the council said.\n")
STORM_HTML = ("<html><head><title>Flood barriers fail again</title></head><body><article>\n"
              "  <p>Storm Ardent flood barriers fail again on the river.</p>\n"
              "  <p>Rescue crews reached the estuary towns at dawn with sandbags.</p>\n"
              "  <p>The tide forecast warns of a second surge along the coast.</p>\n"
              "</article></body></html>\n")


def error_of(response, status, parameter):
    assert response.status_code == status, response.get_json()
    assert response.get_json()["error"]["parameter"] == parameter


def test_text_draft(client):
    response = client.post("/v1/suggest", json={"draft": STORM_TEXT, "k": 3})
    assert response.status_code == 200
    body = response.get_json()
    assert body["shape"] == "text" and body["model_version"]
    lines = body["document"].split("\n")
    assert lines[2] == "Read also:" and all(line.startswith("- ") for line in lines[3:6])
    assert lines[:2] + lines[6:] == STORM_TEXT.split("\n")
    assert body["block"] == "\n".join(lines[2:6])
    assert [item["source"] for item in body["read_also"]] == ["engine"] * 3
    assert all(item["id"].startswith("storm") and item["reason"] for item in body["read_also"])
    again = client.post("/v1/suggest", json={"draft": body["document"], "k": 3}).get_json()
    assert again["document"] == body["document"]
    assert [item["source"] for item in again["read_also"]] == ["editor"] * 3


def test_html_draft_escapes_stored_headlines(client):
    response = client.post("/v1/suggest", json={"draft": STORM_HTML, "k": 5, "after": 1})
    body = response.get_json()
    assert response.status_code == 200 and body["shape"] == "html"
    assert "storm-hostile" in {item["id"] for item in body["read_also"]}
    assert "<img" not in body["document"] and "&lt;img src=x onerror=alert(1)&gt;" in body["document"]
    assert HOSTILE_HEADLINE in {item["headline"] for item in body["read_also"]}   # data, not markup
    lines = body["document"].split("\n")
    assert lines[2].startswith('  <aside class="read-also">') and lines[2].strip() == body["block"]
    assert body["document"].replace(lines[2] + "\n", "") == STORM_HTML


def test_json_object_draft(client):
    draft = {"id": "cms-42", "headline": "Mayor recount confirms narrow win", "body": "The ballot recount ended.",
             "section": "politics", "read_also": ["An editor's own pick"]}
    response = client.post("/v1/suggest", json={"draft": draft, "k": 3, "filters": {"section": "politics"}})
    body = response.get_json()
    assert response.status_code == 200 and body["shape"] == "json" and body["id"] == "cms-42"
    assert list(body["document"]) == list(draft)
    assert body["document"]["read_also"][0] == {"headline": "An editor's own pick", "url": None}
    assert body["block"] == body["document"]["read_also"] and len(body["block"]) == 3
    assert all(item["id"].startswith("election-") for item in body["read_also"][1:])
    replaced = client.post("/v1/suggest", json={"draft": draft, "k": 2, "replace": True}).get_json()
    assert [item["source"] for item in replaced["read_also"]] == ["engine", "engine"]


@pytest.mark.parametrize("body, parameter", [
    ({}, "draft"), ({"draft": "  "}, "draft"), ({"draft": 3}, "draft"), ([1], "body"),
    ({"draft": "x", "shape": "pdf"}, "shape"), ({"draft": {"headline": "x"}, "shape": "html"}, "shape"),
    ({"draft": "x", "after": -1}, "after"), ({"draft": "x", "after": True}, "after"),
    ({"draft": "x", "replace": "yes"}, "replace"), ({"draft": "x", "k": 0}, "k"),
    ({"draft": "x", "filters": {"colour": "red"}}, "filters"),
    ({"draft": "<html><body><nav>No headline, no paragraph.</nav></body></html>"}, "draft"),
    ({"draft": "{not json", "shape": "json"}, "draft"),
    ({"draft": '[{"headline": "a"}, {"headline": "b"}]'}, "draft"),
])
def test_bad_requests_are_422_naming_the_field(client, body, parameter):
    error_of(client.post("/v1/suggest", json=body), 422, parameter)


def test_other_media_types_are_415(client):
    error_of(client.post("/v1/suggest", data=STORM_TEXT, content_type="text/plain"), 415, "Content-Type")
