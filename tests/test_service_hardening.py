"""Hostile input, floods and faults, through the Flask test client: each test is a probe that once
broke the service (a 500, a stored javascript: link, an unbounded write) and the answer it gets now."""

from __future__ import annotations

import io
import json
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from conftest import API_TOKEN
from recommender.articles import MAX_K, check_url
from recommender.store import Store
from test_service_api import error_of

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
STORY = {"headline": "Storm Ardent: barrier rebuild begins", "body": "Engineers rebuild the flood barrier."}


def now_ms() -> int:
    return int(time.time() * 1000)


def impression(**fields) -> dict:
    return {"type": "impression", "article": "storm-1", "target": "storm-2", "position": 1, "time": now_ms(),
            **fields}


# -- 1. script injection ----------------------------------------------------------------------
@pytest.mark.parametrize("url", ["javascript:alert(document.domain)", " JavaScript:alert(1)", "data:text/html,<b>x",
                                 "vbscript:x", "//evil.example/x", "https://", "http://exa mple.com/"])
def test_check_url_refuses_everything_but_absolute_http_urls(url):
    with pytest.raises(ValueError, match="url"):
        check_url(url)


def test_check_url_keeps_http_urls():
    assert check_url(" https://news.example/a?b=1 ") == "https://news.example/a?b=1"
    assert check_url("HTTP://news.example/") == "HTTP://news.example/"


@pytest.mark.parametrize("field", ["url", "read_also"])
def test_write_routes_refuse_a_javascript_url_and_store_nothing(client, service_db, field):
    evil = "javascript:alert(document.domain)"
    article = {**STORY, "url": evil} if field == "url" else {**STORY, "read_also": [{"headline": "x", "url": evil}]}
    error = error_of(client.put("/v1/articles/evil-1", json=article, headers=AUTH), 422, "unprocessable")
    assert "http(s)" in error["message"]
    error_of(client.post("/v1/articles", json=[{**STORY, "id": "fine-1", "url": "https://news.example/f"},
                                               {**article, "id": "evil-2"}], headers=AUTH), 422, "unprocessable", "[1]")
    with Store(service_db) as store:
        assert store.get_many(["evil-1", "evil-2", "fine-1"]) == {}


@pytest.mark.parametrize("article", [{**STORY, "url": ""}, {**STORY, "url": 7}, {**STORY, "colour": "red"},
                                     {**STORY, "read_also": [{"headline": "x", "target_id": "storm-1"}]},
                                     {**STORY, "headline": 0}])
def test_article_input_is_json_as_the_spec_says(client, article):
    error_of(client.put("/v1/articles/odd-1", json=article, headers=AUTH), 422, "unprocessable", "body")


def test_every_response_carries_the_security_headers(client):
    responses = [client.get("/v1/articles/storm-1/related"), client.get("/v1/articles/nope"), client.get("/healthz"),
                 client.get("/widget.js"), client.get("/openapi.json"), client.get("/metrics"),
                 client.post("/v1/related", data="{", content_type="application/json"), client.get("/no-such-page")]
    for response in responses:
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert responses[3].headers["Cross-Origin-Resource-Policy"] == "cross-origin"  # other sites embed it


def test_demo_page_has_a_strict_policy_with_a_fresh_nonce(client):
    first, second = client.get("/demo/storm-1"), client.get("/demo/storm-1")
    policy = first.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "default-src 'none'" in policy and "'unsafe-inline'" not in policy
    assert "frame-ancestors 'none'" in policy and "connect-src 'self'" in policy
    assert policy != second.headers["Content-Security-Policy"]  # a nonce per response


def test_widget_never_writes_a_link_that_is_not_http(client):
    script = client.get("/widget.js").get_data(as_text=True)
    assert "link.href = href(item)" in script and "item.url;" not in script  # href() returns safeHref(...) only
    assert 'protocol === "https:" || parsed.protocol === "http:"' in script


def test_metrics_answer_private_addresses_or_the_token(make_app):
    public = {"REMOTE_ADDR": "203.0.113.9"}
    client = make_app().test_client()
    assert client.get("/metrics").status_code == 200  # loopback
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 200
    error_of(client.get("/metrics", environ_base=public), 403, "forbidden")
    client = make_app(METRICS_TOKEN="m-secret").test_client()
    error_of(client.get("/metrics"), 401, "unauthorized", "Authorization")
    assert client.get("/metrics", environ_base=public, headers={"Authorization": "Bearer m-secret"}).status_code == 200


