"""The ``/v1`` JSON API: rankings, articles, reload, widget events.

Every ranking goes through ``Engine.related`` / ``Engine.related_to_text``: the same
scoring path as the CLI, batch and evaluation.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from datetime import datetime, timezone

from flask import Blueprint, current_app, g, jsonify, request

from recommender.articles import Article, ArticleError
from recommender.engine import UnknownArticle
from recommender.links import resolve_store
from recommender.ranking import Filters
from recommender.reading_list import history_list, story_list
from recommender.readers.fields import build_article
from recommender.store import DuplicateUrl

from .errors import ApiError, bad_parameter, error_response, unprocessable
from .holder import EngineHolder, ModelUnavailable, ReloadRefused, Snapshot

bp = Blueprint("api", __name__, url_prefix="/v1")

JSON_TYPES = ("application/json",)
JSON_LINES_TYPES = ("application/x-ndjson", "application/jsonl", "application/x-jsonlines", "application/jsonlines")
MAX_TEXT = 100_000
MAX_ID = 256


# -- plumbing ---------------------------------------------------------------------------------
def holder() -> EngineHolder:
    return current_app.extensions["readalso"]


def snapshot() -> Snapshot:
    """The model this request uses from start to end (a reload meanwhile does not change it)."""
    if "snapshot" not in g:
        g.snapshot = holder().snapshot()
        current_app.extensions["readalso.metrics"].follow(g.snapshot)
    return g.snapshot


def require_token() -> None:
    """Write routes: ``Authorization: Bearer <READALSO_API_TOKEN>``, compared in constant time."""
    expected = current_app.config["API_TOKEN"]
    if not expected:
        raise ApiError(403, "write routes are disabled: no API token is configured (READALSO_API_TOKEN)",
                       code="writes_disabled")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        raise ApiError(401, "this route needs 'Authorization: Bearer <token>'", parameter="Authorization",
                       headers={"WWW-Authenticate": 'Bearer realm="readalso"'})
    if not hmac.compare_digest(given.strip().encode("utf-8"), expected.encode("utf-8")):
        raise ApiError(401, "invalid API token", parameter="Authorization",
                       headers={"WWW-Authenticate": 'Bearer realm="readalso", error="invalid_token"'})


def json_body(*, also: tuple[str, ...] = ()):
    """The parsed JSON body; 415 for another media type, 400 for malformed JSON."""
    mimetype = request.mimetype
    if mimetype not in JSON_TYPES + also:
        raise ApiError(415, f"send the body as {' or '.join(JSON_TYPES + also)}, not {mimetype or 'nothing'!r}",
                       parameter="Content-Type")
    try:
        return json.loads(request.get_data(cache=False) or b"")
    except (ValueError, UnicodeDecodeError) as error:
        raise ApiError(400, f"body is not valid JSON: {error}", parameter="body") from None


@bp.errorhandler(ModelUnavailable)
def _no_model(error):
    return error_response(503, "model_unavailable", str(error))


@bp.errorhandler(UnknownArticle)
def _unknown(error):
    return error_response(404, "not_found", str(error), "id")


# -- parameters -------------------------------------------------------------------------------
def query_int(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_parameter(name, f"must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise bad_parameter(name, f"must be in {low}..{high}, got {value}")
    return value


def query_float(name: str, low: float, high: float | None, *, low_open: bool = False) -> float | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        raise bad_parameter(name, f"must be a number, got {raw!r}") from None
    if not math.isfinite(value) or value < low or (low_open and value == low) or (high is not None and value > high):
        bounds = f"{'>' if low_open else '>='} {low}" + (f" and <= {high}" if high is not None else "")
        raise bad_parameter(name, f"must be {bounds}, got {raw}")
    return value


def query_filters() -> tuple[int, Filters, float]:
    k = query_int("k", current_app.config["DEFAULT_K"], 1, current_app.config["MAX_K"])
    section = request.args.get("section") or None
    if section is not None and len(section) > 100:
        raise bad_parameter("section", "must be at most 100 characters")
    max_age = query_float("max_age_days", 0, None, low_open=True)
    exclude = [part.strip() for value in request.args.getlist("exclude") for part in value.split(",") if part.strip()]
    if len(exclude) > 500:
        raise bad_parameter("exclude", "at most 500 ids")
    diversity = query_float("diversity", 0, 1) or 0.0
    return k, Filters(section=section, max_age_days=max_age, exclude=frozenset(exclude)), diversity


def body_filters(body: dict) -> tuple[int, Filters, float]:
    """``k``, ``filters`` and ``diversity`` of a JSON body; 422 naming the bad field."""
    max_k = current_app.config["MAX_K"]
    k = body.get("k", current_app.config["DEFAULT_K"])
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= max_k:
        raise unprocessable("k", f"k must be an integer in 1..{max_k}, got {k!r}")
    filters = body.get("filters")
    filters = {} if filters is None else filters
    if not isinstance(filters, dict):
        raise unprocessable("filters", "filters must be an object")
    unknown = set(filters) - {"section", "max_age_days", "exclude"}
    if unknown:
        raise unprocessable("filters", f"unknown filter {sorted(unknown)[0]!r}; known: section, max_age_days, exclude")
    section = filters.get("section")
    if section is not None and not isinstance(section, str):
        raise unprocessable("filters.section", "filters.section must be a string")
    max_age = filters.get("max_age_days")
    if max_age is not None and (isinstance(max_age, bool) or not isinstance(max_age, (int, float)) or not max_age > 0):
        raise unprocessable("filters.max_age_days", f"filters.max_age_days must be a positive number, got {max_age!r}")
    exclude = filters.get("exclude") or []
    if not isinstance(exclude, list) or not all(isinstance(i, str) for i in exclude):
        raise unprocessable("filters.exclude", "filters.exclude must be a list of ids")
    diversity = body.get("diversity", 0.0)
    if isinstance(diversity, bool) or not isinstance(diversity, (int, float)) or not 0 <= diversity <= 1:
        raise unprocessable("diversity", f"diversity must be a number in [0, 1], got {diversity!r}")
    return k, Filters(section=section or None, max_age_days=max_age, exclude=frozenset(exclude)), float(diversity)


# -- representations --------------------------------------------------------------------------
def article_summary(article: Article) -> dict:
    return {"id": article.id, "headline": article.headline, "url": article.url, "section": article.section,
            "published_at": article.published_at.isoformat() if article.published_at else None}


def article_full(article: Article) -> dict:
    return {**article_summary(article), "language": article.language, "body": article.body,
            "read_also": [{"headline": link.headline, "url": link.url, "target_id": link.target_id}
                          for link in article.read_also]}


def ranking_items(current: Snapshot, ranking) -> list[dict]:
    """The ranked stories as the API shows them: ``article_summary``'s fields, score and reason."""
    found = current.store.summaries(r.id for r in ranking)
    return [{**found[r.id], "score": r.score, "reason": r.reason} for r in ranking if r.id in found]


