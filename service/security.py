"""What keeps a public service safe: response headers, rate limits, who may write, who may read
``/metrics``, which origins may send events, and whether the store can still be written.

* Every response carries ``X-Content-Type-Options: nosniff``, a ``Referrer-Policy``, frame
  protection (``X-Frame-Options: DENY`` and CSP ``frame-ancestors 'none'``) and a
  Content-Security-Policy: ``default-src 'none'`` for data, a strict page policy for the demo.
* Per-client rate limits (Flask-Limiter) on events and on the routes that rank, answering 429
  with ``Retry-After`` in the one JSON error shape.
* Write routes need ``Authorization: Bearer <API_TOKEN>`` (none configured: writes are off).
* ``/metrics`` answers a bearer ``METRICS_TOKEN`` when one is set, else only clients on a
  loopback or private address.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import secrets
import shutil
import sqlite3
import time
from typing import TYPE_CHECKING, cast

from flask import Flask, Response, current_app, g, request
from werkzeug.middleware.proxy_fix import ProxyFix

from .errors import ApiError

if TYPE_CHECKING:
    from flask.typing import RouteCallable

log = logging.getLogger(__name__)

DATA_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
"""For everything that is not a page: JSON, the script, metrics. Nothing in it may run or load."""

RATE_LIMITED = {  # endpoint -> config key of its limit
    "api.events": "RATE_LIMIT_EVENTS",
    "api.related_to_text": "RATE_LIMIT_EXPENSIVE",
    "api.reading_list": "RATE_LIMIT_EXPENSIVE",
    "api.related": "RATE_LIMIT_RELATED",
}


PRIVATE_NETWORKS = tuple(ipaddress.ip_network(n) for n in (
    "127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "::1/128", "fc00::/7"))
"""Who may read ``/metrics`` without a token: loopback and RFC 1918 / unique-local addresses."""


def page_policy(nonce: str) -> str:
    """The demo page's policy: its own script and API only; styles with this response's nonce."""
    return ("default-src 'none'; script-src 'self'; connect-src 'self'; img-src 'self'; "
            f"style-src 'nonce-{nonce}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def csp_nonce() -> str:
    """A fresh nonce for this response's page policy (the widget copies its script's nonce)."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def init_app(app: Flask) -> None:
    if app.config["TRUSTED_PROXIES"]:
        # Behind nginx: the client is the one the proxy saw (X-Forwarded-For), not the proxy itself.
        hops = app.config["TRUSTED_PROXIES"]
        # Flask's documented way to add WSGI middleware. Assigning over a method cannot be typed, hence the
        # ignore (the alternative, setattr with a constant name, only trades it for a lint suppression).
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    app.after_request(_headers)
    _init_limiter(app)


def _headers(response):
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    if "csp_nonce" in g and response.mimetype == "text/html":
        headers["Content-Security-Policy"] = page_policy(g.csp_nonce)
    else:
        headers.setdefault("Content-Security-Policy", DATA_POLICY)
    if request.endpoint == "pages.widget":  # embedded by other sites, also those that send COEP
        headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response


# -- rate limits ------------------------------------------------------------------------------
def _init_limiter(app: Flask) -> None:
    from flask_limiter import Limiter
    from flask_limiter.util import get_remote_address

    app.config.setdefault("RATELIMIT_ENABLED", app.config["RATE_LIMITS_ENABLED"])
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config["RATE_LIMIT_STORAGE"])
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    app.after_request(_retry_at_least_a_second)  # registered first, so it runs after the limiter's headers
    limiter = Limiter(get_remote_address, app=app, default_limits=[], strategy="moving-window")
    app.extensions["readalso.limiter"] = limiter
    for endpoint, key in RATE_LIMITED.items():
        if app.config[key]:  # this app's view, wrapped: the limits belong to this app's limiter
            # The decorator returns the view with its signature unchanged; the cast restores the view type,
            # which inference loses through the union that RouteCallable is.
            app.view_functions[endpoint] = cast("RouteCallable",
                                                limiter.limit(app.config[key])(app.view_functions[endpoint]))


def _retry_at_least_a_second(response: Response) -> Response:
    """The limiter rewrites every ``Retry-After`` as whole seconds to its reset time, rounded down, which can
    tell a busy client to retry at once (``0``); a client is told at least one second."""
    value = response.headers.get("Retry-After", "")
    if value.isdigit() and int(value) < 1:
        response.headers["Retry-After"] = "1"
    return response


# -- write routes -----------------------------------------------------------------------------
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


# -- /metrics ---------------------------------------------------------------------------------
def require_metrics_access() -> None:
    """``METRICS_TOKEN`` as a bearer token when set; else only loopback and private addresses."""
    expected = current_app.config["METRICS_TOKEN"]
    if expected:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected.encode()):
            raise ApiError(401, "/metrics needs 'Authorization: Bearer <READALSO_METRICS_TOKEN>'",
                           parameter="Authorization", headers={"WWW-Authenticate": 'Bearer realm="readalso-metrics"'})
        return
    try:
        address = ipaddress.ip_address((request.remote_addr or "").split("%")[0])
        address = getattr(address, "ipv4_mapped", None) or address
    except ValueError:
        address = None
    if address is None or not any(address in network for network in PRIVATE_NETWORKS):
        raise ApiError(403, "/metrics answers only loopback and private addresses unless READALSO_METRICS_TOKEN is set")


# -- events: origins --------------------------------------------------------------------------
def require_event_origin() -> None:
    """With ``CORS_ORIGINS`` configured (and not ``*``), events come from those origins or this one."""
    allowed = current_app.config["CORS_ORIGINS"]
    if not allowed or "*" in allowed:
        return
    origin = (request.headers.get("Origin") or "").rstrip("/")
    own = request.host_url.rstrip("/")
    if origin not in allowed and origin != own:
        raise ApiError(403, f"events are accepted only from the configured origins, not {origin or 'no origin'!r}",
                       parameter="Origin", code="origin_not_allowed")


# -- the store's disk -------------------------------------------------------------------------
WRITE_FAILURES = ("disk is full", "database or disk is full", "readonly database", "disk i/o error",
                  "unable to open database", "attempt to write a readonly database")


class StoreHealth:
    """Whether writes can succeed: free space, permissions, and the last write that failed."""

    def __init__(self, db, min_free_bytes: int, hold_seconds: float = 30.0):
        self.db = db
        self.min_free_bytes = min_free_bytes
        self.hold_seconds = hold_seconds
        self.failed_at: float | None = None
        self.failure = ""

    def record(self, error: Exception) -> bool:
        """Remember a write error if it is one of a full or unwritable store; returns whether it was."""
        message = str(error).lower()
        if isinstance(error, (sqlite3.OperationalError, OSError)) and any(m in message for m in WRITE_FAILURES):
            self.failed_at, self.failure = time.monotonic(), str(error)
            log.error("store write failed: %s", error)
            return True
        return False

    def problem(self) -> str | None:
        """Why writes would fail now, or None."""
        directory = self.db.parent
        try:
            free = shutil.disk_usage(directory).free
        except OSError as error:
            return f"cannot check the store's disk: {error}"
        if free < self.min_free_bytes:
            return f"store disk nearly full: {free} bytes free, at least {self.min_free_bytes} wanted"
        if not os.access(directory, os.W_OK) or (self.db.exists() and not os.access(self.db, os.W_OK)):
            return f"store not writable: {self.db}"
        if self.failed_at is not None and time.monotonic() - self.failed_at < self.hold_seconds:
            return f"a store write failed {time.monotonic() - self.failed_at:.0f} s ago: {self.failure}"
        return None
