"""The real thing: gunicorn with two workers on a loopback port, called over HTTP."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from conftest import API_TOKEN

pytestmark = [pytest.mark.server, pytest.mark.slow]


def call(url: str, *, method: str = "GET", body=None, headers: dict | None = None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={
        **({"Content-Type": "application/json"} if data else {}), **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_gunicorn_serves_the_api_and_all_workers_agree(live_server):
    base = live_server.url
    status, headers, body = call(base + "/v1/articles/storm-1/related?k=3")
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert {item["id"] for item in json.loads(body)["related"]} == {"storm-2", "storm-3", "storm-hostile"}
    assert call(base + "/v1/articles/storm-1/related?k=3", headers={"If-None-Match": headers["ETag"]})[0] == 304
    status, _, body = call(base + "/v1/articles/nope/related")
    assert status == 404 and json.loads(body)["error"]["code"] == "not_found"

    story = {"headline": "Storm Ardent: flood barrier rebuild begins on the estuary",
             "body": "Engineers rebuild the flood barrier and levee on the river estuary after the storm surge.",
             "section": "climate"}
    assert call(base + "/v1/articles/storm-rebuild", method="PUT", body=story)[0] == 401
    status, _, _ = call(base + "/v1/articles/storm-rebuild", method="PUT", body=story,
                        headers={"Authorization": f"Bearer {API_TOKEN}"})
    assert status == 201
    # Each call is a new connection, taken by whichever worker accepts it first: all must know the new story.
    for _ in range(12):
        status, _, body = call(base + "/v1/articles/storm-2/related?k=5")
        assert status == 200 and "storm-rebuild" in {item["id"] for item in json.loads(body)["related"]}

    status, _, body = call(base + "/metrics")
    text = body.decode()
    from prometheus_client.parser import text_string_to_metric_families
    counts = {tuple(sorted(s.labels.items())): s.value for family in text_string_to_metric_families(text)
              for s in family.samples if s.name == "readalso_http_requests_total"}
    route = ("route", "/v1/articles/<article_id>/related")
    assert counts[(("method", "GET"), route, ("status", "200"))] == 13  # summed over both workers
    assert "readalso_model_info{" in text and "readalso_articles 11.0" in text

    assert live_server.stop() == 0
    log = live_server.log.read_text()
    assert "Booting worker" in log and log.count("loaded model") >= 2  # one model per worker
    # one line per request, gunicorn's access log with the request id, not a second one from the app
    assert log.count('"GET /v1/articles/storm-1/related?k=3 HTTP/1.1" 200') == 1
    assert "service: GET /v1/articles/storm-1/related" not in log