def cacheable(payload: dict):
    """A GET answer with a content ETag and Cache-Control; 304 when If-None-Match matches."""
    response = jsonify(payload)
    response.set_etag(hashlib.sha256(response.get_data()).hexdigest()[:32])
    response.cache_control.public = True
    response.cache_control.max_age = current_app.config["CACHE_MAX_AGE"]
    return response.make_conditional(request)


# -- rankings ---------------------------------------------------------------------------------
@bp.get("/articles/<article_id>/related")
def related(article_id: str):
    """Ranked related stories for a stored article."""
    k, filters, diversity = query_filters()
    current = snapshot()

    def rank():
        with current.lock:
            engine = current.require_engine()
            ranking = engine.related(article_id, k, filters=filters, diversity=diversity)
            return {"article_id": article_id, "model_version": current.version,
                    "related": ranking_items(current, ranking)}

    ttl = current_app.config["RANKING_CACHE_SECONDS"]
    return cacheable(current.cached(("related", article_id, k, filters, diversity), ttl, rank))


@bp.post("/related")
def related_to_text():
    """Ranked related stories for text that is not stored (a CMS draft)."""
    body = json_body()
    if not isinstance(body, dict):
        raise unprocessable("body", "expected a JSON object with headline and body")
    for name in ("headline", "body", "language"):
        if body.get(name) is not None and not isinstance(body[name], str):
            raise unprocessable(name, f"{name} must be a string")
    headline, text = (body.get("headline") or "").strip(), body.get("body") or ""
    if not headline and not text.strip():
        raise unprocessable("headline", "give a headline or a body")
    if len(headline) + len(text) > MAX_TEXT:
        raise unprocessable("body", f"headline and body together must be at most {MAX_TEXT} characters")
    k, filters, diversity = body_filters(body)
    language = body.get("language") or "en"
    current = snapshot()
    with current.lock:
        engine = current.require_engine()
        ranking = engine.related_to_text(headline, text, k, filters=filters, diversity=diversity, language=language)
        items = ranking_items(current, ranking)
    return jsonify(model_version=current.version, related=items)


