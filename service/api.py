"""The ``/v1`` JSON API: rankings, articles, reload, widget events.

Every ranking goes through ``Engine.related`` / ``Engine.related_to_text``: the same
scoring path as the CLI, batch and evaluation. Every input is read and checked by
``inputs.py`` (the one input layer); routes only compose library calls.
"""

from __future__ import annotations

import hashlib
import json
import hmac
import sqlite3
from contextlib import contextmanager

from flask import Blueprint, current_app, g, jsonify, request

from recommender.articles import Article
from recommender.engine import UnknownArticle
from recommender.links import resolve_store
from recommender.reading_list import history_list, story_list
from recommender.store import DuplicateUrl

from . import inputs
from .errors import ApiError, error_response, unprocessable
from .holder import Busy, EngineHolder, ModelUnavailable, ReloadRefused, Snapshot
from .security import require_event_origin

bp = Blueprint("api", __name__, url_prefix="/v1")
bp.before_request(inputs.check_path_id)


# -- plumbing ---------------------------------------------------------------------------------
def holder() -> EngineHolder:
    return current_app.extensions["readalso"]


def snapshot() -> Snapshot:
    """The model this request uses from start to end (a reload meanwhile does not change it)."""
    if "snapshot" not in g:
        g.snapshot = holder().snapshot(timeout=current_app.config["REQUEST_BUDGET_SECONDS"])
        current_app.extensions["readalso.metrics"].follow(g.snapshot)
    return g.snapshot


@contextmanager
def turn(current: Snapshot):
    """This request's turn at the engine and the store connection, waited for at most
    ``REQUEST_BUDGET_SECONDS``; past that 503 with ``Retry-After`` instead of queueing forever."""
    budget = current_app.config["REQUEST_BUDGET_SECONDS"]
    if not current.lock.acquire(timeout=budget):
        raise Busy(f"no turn at the engine within {budget:g} s")
    try:
        yield current
    finally:
        current.lock.release()


@contextmanager
def writing():
    """A store write; a full disk or an unwritable store answers 503 and makes ``/readyz`` not ready."""
    try:
        yield
    except (sqlite3.OperationalError, OSError) as error:
        if not current_app.extensions["readalso.store_health"].record(error):
            raise
        raise ApiError(503, "the store cannot be written now (disk full or read-only); nothing was stored",
                       code="store_unwritable", headers={"Retry-After": "30"}) from None


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


@bp.errorhandler(ModelUnavailable)
def _no_model(error):
    return error_response(503, "model_unavailable", str(error))


def busy_response(error: Busy):
    return error_response(503, "busy", f"busy: {error}; retry shortly", headers={"Retry-After": "1"})


@bp.errorhandler(UnknownArticle)
def _unknown(error):
    return error_response(404, "not_found", str(error), "id")


# -- representations --------------------------------------------------------------------------
def article_summary(article: Article) -> dict:
    return {"id": article.id, "headline": article.headline, "url": article.url, "section": article.section,
            "published_at": article.published_at.isoformat() if article.published_at else None}


def article_full(article: Article) -> dict:
    return {**article_summary(article), "language": article.language, "body": article.body,
            "read_also": [{"headline": link.headline, "url": link.url, "target_id": link.target_id}
                          for link in article.read_also]}


def ranking_items(current: Snapshot, ranking) -> list[dict]:
    """The ranked stories as the API shows them: ``article_summary``'s fields, score (relatedness in [0, 1]),
    editor_probability (the link model's, or null) and reason."""
    found = current.store.articles.summaries(r.id for r in ranking)
    return [{**found[r.id], "score": r.score, "editor_probability": r.editor_probability, "reason": r.reason}
            for r in ranking if r.id in found]


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
    k, filters, diversity = inputs.query_filters()
    current = snapshot()

    def rank():
        engine = current.require_engine()
        ranking = engine.related(article_id, k, filters=filters, diversity=diversity)
        return {"article_id": article_id, "model_version": current.version,
                "related": ranking_items(current, ranking)}

    ttl = current_app.config["RANKING_CACHE_SECONDS"]
    with turn(current):
        payload = current.cached(("related", article_id, k, filters, diversity), ttl, rank)
    return cacheable(payload)


@bp.post("/related")
def related_to_text():
    """Ranked related stories for text that is not stored (a CMS draft)."""
    body = inputs.json_object("headline and body")
    headline, text, language = inputs.text_query(body)
    k, filters, diversity = inputs.body_filters(body)
    current = snapshot()
    with turn(current):
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
    article = inputs.article_from(inputs.json_object("an article's fields"), "body", path_id=article_id)
    (status, stored_id), = store_articles([article])
    response = jsonify(id=stored_id, status=status)
    response.status_code = 201 if status == "new" else 200
    response.headers["Location"] = f"/v1/articles/{stored_id}"
    return response