# -- 2. costly requests and floods ------------------------------------------------------------
def test_events_flood_is_limited_with_429_and_retry_after(make_app):
    client = make_app(RATE_LIMIT_EVENTS="5/minute").test_client()
    answers = [client.post("/v1/events", json=[impression()]) for _ in range(8)]
    assert [a.status_code for a in answers] == [202] * 5 + [429] * 3
    error = error_of(answers[-1], 429, "too_many_requests")
    assert int(answers[-1].headers["Retry-After"]) > 0 and "5 per 1 minute" in error["message"]
    other = client.post("/v1/events", json=[impression()], environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert other.status_code == 202  # per client


@pytest.mark.parametrize("method, path, body", [
    ("post", "/v1/related", {"headline": "storm"}),
    ("post", "/v1/reading-list", {"history": ["storm-1"]}),
    ("get", "/v1/articles/storm-1/related", None),
])
def test_ranking_routes_are_limited(make_app, method, path, body):
    client = make_app(RATE_LIMIT_EXPENSIVE="2/minute", RATE_LIMIT_RELATED="2/minute").test_client()
    statuses = [getattr(client, method)(path, json=body).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


def test_behind_a_proxy_the_forwarded_client_is_limited(make_app):
    client = make_app(RATE_LIMIT_EVENTS="1/minute", TRUSTED_PROXIES=1).test_client()
    first = {"X-Forwarded-For": "198.51.100.1"}
    assert client.post("/v1/events", json=impression(), headers=first).status_code == 202
    assert client.post("/v1/events", json=impression(), headers=first).status_code == 429
    assert client.post("/v1/events", json=impression(), headers={"X-Forwarded-For": "198.51.100.2"}).status_code == 202


def test_reading_list_history_and_k_are_bounded(make_app):
    client = make_app(MAX_HISTORY=3).test_client()
    error_of(client.post("/v1/reading-list", json={"history": ["storm-1"] * 4}), 422, "unprocessable", "history")
    assert client.post("/v1/reading-list", json={"history": ["storm-1"] * 3, "k": MAX_K}).status_code == 200
    error_of(client.post("/v1/reading-list", json={"history": ["storm-1"], "k": MAX_K + 1}), 422, "unprocessable", "k")


def test_a_request_waits_for_the_engine_at_most_its_budget(make_app):
    app = make_app(REQUEST_BUDGET_SECONDS=0.2, RANKING_CACHE_SECONDS=0)
    client = app.test_client()
    snapshot = app.extensions["readalso"].current()
    held, release = threading.Event(), threading.Event()

    def hog():
        with snapshot.lock:
            held.set()
            release.wait(10)

    thread = threading.Thread(target=hog)
    thread.start()
    try:
        held.wait(5)
        started = time.monotonic()
        response = client.get("/v1/articles/storm-1/related")
        waited = time.monotonic() - started
    finally:
        release.set()
        thread.join()
    error_of(response, 503, "busy")
    assert response.headers["Retry-After"] == "1" and 0.15 < waited < 2
    assert client.get("/v1/articles/storm-1/related").status_code == 200


# -- 3. events --------------------------------------------------------------------------------
@pytest.mark.parametrize("event", [
    impression(article="no-such-article"), impression(target="no-such-article"),
    impression(time=now_ms() + 3_600_000),                 # an hour ahead
    impression(time="9999-12-31T00:00:00Z"),
    impression(time=now_ms() - 3 * 86_400_000),            # three days old
    impression(model="v-forged"), impression(model="../../etc"),
])
def test_events_about_unknown_articles_or_models_or_odd_times_are_dropped(client, service_db, event):
    response = client.post("/v1/events", json=[event, impression()])
    assert response.status_code == 202 and response.get_json() == {"stored": 1, "dropped": 1}
    with Store(service_db) as store:
        counted = [(e["article_id"], e["target_id"], e["count"]) for e in store.events.query()]
        assert counted == [("storm-1", "storm-2", 1)]


@pytest.mark.parametrize("event, parameter", [
    (impression(position=0), "position"), (impression(position=MAX_K + 1), "position"),
    (impression(time="soon"), "time"), (impression(model=7), "model"), (impression(article=" padded"), "article"),
])
def test_a_malformed_event_refuses_the_beacon(client, service_db, event, parameter):
    error_of(client.post("/v1/events", json=[impression(), event]), 422, "unprocessable", f"events[1].{parameter}")
    error_of(client.post("/v1/events", json=[impression()] * (MAX_K + 1)), 422, "unprocessable", "events")
    with Store(service_db) as store:
        assert store.events.query() == []


def test_events_of_a_served_or_built_model_are_kept_with_it(client, service_db):
    version = client.get("/readyz").get_json()["model_version"]
    assert client.post("/v1/events", json=[impression(model=version), impression()]).status_code == 202
    with Store(service_db) as store:
        assert [(e["model_version"], e["count"]) for e in store.events.query()] == [(version, 2)]


def test_events_volume_is_counts_not_rows(client, service_db):
    for _ in range(20):
        assert client.post("/v1/events", json=[impression()] * 50).status_code == 202
    with Store(service_db) as store:
        rows = store.events.query()
        table_rows = store._db.execute("SELECT COUNT(*) FROM event_counts").fetchone()[0]
    assert table_rows == 1 and rows[0]["count"] == 1000


def test_old_event_days_are_dropped_after_the_retention(tmp_path):
    with Store(tmp_path / "s.db") as store:
        old = datetime(2026, 1, 1, tzinfo=UTC)
        store.events.record_many([{"type": "click", "article_id": "a", "target_id": "b", "position": 1}], now=old)
        store.events.record_many([{"type": "click", "article_id": "a", "target_id": "b", "position": 1}],
                            now=old + timedelta(days=5), retention_days=10)
        assert [e["day"] for e in store.events.query()] == ["2026-01-01", "2026-01-06"]
        store.events.record_many([{"type": "impression", "article_id": "a"}], now=old + timedelta(days=40),
                            retention_days=10)
        kept = [(e["day"], e["type"], e["target_id"]) for e in store.events.query()]
        assert kept == [("2026-02-10", "impression", None)]


def test_events_only_from_configured_origins(make_app):
    client = make_app(CORS_ORIGINS="https://news.example").test_client()
    error_of(client.post("/v1/events", json=impression(), headers={"Origin": "https://evil.example"}),
             403, "origin_not_allowed", "Origin")
    error_of(client.post("/v1/events", json=impression()), 403, "origin_not_allowed")
    assert client.post("/v1/events", json=impression(), headers={"Origin": "https://news.example"}).status_code == 202
    assert client.post("/v1/events", json=impression(), headers={"Origin": "http://localhost"}).status_code == 202
    open_client = make_app().test_client()  # no origins configured: any
    assert open_client.post("/v1/events", json=impression(), headers={"Origin": "https://x.example"}).status_code == 202


def test_a_full_disk_makes_readyz_not_ready(make_app):
    client = make_app(MIN_FREE_DISK_BYTES=10**18).test_client()
    error = error_of(client.get("/readyz"), 503, "not_ready")
    assert "disk nearly full" in error["message"]


def test_a_failed_write_answers_503_and_readyz_follows(app, client, monkeypatch):
    def full(*args, **kwargs):
        raise sqlite3.OperationalError("database or disk is full")

    assert client.get("/readyz").status_code == 200
    store = app.extensions["readalso"].current().store
    monkeypatch.setattr(store.events, "record_many", full)
    monkeypatch.setattr(store.articles, "upsert_many", full)
    response = client.post("/v1/events", json=impression())
    error_of(response, 503, "store_unwritable")
    assert 29 <= int(response.headers["Retry-After"]) <= 30
    error_of(client.put("/v1/articles/new-1", json=STORY, headers=AUTH), 503, "store_unwritable")
    assert "disk is full" in error_of(client.get("/readyz"), 503, "not_ready")["message"]


# -- 4. uploads -------------------------------------------------------------------------------
def jsonl(n: int, size: int = 1024) -> bytes:
    lines = []
    for i in range(n):
        line = json.dumps({"id": f"bulk-{i}", "headline": f"Bulk story {i}", "body": ""})
        lines.append(line[:-1] + ', "section": "' + "x" * (size - len(line) - 16) + '"}')
    return ("\n".join(lines) + "\n").encode()


def chunked_post(client, path: str, body: bytes):
    """A POST as a server hands over a chunked body: no Content-Length, the input ends where the body does."""
    environ = EnvironBuilder(path=path, method="POST", input_stream=io.BytesIO(body), headers={
        **AUTH, "Content-Type": "application/x-ndjson", "Transfer-Encoding": "chunked"}).get_environ()
    del environ["CONTENT_LENGTH"]
    environ["wsgi.input_terminated"] = True
    return client.open(Request(environ))


def test_a_chunked_body_over_the_limit_is_413_and_nothing_is_stored(make_app, service_db):
    client = make_app(MAX_CONTENT_LENGTH=64 * 1024).test_client()
    response = chunked_post(client, "/v1/articles", jsonl(72))  # 72 KiB: refused whole, never cut at 64
    error = error_of(response, 413, "payload_too_large", "body")
    assert "65536 bytes" in error["message"]
    with Store(service_db) as store:
        assert store.get_many([f"bulk-{i}" for i in range(72)]) == {}
    smaller = chunked_post(client, "/v1/articles", jsonl(60))
    assert smaller.status_code == 200 and smaller.get_json()["counts"]["new"] == 60


def test_a_batch_with_one_bad_article_stores_none(client, service_db):
    records = [{"id": f"batch-{i}", **STORY} for i in range(5)] + [{"id": "batch-bad", "headline": ""}]
    error_of(client.post("/v1/articles", json=records, headers=AUTH), 422, "unprocessable", "[5]")
    with Store(service_db) as store:
        assert store.get_many([f"batch-{i}" for i in range(5)]) == {}


# -- 5. bad input that used to be a 500 -------------------------------------------------------
@pytest.mark.parametrize("body, status, parameter", [
    ({"headline": "storm", "language": "english"}, 422, "language"),
    ({"headline": "storm", "language": 7}, 422, "language"),
    ({"headline": "   ", "body": " " * 250 + "storm flood barrier"}, 200, None),
    ({"headline": " \t", "body": " " * 250}, 422, "headline"),
    ({"headline": 0}, 422, "headline"),
])
def test_related_to_text_odd_input(client, body, status, parameter):
    response = client.post("/v1/related", json=body)
    if status == 200:
        assert response.status_code == 200 and response.get_json()["related"]
    else:
        error_of(response, status, "unprocessable", parameter)


@pytest.mark.parametrize("path", ["/v1/related", "/v1/events", "/v1/reading-list", "/v1/articles",
                                  "/v1/admin/reload", "/v1/articles/x-1"])
def test_deeply_nested_json_is_400_on_every_route(client, path):
    method = client.put if path == "/v1/articles/x-1" else client.post
    response = method(path, data="[" * 100_000, content_type="application/json", headers=AUTH)
    assert "nested too deeply" in error_of(response, 400, "bad_request", "body")["message"]


def test_json_lines_nested_too_deeply_names_the_line(client):
    body = '{"id": "a-1", "headline": "x"}\n' + "[" * 100_000 + "\n"
    error_of(client.post("/v1/articles", data=body, content_type="application/x-ndjson", headers=AUTH),
             400, "bad_request", "line 2")


def test_reload_version_must_be_a_string(client):
    error_of(client.post("/v1/admin/reload", json={"version": None}, headers=AUTH), 422, "unprocessable", "version")
    error_of(client.post("/v1/admin/reload", json={"version": ""}, headers=AUTH), 422, "unprocessable", "version")
    assert client.post("/v1/admin/reload", json={}, headers=AUTH).status_code == 200


def test_path_ids_longer_than_the_spec_are_refused(client):
    error_of(client.get("/v1/articles/" + "a" * 257), 404, "not_found", "id")
    error_of(client.get("/v1/articles/" + "a" * 257 + "/related"), 404, "not_found", "id")
    error_of(client.put("/v1/articles/" + "a" * 257, json=STORY, headers=AUTH), 422, "unprocessable", "id")


# -- 6. smaller -------------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["1e3", "null", "true", "007", '"quoted"'])
def test_tokens_from_the_environment_are_taken_verbatim(make_app, monkeypatch, value):
    from service import load_config

    monkeypatch.setenv("READALSO_API_TOKEN", value)
    monkeypatch.setenv("READALSO_METRICS_TOKEN", value)
    config = load_config()
    assert config["API_TOKEN"] == value and config["METRICS_TOKEN"] == value


def test_token_null_does_not_disable_writes(make_app, monkeypatch, service_db):
    from service import create_app
    monkeypatch.setenv("READALSO_API_TOKEN", "null")
    app = create_app({"DB": service_db, "TESTING": True, "CONFIGURE_LOGGING": False})
    client = app.test_client()
    error_of(client.put("/v1/articles/t-1", json=STORY), 401, "unauthorized")
    assert client.put("/v1/articles/t-1", json=STORY, headers={"Authorization": "Bearer null"}).status_code == 201


@pytest.mark.parametrize("path", ["/v1/articles/%20", "/v1/articles/%20padded%20", "/v1/articles/a%00b",
                                  "/v1/articles/a%0Ab", "/v1/articles/a%7Fb"])
def test_ids_with_padding_or_control_characters_are_refused(client, service_db, path):
    error_of(client.put(path, json=STORY, headers=AUTH), 422, "unprocessable", "id")
    error_of(client.get(path), 404, "not_found", "id")
    with Store(service_db) as store:
        assert store.articles.count() == 10


@pytest.mark.parametrize("k", ["3_0", "+3", " 3", "٣", "3.0", "0x3", "1" * 30])
def test_k_is_a_plain_integer(client, k):
    error_of(client.get("/v1/articles/storm-1/related", query_string={"k": k}), 400, "bad_request", "k")
