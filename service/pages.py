"""Everything outside ``/v1``: health, readiness, metrics, the OpenAPI document, the widget and its demo page."""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path

from flask import Blueprint, Response, abort, current_app, redirect, render_template, request

from .errors import error_response
from .holder import Busy, ModelUnavailable
from .inputs import check_path_id
from .metrics import metrics_response
from .security import csp_nonce, require_metrics_access
from .turns import UNREACHABLE, holder, snapshot

bp = Blueprint("pages", __name__)
bp.before_request(check_path_id)
HERE = Path(__file__).resolve().parent
WIDGET = HERE / "widget" / "widget.js"
FAVICON = HERE / "widget" / "favicon.ico"
OPENAPI = HERE / "openapi.json"


@bp.get("/healthz")
def healthz():
    """The process is up (no dependency is checked)."""
    return {"status": "ok"}


@bp.get("/readyz")
def readyz():
    """Ready to serve rankings: a model is loaded, the store answers and can be written."""
    try:
        current = snapshot()
        with current.lock:
            current.require_engine()
            articles = current.store.articles.count()
    except ModelUnavailable as error:
        return error_response(503, "not_ready", str(error))
    except UNREACHABLE as error:  # not ready, and say why
        return error_response(503, "not_ready", f"store unreachable: {error}")
    problem = current_app.extensions["readalso.store_health"].problem()
    if problem:
        return error_response(503, "not_ready", problem)
    models = holder()
    damaged = models.artifact_problem()  # flipped bytes in the served files: answers would be wrong
    if damaged:
        return error_response(503, "not_ready", f"model {current.version} is damaged: {damaged}")
    return {"status": "ready", "degraded": models.degraded,  # degraded: why an older version is served
            "model_version": current.version, "articles": len(current.require_engine().index),
            "stored_articles": articles}


@bp.get("/metrics")
def metrics():
    require_metrics_access()
    try:
        snapshot()  # refresh the model gauges of this process
    except (*UNREACHABLE, ModelUnavailable, Busy):  # metrics must answer even when the store or engine does not
        pass
    return metrics_response(current_app.extensions["readalso.metrics"])


@bp.get("/openapi.json")
def openapi():
    response = Response(_static(OPENAPI), mimetype="application/json")
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.get("/widget.js")
def widget():
    return _cached_file(WIDGET, "text/javascript", max_age=3600)


@bp.get("/favicon.ico")
def favicon():
    """The demo site's icon (browsers ask for it on every page)."""
    return _cached_file(FAVICON, "image/vnd.microsoft.icon", max_age=86400)


def _cached_file(path: Path, mimetype: str, *, max_age: int) -> Response:
    """A static file with an ETag (304 when the client has it) and a public cache lifetime."""
    data = _static(path)
    response = Response(data, mimetype=mimetype)
    response.set_etag(hashlib.sha256(data).hexdigest()[:32])
    response.cache_control.public = True
    response.cache_control.max_age = max_age
    response.make_conditional(request)  # in place (it returns the response itself)
    return response


@bp.get("/demo")
def demo_index():
    """Redirect to a demo article: the one editors link to most, else the newest."""
    current = snapshot()
    with current.lock:
        inbound = current.store.links.inbound_counts()
        article_id = max(inbound, key=inbound.__getitem__) if inbound else None
        if article_id is None:
            newest = list(current.store.articles.iter_articles())
            article_id = newest[-1].id if newest else None
    if article_id is None:
        abort(404, "the store holds no articles: ingest some first")
    return redirect(f"/demo/{article_id}")


@bp.get("/demo/<article_id>")
def demo(article_id: str):
    """A mock article page with the widget embedded exactly as a publisher would, its links kept on the demo."""
    current = snapshot()
    article = current.article(article_id)
    if article is None:
        abort(404, f"unknown article id {article_id!r}")
    record = article.to_dict()
    # Stored bodies keep one paragraph a line (every reader writes them so).
    paragraphs = [p.strip() for p in article.body.split("\n") if p.strip()] or [article.body]
    k = request.args.get("k", "5")
    return render_template("demo.html", article=record, paragraphs=paragraphs, nonce=csp_nonce(),
                           k=k if k.isascii() and k.isdigit() and len(k) < 3 else "5", version=current.version)


@cache
def _read(path: Path, mtime: float) -> bytes:
    return path.read_bytes()


def _static(path: Path) -> bytes:
    return _read(path, path.stat().st_mtime)


def openapi_document() -> dict:
    return json.loads(_static(OPENAPI))