@bp.post("/articles")
def post_articles():
    """Upsert many articles: a JSON array (or one object), or JSON Lines. All or none."""
    require_token()
    records = inputs.json_records()
    articles = [inputs.article_from(raw, f"[{i}]") for i, raw in enumerate(records)]
    articles = list({article.id: article for article in articles}.values())  # a later record replaces an earlier
    results = store_articles(articles)
    counts = {"new": 0, "updated": 0, "unchanged": 0}
    for status, _ in results:
        counts[status] += 1
    return jsonify(counts=counts, results=[{"id": i, "status": s} for s, i in results])


def store_articles(articles: list[Article]) -> list[tuple[str, str]]:
    """Store, resolve links, and add the changed ones to this process's engine (others sync)."""
    current = snapshot()
    with turn(current), writing():
        try:
            results = current.store.articles.upsert_many(articles)  # one transaction: all or none
        except DuplicateUrl as error:  # one URL, two ids: refused (all or none), never merged
            raise ApiError(409, str(error), code="conflict", parameter="url") from None
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
    version = inputs.reload_version(inputs.json_body()) if inputs.read_body() else None
    if version is not None and not _built_version(version):
        raise ApiError(404, f"no artifact version {version!r}", parameter="version")
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
    """Impression and click beacons from the widget, counted per day, article, target, position and model.

    ``text/plain`` is accepted because ``navigator.sendBeacon`` sends strings so (no CORS preflight).
    A malformed beacon is refused whole (422). Well-formed events are counted only when their
    articles are stored, their model version was built and their time is near now; the others are
    dropped and counted in the answer's ``dropped``. With ``CORS_ORIGINS`` set, only those origins.
    """
    require_event_origin()
    items, listed = inputs.event_items(inputs.json_body(also=("text/plain",)))
    rows = [inputs.event(item, f"events[{i}]" if listed else None) for i, item in enumerate(items)]
    current = snapshot()
    with turn(current):
        ids = {row["article_id"] for row in rows} | {row["target_id"] for row in rows if row["target_id"]}
        known = current.store.articles.summaries(ids)
        kept = []
        for row in rows:
            version = row["model_version"]
            if version is None or version == current.version:
                row["model_version"] = current.version
            elif not _built_version(version):
                continue
            if row["fresh"] and row["article_id"] in known and (row["target_id"] is None or row["target_id"] in known):
                kept.append(row)
        stored = 0
        if kept:
            with writing():
                stored = current.store.events.record_many(kept, retention_days=current_app.config["EVENT_RETENTION_DAYS"])
    return jsonify(stored=stored, dropped=len(rows) - stored), 202


def _built_version(version: str) -> bool:
    root = current_app.config["MODEL_ROOT"]
    return (inputs.id_problem(version) is None and "/" not in version and "\\" not in version
            and not version.startswith(".") and (root / version / "manifest.json").is_file())


# -- reading lists ----------------------------------------------------------------------------
@bp.post("/reading-list")
def reading_list():
    """A reading list: ``{"story": ID}`` catches up on a developing story (oldest first, the latest
    marked), ``{"history": [ID, ...]}`` says what to read next; ``minutes`` is an optional time budget,
    ``k`` (history only, default 10) the most articles."""
    story, history, minutes, k = inputs.reading_list_query(inputs.json_object('"story" or "history"'))
    current = snapshot()
    with turn(current):
        engine = current.require_engine()
        if story is not None:
            result = story_list(engine, story, minutes=minutes)
        else:
            result = history_list(engine, history, minutes=minutes, k=k)
    return jsonify(model_version=current.version, **result.to_dict())


# -- newsroom ---------------------------------------------------------------------------------
@bp.post("/suggest")
def suggest():
    """A Read-also block set into a draft in its own shape (text, HTML or JSON), as ``readalso suggest``.

    ``draft`` is the draft as a string (raw text, HTML, or JSON text) or a JSON object (an
    article record); ``shape`` says which, when telling it from the first character is not
    enough. ``k``, ``filters`` and ``diversity`` as for ``/v1/related``; ``after`` (paragraph
    number) and ``replace`` as on the command line.
    """
    from recommender.suggest import suggest as suggest_block
    from recommender.writers import SHAPES

    body = inputs.json_object("a draft")
    source, shape, after, replace = inputs.suggest_query(body, SHAPES)
    k, filters, diversity = inputs.body_filters(body)
    current = snapshot()
    with turn(current):
        engine = current.require_engine()
        try:
            result = suggest_block(engine, current.store, source, shape=shape, k=k, filters=filters,
                                   diversity=diversity, replace=replace, after=after)
        except ValueError as error:
            raise unprocessable("draft", f"the draft cannot be read as an article: {error}") from None
    if len(result.drafts) != 1:
        raise unprocessable("draft", f"send one draft per request, got {len(result.drafts)} records")
    document = json.loads(result.document) if isinstance(body.get("draft"), dict) else result.document
    return jsonify(model_version=current.version, shape=result.shape, id=result.drafts[0].id, document=document,
                   block=result.block(0), read_also=[pick.to_dict() for pick in result.picks[0]])