# -- articles ---------------------------------------------------------------------------------
@bp.get("/articles/<article_id>")
def get_article(article_id: str):
    article = snapshot().article(article_id)
    if article is None:
        raise ApiError(404, f"unknown article id {article_id!r}", parameter="id")
    return cacheable(article_full(article))


@bp.put("/articles/<article_id>")
def put_article(article_id: str):
    """Insert or replace one article; it is recommendable at once."""
    require_token()
    raw = json_body()
    if not isinstance(raw, dict):
        raise unprocessable("body", "expected one JSON object (an article)")
    if raw.get("id") not in (None, article_id):
        raise unprocessable("id", f"id in the body ({raw['id']!r}) differs from the URL ({article_id!r})")
    article = _article({**raw, "id": article_id}, "body")
    (status, stored_id), = store_articles([article])
    response = jsonify(id=stored_id, status=status)
    response.status_code = 201 if status == "new" else 200
    response.headers["Location"] = f"/v1/articles/{stored_id}"
    return response


@bp.post("/articles")
def post_articles():
    """Upsert many articles: a JSON array (or one object), or JSON Lines. All or none."""
    require_token()
    if request.mimetype in JSON_LINES_TYPES:
        records = []
        for number, line in enumerate(request.get_data(cache=False).decode("utf-8", "replace").splitlines(), 1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except ValueError as error:
                    raise ApiError(400, f"line {number} is not valid JSON: {error}", parameter=f"line {number}") from None
    else:
        records = json_body(also=JSON_LINES_TYPES)
        records = [records] if isinstance(records, dict) else records
    if not isinstance(records, list) or not records:
        raise unprocessable("body", "expected a non-empty JSON array of articles or JSON Lines")
    articles = [_article(raw, f"[{i}]") for i, raw in enumerate(records)]
    ids = [a.id for a in articles]
    if len(set(ids)) != len(ids):
        duplicate = next(i for i in ids if ids.count(i) > 1)
        raise unprocessable("id", f"article id {duplicate!r} appears twice in one request")
    results = store_articles(articles)
    counts = {"new": 0, "updated": 0, "unchanged": 0}
    for status, _ in results:
        counts[status] += 1
    return jsonify(counts=counts, results=[{"id": i, "status": s} for s, i in results])


def _article(raw, where: str) -> Article:
    if not isinstance(raw, dict):
        raise unprocessable(where, f"{where}: expected a JSON object, got {type(raw).__name__}")
    try:
        return build_article(raw)
    except ArticleError as error:
        raise unprocessable(where, f"{where}: {error}" if where.startswith("[") else str(error)) from None


def store_articles(articles: list[Article]) -> list[tuple[str, str]]:
    """Store, resolve links, and add the changed ones to this process's engine (others sync)."""
    current = snapshot()
    with current.lock:
        try:
            results = current.store.upsert_many(articles)
        except DuplicateUrl as error:  # one URL, two ids: refused (all or none), never merged
            raise unprocessable("url", str(error)) from None
        resolve_store(current.store)
        changed = [article_id for status, article_id in results if status != "unchanged"]
        if current.engine is not None and changed:
            current.engine.add(list(current.store.get_many(changed).values()))
            current.forget_rankings()
    return results


# -- admin ------------------------------------------------------------------------------------
@bp.post("/admin/reload")
def reload():
    """Swap in the newest built artifact (or ``{"version": ...}``); a broken one is refused."""
    require_token()
    version = None
    if request.content_length:
        body = json_body()
        version = body.get("version") if isinstance(body, dict) else None
        if version is not None and not isinstance(version, str):
            raise unprocessable("version", "version must be a string")
    metrics = current_app.extensions["readalso.metrics"]
    try:
        old, new = holder().reload(version)
    except ReloadRefused as error:
        metrics.reloads.labels("refused").inc()
        raise ApiError(422, str(error), code="artifact_refused", parameter="version" if version else None) from None
    metrics.reloads.labels("ok").inc()
    metrics.set_model(new.version, len(new.engine.index))
    return jsonify(previous=old.version, version=new.version, articles=len(new.engine.index))


# -- events -----------------------------------------------------------------------------------
@bp.post("/events")
def events():
    """Impression and click beacons from the widget, stored for evaluation.

    ``text/plain`` is accepted because ``navigator.sendBeacon`` sends strings so (no CORS preflight).
    """
    body = json_body(also=("text/plain",))
    if isinstance(body, dict) and isinstance(body.get("events"), list):
        body = body["events"]
    items = body if isinstance(body, list) else [body]
    if not items or len(items) > current_app.config["MAX_EVENTS"]:
        raise unprocessable("events", f"send 1..{current_app.config['MAX_EVENTS']} events")
    current = snapshot()
    rows = [_event(item, f"events[{i}]" if isinstance(body, list) else None, current.version)
            for i, item in enumerate(items)]
    with current.lock:
        stored = current.store.record_events(rows)
    return jsonify(stored=stored), 202


def _event(item, where: str | None, version: str | None) -> dict:
    def field(name):
        return f"{where}.{name}" if where else name

    if not isinstance(item, dict):
        raise unprocessable(where or "body", "an event is a JSON object")
    kind = item.get("type")
    if kind not in ("impression", "click"):
        raise unprocessable(field("type"), f"type must be 'impression' or 'click', got {kind!r}")
    for name in ("article", "target"):
        value = item.get(name)
        if value is not None and (not isinstance(value, str) or not 0 < len(value) <= MAX_ID):
            raise unprocessable(field(name), f"{name} must be an article id (1..{MAX_ID} characters)")
    if not item.get("article"):
        raise unprocessable(field("article"), "article (the page's article id) is required")
    if kind == "click" and not item.get("target"):
        raise unprocessable(field("target"), "a click needs the target article id")
    position = item.get("position")
    if position is not None and (isinstance(position, bool) or not isinstance(position, int) or not 0 <= position <= 1000):
        raise unprocessable(field("position"), f"position must be an integer in 0..1000, got {position!r}")
    return {"type": kind, "article_id": item["article"], "target_id": item.get("target"), "position": position,
            "client_time": _client_time(item.get("time"), field("time")),
            "model_version": item.get("model") if isinstance(item.get("model"), str) else version}


def _client_time(value, name: str) -> str | None:
    """Milliseconds since the epoch (``Date.now()``) or an ISO 8601 string, stored as ISO 8601."""
    if value is None:
        return None
    try:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return datetime.fromtimestamp(value / 1000, timezone.utc).isoformat()
        if isinstance(value, str):
            return datetime.fromisoformat(value.replace("Z", "+00:00")).isoformat()
    except (ValueError, OverflowError, OSError):
        pass
    raise unprocessable(name, f"time must be epoch milliseconds or ISO 8601, got {value!r}")


# -- reading lists ----------------------------------------------------------------------------
@bp.post("/reading-list")
def reading_list():
    """A reading list: ``{"story": ID}`` catches up on a developing story (oldest first, the latest
    marked), ``{"history": [ID, ...]}`` says what to read next; ``minutes`` is an optional time budget,
    ``k`` (history only, default 10) the most articles."""
    body = json_body()
    if not isinstance(body, dict):
        raise unprocessable("body", 'expected a JSON object with "story" or "history"')
    story, history = body.get("story"), body.get("history")
    if (story is None) == (history is None):
        raise unprocessable("story", 'give either "story": ID or "history": [ID, ...]')
    if story is not None and (not isinstance(story, str) or not 0 < len(story) <= MAX_ID):
        raise unprocessable("story", f"story must be an article id (1..{MAX_ID} characters)")
    if history is not None and (not isinstance(history, list) or not 0 < len(history) <= 100 or not all(
            isinstance(i, str) and 0 < len(i) <= MAX_ID for i in history)):
        raise unprocessable("history", "history must be a list of 1..100 article ids")
    minutes = body.get("minutes")
    if minutes is not None and (isinstance(minutes, bool) or not isinstance(minutes, (int, float))
                                or not 0 < minutes <= 1440):
        raise unprocessable("minutes", f"minutes must be a number in (0, 1440], got {minutes!r}")
    k = body.get("k", 10)
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= 50:
        raise unprocessable("k", f"k must be an integer in 1..50, got {k!r}")
    current = snapshot()
    with current.lock:
        engine = current.require_engine()
        if story is not None:
            result = story_list(engine, story, minutes=minutes)
        else:
            result = history_list(engine, history, minutes=minutes, k=k)
    return jsonify(model_version=current.version, **result.to_dict())
