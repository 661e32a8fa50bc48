"""One JSON error shape for every failure.

``{"error": {"status": 404, "code": "not_found", "message": "...", "parameter": "k"}}``
(``parameter`` only when one input is to blame). Registered for every ``HTTPException``
(routing 404/405, 413 from ``MAX_CONTENT_LENGTH``, ...) and for any other exception,
which becomes a 500 whose body names the request id but never shows a traceback.
"""

from __future__ import annotations

import logging

from flask import Flask, g, jsonify
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    409: "conflict", 413: "payload_too_large", 415: "unsupported_media_type", 422: "unprocessable",
    429: "too_many_requests", 500: "internal_error", 503: "unavailable",
}


class ApiError(HTTPException):
    """An error answered in the JSON shape; ``parameter`` names the input at fault."""

    code: int  # always set, to the status (``HTTPException`` allows None)
    description: str  # always set, to the message

    def __init__(self, status: int, message: str, *, parameter: str | None = None, code: str | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.code = status
        self.error_code = code or CODES.get(status, "error")
        self.parameter = parameter
        self.extra_headers = headers or {}


def bad_parameter(name: str, message: str) -> ApiError:
    """400 naming a bad query parameter."""
    return ApiError(400, f"{name}: {message}", parameter=name)


def unprocessable(name: str | None, message: str) -> ApiError:
    """422: well-formed JSON whose content cannot be used."""
    return ApiError(422, message, parameter=name)


def error_response(status: int, code: str, message: str, parameter: str | None = None, headers=None):
    body = {"status": status, "code": code, "message": message}
    if parameter is not None:
        body["parameter"] = parameter
    response = jsonify(error=body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _http_error(error: HTTPException):
    if isinstance(error, ApiError):
        return error_response(error.code, error.error_code, error.description, error.parameter, error.extra_headers)
    status = error.code or 500
    headers = {}
    allowed = getattr(error, "valid_methods", None)
    if allowed:  # 405: tell the client what is allowed
        headers["Allow"] = ", ".join(sorted(allowed))
    message = error.description or error.name
    if status == 404 and message.startswith("The requested URL was not found"):
        message = "no such route"
    return error_response(status, CODES.get(status, error.name.lower().replace(" ", "_")), message, headers=headers)


def _unexpected(error: Exception):
    log.exception("unhandled error")
    request_id = g.get("request_id", "-")
    return error_response(500, "internal_error", f"internal server error (request id {request_id})")


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
