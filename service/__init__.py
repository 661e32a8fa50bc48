"""The readalso web service: the ``/v1`` JSON API, the embeddable widget and its demo page.

``create_app(config=None)`` is the app factory. Configuration is layered, later wins:

1. defaults (``DEFAULTS`` below);
2. a Python or JSON file named by ``READALSO_CONFIG`` (keys as below);
3. environment variables ``READALSO_<KEY>`` (``READALSO_DB``, ``READALSO_API_TOKEN``,
   ``READALSO_CORS_ORIGINS``, ...; values are parsed as JSON when they can be);
4. the ``config`` mapping given to ``create_app`` (tests, ``readalso serve --db``).

The served model lives in ``app.extensions["readalso"]`` (an ``EngineHolder``), never in a
module global, so several apps can live in one process.
"""

from __future__ import annotations

import json
import logging
import os
import re
import uuid
from pathlib import Path
from typing import Any, cast

from flask import Config, Flask, current_app, g, has_request_context, request
from flask.json.provider import DefaultJSONProvider

from recommender import articles
from recommender.store import DEFAULT_DB
from recommender.versions import model_root

from . import errors, security
from .holder import Busy, EngineHolder

log = logging.getLogger(__name__)

DEFAULTS: dict[str, Any] = {
    "DB": None,                      # SQLite store; None: $READALSO_DB or ./readalso-data/readalso.db
    "MODEL_ROOT": None,              # artifact root; None: beside the store, <db name>.artifacts/
    "API_TOKEN": None,               # bearer token for write routes; None disables them (env: taken verbatim)
    "METRICS_TOKEN": None,           # bearer token for /metrics; None: /metrics answers private addresses only
    "CORS_ORIGINS": [],              # origins allowed to call the API from a browser; "*" allows any
    "MAX_CONTENT_LENGTH": 8 * 1024 * 1024,  # bytes; larger bodies get 413
    "MAX_K": articles.MAX_K,          # largest k a caller may ask for: the library's, or lower
    "DEFAULT_K": 5,
    "CACHE_MAX_AGE": 60,             # seconds browsers and CDNs may keep a ranking
    "RANKING_CACHE_SECONDS": 30,     # seconds a process reuses a ranking (cleared when any article changes); 0: off
    "MAX_EVENTS": articles.MAX_K,     # events in one beacon (the widget sends at most MAX_K)
    "EVENT_MAX_SKEW_SECONDS": 300,   # an event's time may be this far ahead of the server's clock
    "EVENT_MAX_AGE_HOURS": 24,       # ... and at most this old
    "EVENT_RETENTION_DAYS": 90,      # event counts of older days are deleted
    "MAX_HISTORY": 20,               # reading-list history length
    "REQUEST_BUDGET_SECONDS": 5.0,   # longest wait for a turn at the engine before 503 + Retry-After
    "RATE_LIMITS_ENABLED": True,     # per-client limits (Flask-Limiter), 429 + Retry-After
    "RATE_LIMIT_STORAGE": "memory://",  # per process; redis://... shares one budget between workers
    "RATE_LIMIT_EVENTS": "20/second;600/minute",
    "RATE_LIMIT_EXPENSIVE": "5/second;120/minute",  # POST /v1/related and /v1/reading-list
    "RATE_LIMIT_RELATED": "50/second;1500/minute",  # GET /v1/articles/{id}/related
    "TRUSTED_PROXIES": 0,            # proxies in front (nginx: 1) whose X-Forwarded-For names the client
    "MIN_FREE_DISK_BYTES": 32 * 1024 * 1024,  # /readyz is not ready when the store's disk has less free
    "LOG_LEVEL": "INFO",
    "LOG_REQUESTS": True,            # one log line per request; off under gunicorn, whose access log does it
    "CONFIGURE_LOGGING": True,       # install a stderr handler whose lines carry the request id
}
RAW_ENV = ("API_TOKEN", "METRICS_TOKEN", "RATE_LIMIT_STORAGE", "RATE_LIMIT_EVENTS", "RATE_LIMIT_EXPENSIVE",
           "RATE_LIMIT_RELATED")
"""Environment variables taken verbatim, not parsed as JSON."""
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
LOG_FORMAT = "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"


def create_app(config: dict | None = None) -> Flask:
    """Build the service: load config, open the store, load the model, register the routes."""
    app = Flask(__name__, template_folder="widget", static_folder=None)
    app.config.update(load_config(config, root_path=app.root_path))
    # fields in the documented order (a new app's provider is Flask's default one)
    cast(DefaultJSONProvider, app.json).sort_keys = False

    _install_request_ids(app)
    _add_request_id_to_log_records()
    if app.config["CONFIGURE_LOGGING"]:
        _configure_logging(app.config["LOG_LEVEL"])

    # Imported here, not at the top: prometheus_client picks its storage when first imported,
    # and ``readalso serve`` must set PROMETHEUS_MULTIPROC_DIR before that.
    from .metrics import Metrics

    errors.init_app(app)
    Metrics().init_app(app)
    holder = EngineHolder(app.config["DB"], app.config["MODEL_ROOT"])
    holder.start()
    app.extensions["readalso"] = holder
    app.extensions["readalso.store_health"] = security.StoreHealth(app.config["DB"], app.config["MIN_FREE_DISK_BYTES"])

    # Imported here, not at the top: the blueprints import flask-bound helpers from this package.
    from . import api, pages, turns
    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    app.after_request(_cors)
    app.register_error_handler(Busy, turns.busy_response)  # pages wait for the engine too
    security.init_app(app)
    return app


