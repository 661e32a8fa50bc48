"""The ``/v1`` JSON API: rankings, articles, reload, widget events, reading lists, suggestions.

Every ranking goes through ``Engine.related`` / ``Engine.related_to_text``: the same
scoring path as the CLI, batch and evaluation. A route reads its inputs with ``inputs.py``
(the one input layer), calls the library, and answers with ``answers.py``.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from recommender.articles import Article
from recommender.engine import UnknownArticle
from recommender.links import resolve_store
from recommender.reading_list import history_list, story_list
from recommender.store import DuplicateUrl

from . import answers, inputs
from .errors import ApiError, error_response, unprocessable
from .holder import ModelUnavailable, ReloadRefused
from .security import require_event_origin, require_token
from .turns import holder, snapshot, turn, writing

bp = Blueprint("api", __name__, url_prefix="/v1")
bp.before_request(inputs.check_path_id)


@bp.errorhandler(ModelUnavailable)
def _no_model(error):
    return error_response(503, "model_unavailable", str(error))


@bp.errorhandler(UnknownArticle)
def _unknown(error):
    return error_response(404, "not_found", str(error), "id")


# -- rankings ---------------------------------------------------------------------------------
@bp.get("/articles/<article_id>/related")
def related(article_id: str):
    """Ranked related stories for a stored article."""
    k, filters, diversity = inputs.query_filters()
    current = snapshot()

    computed = []

    def rank():
        engine = current.require_engine()
        ranking = engine.related(article_id, k, filters=filters, diversity=diversity)
        computed.append(ranking.path)
        return {"article_id": article_id, "model_version": current.version,
                "related": answers.related(current.store, ranking)}

    ttl = current_app.config["RANKING_CACHE_SECONDS"]
    with turn(current):
        payload = current.cached(("related", article_id, k, filters, diversity), ttl, rank)
    return answers.ranked(answers.cacheable(payload), computed[0] if computed else "cached")


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
        items = answers.related(current.store, ranking)
    return answers.ranked(jsonify(model_version=current.version, related=items), ranking.path)


# -- articles ---------------------------------------------------------------------------------
@bp.get("/articles/<article_id>")
def get_article(article_id: str):
    article = snapshot().article(article_id)
    if article is None:
        raise ApiError(404, f"unknown article id {article_id!r}", parameter="id")
    return answers.cacheable(article.to_dict())


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
    return jsonify(answers.upserted(store_articles(articles)))


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
    articles = len(new.require_engine().index)
    metrics.set_model(new.version, articles)
    return jsonify(previous=old.version, version=new.version, articles=articles)


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
                stored = current.store.events.record_many(
                    kept, retention_days=current_app.config["EVENT_RETENTION_DAYS"])
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
            assert history is not None  # reading_list_query gives exactly one of story and history
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
    from recommender.suggest import DraftError
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
        except DraftError as error:
            raise unprocessable("draft", f"the draft cannot be read as an article: {error}") from None
    if len(result.drafts) != 1:
        raise unprocessable("draft", f"send one draft per request, got {len(result.drafts)} records")
    as_json = isinstance(body.get("draft"), dict)
    return jsonify(model_version=current.version, **answers.suggestion(result, as_json=as_json))
