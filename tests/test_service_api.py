"""Every route and every error of the service, through the Flask test client."""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import time
from datetime import UTC, datetime

import pytest

from conftest import API_TOKEN, HOSTILE_HEADLINE, build_model
from recommender import batch, versions
from recommender.articles import MAX_K
from recommender.store import Store

RELATED = "/v1/articles/storm-1/related"
FIELDS = ["id", "headline", "url", "section", "published_at", "score", "editor_probability", "reason"]


def error_of(response, status: int, code: str | None = None, parameter: str | None = None) -> dict:
    """Assert the one error shape and return its body."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"}
    error = body["error"]
    assert error["status"] == status and isinstance(error["message"], str) and error["message"]
    assert "Traceback" not in response.get_data(as_text=True)
    if code:
        assert error["code"] == code
    if parameter:
        assert error.get("parameter") == parameter, error
    return error


# -- rankings ---------------------------------------------------------------------------------
def test_related_ranks_the_planted_story_first(client):
    response = client.get(RELATED, query_string={"k": 3})
    assert response.status_code == 200
    body = response.get_json()
    assert body["article_id"] == "storm-1" and body["model_version"].startswith("v")
    assert [item["id"] for item in body["related"]] and all(list(item) == FIELDS for item in body["related"])
    assert {item["id"] for item in body["related"]} == {"storm-2", "storm-3", "storm-hostile"}
    scores = [item["score"] for item in body["related"]]
    assert scores == sorted(scores, reverse=True)
    assert body["related"][0]["reason"]


def test_related_equals_the_engine_library(client, app):
    """No second scoring path: the API answers what Engine.related answers."""
    engine = app.extensions["readalso"].current().engine
    expected = engine.related("election-1", 4, diversity=0.3)
    body = client.get("/v1/articles/election-1/related?k=4&diversity=0.3").get_json()
    assert [(i["id"], i["score"], i["reason"]) for i in body["related"]] == \
           [(r.id, r.score, r.reason) for r in expected]


def test_related_filters(client):
    section = client.get(RELATED, query_string={"k": 10, "section": "technology"}).get_json()["related"]
    assert section and {item["section"] for item in section} == {"technology"}
    excluded = client.get(RELATED, query_string={"k": 10, "exclude": "storm-2,storm-3"}).get_json()["related"]
    repeated = client.get(RELATED + "?k=10&exclude=storm-2&exclude=storm-3").get_json()["related"]
    assert excluded == repeated and not {"storm-2", "storm-3"} & {item["id"] for item in excluded}
    recent = client.get(RELATED, query_string={"k": 10, "max_age_days": 0.001}).get_json()["related"]
    assert recent == []  # the planted corpus is older than a minute and a half


@pytest.mark.parametrize("seconds, calls", [(30, 1), (0, 3)])
def test_rankings_are_reused_for_a_while(make_app, seconds, calls):
    app = make_app(RANKING_CACHE_SECONDS=seconds)
    engine = app.extensions["readalso"].current().engine
    made, real = [], engine.related
    engine.related = lambda *a, **k: made.append(a) or real(*a, **k)
    client = app.test_client()
    answers = [client.get(RELATED).get_json() for _ in range(3)]
    assert len(made) == calls and answers[0] == answers[1] == answers[2]
    client.get(RELATED + "?k=2")
    assert len(made) == calls + 1  # other parameters, other entry


def test_related_etag_and_cache_control(client):
    first = client.get(RELATED)
    assert first.headers["ETag"] and "max-age=60" in first.headers["Cache-Control"]
    assert "public" in first.headers["Cache-Control"]
    again = client.get(RELATED, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.get_data() == b""
    other = client.get(RELATED + "?k=2", headers={"If-None-Match": first.headers["ETag"]})
    assert other.status_code == 200 and other.headers["ETag"] != first.headers["ETag"]


@pytest.mark.parametrize("query, parameter", [
    ("k=0", "k"), (f"k={MAX_K + 1}", "k"), ("k=ten", "k"), ("k=2.5", "k"),
    ("max_age_days=0", "max_age_days"), ("max_age_days=-3", "max_age_days"), ("max_age_days=soon", "max_age_days"),
    ("max_age_days=nan", "max_age_days"), ("diversity=1.5", "diversity"), ("diversity=-0.1", "diversity"),
    ("diversity=x", "diversity"), ("section=" + "s" * 101, "section"),
])
def test_related_bad_parameter_is_400_naming_it(client, query, parameter):
    error = error_of(client.get(f"{RELATED}?{query}"), 400, "bad_request", parameter)
    assert parameter in error["message"]


def test_related_unknown_article_is_404(client):
    error_of(client.get("/v1/articles/no-such-story/related"), 404, "not_found", "id")


def test_related_to_text(client):
    response = client.post("/v1/related", json={"headline": "Mayor recount", "body": "ballot council vote",
                                                 "k": 2, "filters": {"section": "politics"}})
    assert response.status_code == 200
    items = response.get_json()["related"]
    assert len(items) == 2 and all(item["id"].startswith("election-") for item in items)
    assert all(list(item) == FIELDS for item in items)
    excluded = client.post("/v1/related", json={"headline": "Mayor recount",
                                                "filters": {"exclude": [items[0]["id"]]}}).get_json()["related"]
    assert items[0]["id"] not in {item["id"] for item in excluded}


@pytest.mark.parametrize("body, parameter", [
    ({}, "headline"), ({"headline": " ", "body": ""}, "headline"), ({"headline": 3}, "headline"),
    ({"headline": "x", "k": 0}, "k"), ({"headline": "x", "k": "5"}, "k"), ({"headline": "x", "k": MAX_K + 1}, "k"),
    ({"headline": "x", "filters": []}, "filters"), ({"headline": "x", "filters": {"colour": "red"}}, "filters"),
    ({"headline": "x", "filters": {"max_age_days": -1}}, "filters.max_age_days"),
    ({"headline": "x", "filters": {"exclude": "a"}}, "filters.exclude"),
    ({"headline": "x", "diversity": 2}, "diversity"), ([1, 2], "body"),
])
def test_related_to_text_unprocessable_is_422(client, body, parameter):
    error_of(client.post("/v1/related", json=body), 422, "unprocessable", parameter)


def test_related_to_text_malformed_json_is_400_and_other_types_415(client):
    error_of(client.post("/v1/related", data="{nope", content_type="application/json"), 400, "bad_request", "body")
    error_of(client.post("/v1/related", data="headline=x", content_type="application/x-www-form-urlencoded"),
             415, "unsupported_media_type", "Content-Type")
    error_of(client.post("/v1/related", data="x"), 415, "unsupported_media_type")


# -- articles ---------------------------------------------------------------------------------
def test_get_article(client):
    response = client.get("/v1/articles/storm-2")
    body = response.get_json()
    assert response.status_code == 200 and body["id"] == "storm-2" and body["section"] == "climate"
    assert body["read_also"] == [{"headline": "Storm Ardent floods coastal towns as river barriers fail",
                                  "url": None, "target_id": "storm-1"}]
    assert response.headers["ETag"]
    assert client.get("/v1/articles/storm-2", headers={"If-None-Match": response.headers["ETag"]}).status_code == 304
    error_of(client.get("/v1/articles/nope"), 404, "not_found", "id")


NEW_STORY = {"headline": "Storm Ardent: rebuilding the broken flood barriers begins",
             "body": "Engineers rebuild the flood barrier and levee on the river estuary after the storm surge. "
                     "Sandbag walls stay until the tide forecast improves. Coastal towns count water damage.",
             "section": "climate", "url": "https://news.example/climate/storm-rebuild",
             "published_at": "2026-11-01T09:00:00Z"}


def test_put_article_is_recommendable_at_once(client, auth):
    related = client.get("/v1/articles/storm-2/related?k=5").get_json()["related"]
    assert "storm-rebuild" not in {i["id"] for i in related}
    response = client.put("/v1/articles/storm-rebuild", json=NEW_STORY, headers=auth)
    assert response.status_code == 201 and response.get_json() == {"id": "storm-rebuild", "status": "new"}
    assert response.headers["Location"] == "/v1/articles/storm-rebuild"
    assert client.get("/v1/articles/storm-rebuild").get_json()["headline"] == NEW_STORY["headline"]
    own = client.get("/v1/articles/storm-rebuild/related?k=3").get_json()["related"]
    assert {item["id"] for item in own} <= {"storm-1", "storm-2", "storm-3", "storm-hostile"}
    others = client.get("/v1/articles/storm-2/related?k=5").get_json()["related"]
    assert "storm-rebuild" in {item["id"] for item in others}
    again = client.put("/v1/articles/storm-rebuild", json=NEW_STORY, headers=auth)
    assert again.status_code == 200 and again.get_json()["status"] == "unchanged"
    changed = client.put("/v1/articles/storm-rebuild", json={**NEW_STORY, "headline": "Barrier rebuild starts"},
                         headers=auth)
    assert changed.status_code == 200 and changed.get_json()["status"] == "updated"
    assert client.get("/v1/articles/storm-rebuild").get_json()["headline"] == "Barrier rebuild starts"


def test_put_article_errors(client, auth):
    error_of(client.put("/v1/articles/x", json={"id": "y", "headline": "h"}, headers=auth), 422, "unprocessable", "id")
    error_of(client.put("/v1/articles/x", json={"body": "no headline"}, headers=auth), 422, "unprocessable")
    error_of(client.put("/v1/articles/x", json={"headline": "h", "published_at": "someday"}, headers=auth), 422)
    error_of(client.put("/v1/articles/x", json=["h"], headers=auth), 422, "unprocessable", "body")
    error_of(client.put("/v1/articles/x", data="<xml/>", content_type="application/xml", headers=auth), 415)
    error_of(client.put("/v1/articles/x", data="{", content_type="application/json", headers=auth), 400)


def test_post_articles_json_array_and_json_lines(client, auth):
    batch = [{**NEW_STORY, "id": "a-1"}, {"id": "a-2", "headline": "Veltrix chip plant output doubles",
                                           "body": "chip semiconductor wafer fabrication plant output",
                                           "section": "technology"}]
    response = client.post("/v1/articles", json=batch, headers=auth)
    assert response.status_code == 200
    assert response.get_json()["counts"] == {"new": 2, "updated": 0, "unchanged": 0}
    lines = "\n".join(json.dumps(item) for item in [{**batch[0], "headline": "Changed"}, batch[1]]) + "\n"
    response = client.post("/v1/articles", data=lines, content_type="application/x-ndjson", headers=auth)
    assert response.get_json()["counts"] == {"new": 0, "updated": 1, "unchanged": 1}
    assert "a-2" in {i["id"] for i in client.get("/v1/articles/chips-1/related?k=5").get_json()["related"]}


def test_post_articles_is_all_or_none(client, auth):
    bad = [{"id": "ok-1", "headline": "Fine"}, {"id": "bad-1"}]
    error_of(client.post("/v1/articles", json=bad, headers=auth), 422, "unprocessable", "[1]")
    error_of(client.get("/v1/articles/ok-1"), 404)
    twice = client.post("/v1/articles", json=[{"id": "d", "headline": "a"}, {"id": "d", "headline": "b"}], headers=auth)
    assert twice.get_json()["results"] == [{"id": "d", "status": "new"}]  # the later record replaces the earlier
    assert client.get("/v1/articles/d").get_json()["headline"] == "b"
    error_of(client.post("/v1/articles", json=[], headers=auth), 422, parameter="body")
    error_of(client.post("/v1/articles", data='{"id": "x", "headline": "h"}\n{oops\n',
                         content_type="application/x-ndjson", headers=auth), 400, parameter="line 2")
    error_of(client.post("/v1/articles", data="id,headline", content_type="text/csv", headers=auth), 415)


# -- auth -------------------------------------------------------------------------------------
WRITES = [("put", "/v1/articles/x", {"headline": "h"}), ("post", "/v1/articles", [{"headline": "h"}]),
          ("post", "/v1/admin/reload", None)]


@pytest.mark.parametrize("method, path, body", WRITES)
def test_write_routes_need_the_token(client, method, path, body):
    send = getattr(client, method)
    missing = send(path, json=body)
    error_of(missing, 401, "unauthorized", "Authorization")
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    error_of(send(path, json=body, headers={"Authorization": "Bearer wrong"}), 401, "unauthorized")
    error_of(send(path, json=body, headers={"Authorization": f"Basic {API_TOKEN}"}), 401)


@pytest.mark.parametrize("method, path, body", WRITES)
def test_write_routes_are_disabled_without_a_token(make_app, method, path, body):
    client = make_app(API_TOKEN=None).test_client()
    error_of(getattr(client, method)(path, json=body, headers={"Authorization": "Bearer anything"}),
             403, "writes_disabled")


def test_token_compared_in_constant_time(monkeypatch, client, auth):
    import hmac
    calls = []
    real = hmac.compare_digest
    monkeypatch.setattr(hmac, "compare_digest", lambda a, b: calls.append((a, b)) or real(a, b))
    client.put("/v1/articles/x", json={"headline": "h"}, headers=auth)
    assert calls == [(API_TOKEN.encode(), API_TOKEN.encode())]


# -- generic errors ---------------------------------------------------------------------------
def test_unknown_route_404_and_wrong_method_405(client):
    error_of(client.get("/v2/nothing"), 404, "not_found")
    response = client.delete(RELATED)
    error_of(response, 405, "method_not_allowed")
    assert "GET" in response.headers["Allow"]
    error_of(client.get("/v1/related"), 405)


def test_body_too_large_is_413(make_app, auth):
    client = make_app(MAX_CONTENT_LENGTH=1000).test_client()
    error_of(client.post("/v1/related", json={"headline": "x", "body": "y" * 2000}), 413, "payload_too_large")
    error_of(client.post("/v1/articles", data="x" * 5000, content_type="application/x-ndjson", headers=auth), 413)


def test_unexpected_error_is_500_without_traceback(app, client, monkeypatch, caplog):
    engine = app.extensions["readalso"].current().engine
    monkeypatch.setattr(engine, "related", lambda *a, **k: 1 / 0)
    with caplog.at_level(logging.ERROR):
        response = client.get(RELATED, headers={"X-Request-ID": "req-500"})
    error = error_of(response, 500, "internal_error")
    assert "req-500" in error["message"] and "ZeroDivision" not in response.get_data(as_text=True)
    assert any(r.exc_info and r.request_id == "req-500" for r in caplog.records)


def test_no_model_is_503_and_not_ready(tmp_path, make_app):
    client = make_app(DB=tmp_path / "empty.db").test_client()
    assert client.get("/healthz").get_json() == {"status": "ok"}
    error_of(client.get("/readyz"), 503, "not_ready")
    error_of(client.get(RELATED), 503, "model_unavailable")
    error_of(client.post("/v1/related", json={"headline": "x"}), 503)


# -- reload -----------------------------------------------------------------------------------
def test_reload_swaps_in_the_newest_artifact(app, client, auth, service_db):
    before = client.get(RELATED).get_json()["model_version"]
    old = app.extensions["readalso"].current()
    with Store(service_db) as store:
        newer = build_model(store, service_db.with_suffix(".artifacts")).name
    assert client.get(RELATED).get_json()["model_version"] == before  # built is not served until reloaded
    response = client.post("/v1/admin/reload", headers=auth)
    assert response.status_code == 200
    assert response.get_json() == {"previous": before, "version": newer, "articles": 10}
    assert client.get(RELATED).get_json()["model_version"] == newer
    assert old.engine.related("storm-1", 2)  # a request still holding the old snapshot can finish on it
    named = client.post("/v1/admin/reload", json={"version": before}, headers=auth)
    assert named.get_json()["version"] == before
    error_of(client.post("/v1/admin/reload", json={"version": "../etc"}, headers=auth), 404, "not_found", "version")


def test_reload_refuses_a_broken_artifact_and_keeps_serving(app, client, auth, service_db):
    serving = client.get(RELATED).get_json()
    with Store(service_db) as store:
        broken = build_model(store, service_db.with_suffix(".artifacts"))
    data = broken / "matrix_data.npy"
    data.write_bytes(data.read_bytes()[:-8] + b"\x00" * 8)  # corrupt the arrays: the checksum no longer matches
    error = error_of(client.post("/v1/admin/reload", headers=auth), 422, "artifact_refused")
    assert "checksum" in error["message"] and serving["model_version"] in error["message"]
    after = client.get(RELATED)
    assert after.status_code == 200 and after.get_json() == serving
    assert 'readalso_model_reloads_total{outcome="refused"} 1.0' in client.get("/metrics").get_data(as_text=True)


def test_a_request_in_flight_finishes_on_the_model_it_started_with(app, client, auth, service_db):
    holder = app.extensions["readalso"]
    started = holder.current()
    with Store(service_db) as store:
        newer = build_model(store, service_db.with_suffix(".artifacts")).name
    real = started.engine.related

    def reload_meanwhile(*args, **kwargs):
        holder.reload()  # another request swaps the model while this one is ranking
        return real(*args, **kwargs)

    started.engine.related = reload_meanwhile
    body = client.get(RELATED).get_json()
    assert body["model_version"] == started.version != newer
    assert holder.current().version == newer
    assert client.get(RELATED).get_json()["model_version"] == newer


def test_reload_refuses_a_missing_artifact(client, auth, service_db):
    (service_db.with_suffix(".artifacts") / "CURRENT").write_text("v-gone")
    error_of(client.post("/v1/admin/reload", headers=auth), 422, "artifact_refused")
    assert client.get(RELATED).status_code == 200


def test_workers_follow_writes_and_reloads_of_another_process(make_app, auth, service_db):
    """Two apps on one store stand for two gunicorn workers."""
    one, two = make_app().test_client(), make_app().test_client()
    before = two.get("/v1/articles/storm-2/related?k=5").get_json()["related"]  # now in two's ranking cache
    assert "storm-rebuild" not in {i["id"] for i in before}
    assert one.put("/v1/articles/storm-rebuild", json=NEW_STORY, headers=auth).status_code == 201
    assert "storm-rebuild" in {i["id"] for i in two.get("/v1/articles/storm-2/related?k=5").get_json()["related"]}
    assert two.get("/v1/articles/storm-rebuild/related").status_code == 200
    with Store(service_db) as store:
        newer = build_model(store, service_db.with_suffix(".artifacts")).name
    assert one.post("/v1/admin/reload", headers=auth).get_json()["version"] == newer
    assert two.get(RELATED).get_json()["model_version"] == newer


# -- events -----------------------------------------------------------------------------------
def test_events_are_counted(client, service_db):
    now_ms = int(time.time() * 1000)
    impressions = [{"type": "impression", "article": "storm-1", "target": t, "position": p, "time": now_ms}
                   for p, t in enumerate(["storm-2", "storm-3"], 1)]
    assert client.post("/v1/events", json=impressions).status_code == 202
    assert client.post("/v1/events", json=impressions).status_code == 202
    click = {"type": "click", "article": "storm-1", "target": "storm-3", "position": 2,
             "time": datetime.now(UTC).isoformat().replace("+00:00", "Z")}
    response = client.post("/v1/events", data=json.dumps(click), content_type="text/plain;charset=UTF-8")
    assert response.status_code == 202 and response.get_json() == {"stored": 1, "dropped": 0}
    with Store(service_db) as store:
        events = store.events.query(article_id="storm-1")
    assert [(e["type"], e["target_id"], e["position"], e["count"]) for e in events] == \
           [("impression", "storm-2", 1, 2), ("impression", "storm-3", 2, 2), ("click", "storm-3", 2, 1)]
    assert events[0]["day"] == datetime.now(UTC).date().isoformat()
    assert {e["model_version"] for e in events} == {client.get("/readyz").get_json()["model_version"]}


@pytest.mark.parametrize("body, parameter", [
    ({"type": "view", "article": "a"}, "type"), ({"type": "click", "article": "a"}, "target"),
    ({"type": "impression"}, "article"), ({"type": "impression", "article": 5}, "article"),
    ({"type": "impression", "article": "a", "position": -1}, "position"),
    ({"type": "impression", "article": "a", "time": "yesterday"}, "time"),
    ([{"type": "impression", "article": "a"}, {"type": "x", "article": "a"}], "events[1].type"),
    ([], "events"), ("click", "body"),
])
def test_bad_events_are_422(client, body, parameter):
    error_of(client.post("/v1/events", json=body), 422, "unprocessable", parameter)


def test_events_content_types(client):
    error_of(client.post("/v1/events", data="{", content_type="text/plain"), 400, "bad_request", "body")
    error_of(client.post("/v1/events", data="a=b", content_type="application/x-www-form-urlencoded"), 415)


# -- operations -------------------------------------------------------------------------------
def test_readyz_and_healthz(client):
    ready = client.get("/readyz").get_json()
    assert ready["status"] == "ready" and ready["articles"] == 10 and ready["model_version"].startswith("v")
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_readyz_when_the_store_is_unreachable(app, client, monkeypatch):
    store = app.extensions["readalso"].current().store
    monkeypatch.setattr(store.articles, "count", lambda: (_ for _ in ()).throw(sqlite3.OperationalError("disk gone")))
    error = error_of(client.get("/readyz"), 503, "not_ready")
    assert "disk gone" in error["message"]


def test_readyz_does_not_pass_a_bug_off_as_an_unreachable_store(app, client, monkeypatch):
    store = app.extensions["readalso"].current().store
    monkeypatch.setattr(store.articles, "count", lambda: (_ for _ in ()).throw(KeyError("a bug")))
    error_of(client.get("/readyz"), 500, "internal_error")


def samples(text: str) -> dict[tuple, float]:
    """Prometheus text parsed into ``{(name, frozenset(labels)): value}``."""
    from prometheus_client.parser import text_string_to_metric_families
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_metrics_in_prometheus_text_format(client):
    client.get(RELATED)
    client.get("/v1/articles/nope/related")
    response = client.get("/metrics")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    found = samples(response.get_data(as_text=True))
    route = ("route", "/v1/articles/<article_id>/related")
    assert found["readalso_http_requests_total", frozenset({route, ("method", "GET"), ("status", "200")})] == 1
    assert found["readalso_http_requests_total", frozenset({route, ("method", "GET"), ("status", "404")})] == 1
    assert found["readalso_http_request_duration_seconds_count", frozenset({route, ("method", "GET")})] == 2
    labels = frozenset({route, ("method", "GET"), ("le", "+Inf")})
    assert found["readalso_http_request_duration_seconds_bucket", labels] == 2
    versions = [dict(labels)["version"] for name, labels in found if name == "readalso_model_info"]
    assert len(versions) == 1 and versions[0].startswith("v")
    assert found["readalso_articles", frozenset()] == 10


def test_openapi_documents_every_route(app, client):
    document = client.get("/openapi.json").get_json()
    assert document["openapi"].startswith("3.1")
    documented = {(path, method.upper()) for path, item in document["paths"].items() for method in item}
    served = set()
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:\w+:)?(\w+)>", "{id}", rule.rule)
        served |= {(path, m) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert served == documented
    refs = set(re.findall(r'"#/components/(\w+)/(\w+)"', json.dumps(document)))
    assert all(name in document["components"][kind] for kind, name in refs)


def test_cors_allow_list(make_app):
    client = make_app(CORS_ORIGINS="https://paper.example, https://other.example").test_client()
    allowed = client.get(RELATED, headers={"Origin": "https://paper.example"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://paper.example"
    assert "Origin" in allowed.headers["Vary"]
    assert "Access-Control-Allow-Origin" not in client.get(RELATED, headers={"Origin": "https://evil.example"}).headers
    preflight = client.options("/v1/related", headers={"Origin": "https://other.example",
                                                       "Access-Control-Request-Method": "POST"})
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://other.example"
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    anyone = make_app(CORS_ORIGINS=["*"]).test_client()
    assert anyone.get(RELATED, headers={"Origin": "https://x.example"}).headers["Access-Control-Allow-Origin"] == "*"


def test_k_is_the_library_range_and_may_only_be_lowered(make_app):
    from service import load_config

    assert load_config()["MAX_K"] == MAX_K
    assert load_config({"MAX_K": 20})["MAX_K"] == 20
    for wrong in (0, MAX_K + 1):
        with pytest.raises(ValueError, match="MAX_K"):
            load_config({"MAX_K": wrong})
    client = make_app(MAX_K=3).test_client()
    error_of(client.get(f"{RELATED}?k=4"), 400, "bad_request", "k")
    assert len(client.get(f"{RELATED}?k=3").get_json()["related"]) == 3


def test_metrics_answer_when_the_store_does_not(app, client, monkeypatch):
    store = app.extensions["readalso"].current().store
    def gone(*keys):
        raise sqlite3.OperationalError("disk gone")

    monkeypatch.setattr(store.meta, "get_many", gone)
    assert client.get("/metrics").status_code == 200


def test_config_layers(tmp_path, make_app, monkeypatch, service_db):
    settings = tmp_path / "readalso.json"
    settings.write_text(json.dumps({"CACHE_MAX_AGE": 5, "MAX_K": 7}))
    monkeypatch.setenv("READALSO_CONFIG", str(settings))
    monkeypatch.setenv("READALSO_MAX_K", "8")
    monkeypatch.setenv("READALSO_API_TOKEN", "12345")
    monkeypatch.setenv("READALSO_CORS_ORIGINS", "https://a.example,https://b.example")
    app = make_app(API_TOKEN=None, DB=str(service_db))
    assert app.config["CACHE_MAX_AGE"] == 5 and app.config["MAX_K"] == 8
    assert app.config["CORS_ORIGINS"] == ["https://a.example", "https://b.example"]
    assert app.config["API_TOKEN"] is None  # create_app's own config wins over the environment
    monkeypatch.setenv("READALSO_DB", str(service_db))
    from service import create_app
    env_app = create_app({"CONFIGURE_LOGGING": False})
    assert env_app.config["API_TOKEN"] == "12345" and env_app.config["DB"] == service_db  # a str, not the int 12345
    assert env_app.extensions["readalso"] is not app.extensions["readalso"]


def test_request_id_in_responses_and_log_lines(client, caplog):
    with caplog.at_level(logging.INFO):
        chosen = client.get(RELATED, headers={"X-Request-ID": "abc-123"})
        made = client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert chosen.headers["X-Request-ID"] == "abc-123"
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["X-Request-ID"])
    lines = [r for r in caplog.records if r.name == "service"]
    assert {r.request_id for r in lines} >= {"abc-123", made.headers["X-Request-ID"]}


# -- widget and demo page ---------------------------------------------------------------------
def test_widget_script_is_small_plain_and_safe(client):
    response = client.get("/widget.js")
    assert response.status_code == 200 and response.mimetype == "text/javascript"
    source = response.get_data(as_text=True)
    import gzip
    assert len(source.encode()) < 10_000 and len(gzip.compress(source.encode())) < 4_000
    assert "innerHTML" not in source and "insertAdjacentHTML" not in source and "document.write" not in source
    assert "IntersectionObserver" in source and "sendBeacon" in source and "textContent" in source
    assert "--readalso-" in source
    assert client.get("/widget.js", headers={"If-None-Match": response.headers["ETag"]}).status_code == 304


def test_demo_page_embeds_the_widget_and_escapes_the_article(client):
    page = client.get("/demo/storm-hostile")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page.mimetype == "text/html"
    nonce = re.search(r"style-src 'nonce-([^']+)'", page.headers["Content-Security-Policy"]).group(1)
    assert 'data-readalso-article="storm-hostile"' in html
    assert f'<script src="/widget.js" nonce="{nonce}" async></script>' in html and f'<style nonce="{nonce}">' in html
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert client.get("/demo").headers["Location"].startswith("/demo/")
    error_of(client.get("/demo/nope"), 404)


def test_hostile_headline_is_served_as_data(client):
    items = client.get(RELATED).get_json()["related"]
    assert HOSTILE_HEADLINE in {item["headline"] for item in items}


def test_which_path_answered_is_a_header_and_counted(make_app, service_db):
    app = make_app(RANKING_CACHE_SECONDS=60)
    client = app.test_client()
    assert client.get(RELATED).headers["X-Readalso-Path"] == "live"  # no batch lists yet
    assert client.get(RELATED).headers["X-Readalso-Path"] == "cached"
    assert client.post("/v1/related", json={"headline": "Storm floods the coast"}).headers["X-Readalso-Path"] == "live"
    batch.run_batch(versions.current(service_db), db=service_db, k=10, progress=False)
    stored = make_app(RANKING_CACHE_SECONDS=0).test_client()
    response = stored.get(RELATED)
    assert response.headers["X-Readalso-Path"] == "stored"
    found = samples(client.get("/metrics").get_data(as_text=True))
    assert found["readalso_rankings_total", frozenset({("path", "live")})] == 2
    assert found["readalso_rankings_total", frozenset({("path", "cached")})] == 1
    found = samples(stored.get("/metrics").get_data(as_text=True))
    assert found["readalso_rankings_total", frozenset({("path", "stored")})] == 1