def load_config(overrides: dict | None = None, *, root_path: str | None = None) -> Config:
    """Defaults, then ``$READALSO_CONFIG`` (a .py or .json file), then ``READALSO_*``, then ``overrides``."""
    config = Config(root_path or os.getcwd(), DEFAULTS)
    config_file = os.environ.get("READALSO_CONFIG")
    if config_file:
        if config_file.endswith(".json"):
            config.from_file(config_file, load=json.load)
        else:
            config.from_pyfile(config_file)
    config.from_prefixed_env("READALSO")
    for key in RAW_ENV:  # secrets are strings as written: "1e3" stays "1e3", "null" is a token
        if f"READALSO_{key}" in os.environ:
            config[key] = os.environ[f"READALSO_{key}"]
    config.update(overrides or {})
    _normalise(config)
    return config


def _normalise(config: Config) -> None:
    config["DB"] = Path(config["DB"] or os.environ.get("READALSO_DB") or DEFAULT_DB)
    config["MODEL_ROOT"] = Path(config["MODEL_ROOT"] or model_root(config["DB"]))
    for key in ("API_TOKEN", "METRICS_TOKEN"):
        token = config[key]
        config[key] = str(token) if token not in (None, "") else None
    origins = config["CORS_ORIGINS"]
    if isinstance(origins, str):
        origins = origins.split(",")
    config["CORS_ORIGINS"] = [o.strip().rstrip("/") for o in origins or [] if o and o.strip()]
    for key in ("MAX_K", "DEFAULT_K", "CACHE_MAX_AGE", "MAX_EVENTS", "MAX_CONTENT_LENGTH", "MAX_HISTORY",
                "EVENT_MAX_SKEW_SECONDS", "EVENT_MAX_AGE_HOURS", "EVENT_RETENTION_DAYS", "TRUSTED_PROXIES",
                "MIN_FREE_DISK_BYTES"):
        config[key] = int(config[key])
    if not 1 <= config["MAX_K"] <= articles.MAX_K:
        raise ValueError(f"MAX_K must be in 1..{articles.MAX_K} (the library's k range), got {config['MAX_K']}")
    for key in ("RANKING_CACHE_SECONDS", "REQUEST_BUDGET_SECONDS"):
        config[key] = float(config[key])
    for key in ("RATE_LIMIT_EVENTS", "RATE_LIMIT_EXPENSIVE", "RATE_LIMIT_RELATED"):
        config[key] = str(config[key] or "")


# -- request ids and logging ------------------------------------------------------------------
def _install_request_ids(app: Flask) -> None:
    @app.before_request
    def assign_request_id():
        given = request.headers.get("X-Request-ID", "")
        g.request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex

    @app.after_request
    def echo_request_id(response):
        response.headers["X-Request-ID"] = g.get("request_id", "-")
        if current_app.config["LOG_REQUESTS"] and (request.url_rule is not None or response.status_code >= 400):
            log.info("%s %s %s", request.method, request.full_path.rstrip("?"), response.status_code)
        return response


def _add_request_id_to_log_records() -> None:
    """Every log record, whoever logs it, gets ``request_id`` (``-`` outside a request)."""
    factory = logging.getLogRecordFactory()
    if not getattr(factory, "readalso", False):
        def record_factory(*args, **kwargs):
            record = factory(*args, **kwargs)
            record.request_id = _current_request_id()
            return record
        record_factory.__dict__["readalso"] = True  # a mark on the function: installed once per process
        logging.setLogRecordFactory(record_factory)


def _configure_logging(level: str) -> None:
    """Root handlers print the request id: the ones already there (the CLI's), else one on stderr."""
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
    for handler in root.handlers:
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
    logging.getLogger("recommender").setLevel(level)
    logging.getLogger("service").setLevel(level)


def _current_request_id() -> str:
    return g.get("request_id", "-") if has_request_context() else "-"


# -- CORS -------------------------------------------------------------------------------------
def _cors(response):
    origin = request.headers.get("Origin")
    allowed = current_app.config["CORS_ORIGINS"]
    response.vary.add("Origin")
    if origin and ("*" in allowed or origin.rstrip("/") in allowed):
        response.headers["Access-Control-Allow-Origin"] = "*" if "*" in allowed else origin
        response.headers["Access-Control-Expose-Headers"] = "ETag, X-Request-ID, X-Readalso-Path"
        if request.method == "OPTIONS":
            response.headers["Access-Control-Allow-Methods"] = "GET, POST, PUT, OPTIONS"
            response.headers["Access-Control-Allow-Headers"] = ("Authorization, Content-Type, If-None-Match, "
                                                                "X-Request-ID")
            response.headers["Access-Control-Max-Age"] = "600"
    return response
