"""The service's one input layer: every byte a client sends is read and checked here.

Routes never look at ``request`` data themselves: they call the functions below, which answer
a bad input with the one JSON error shape (400 malformed, 404 impossible path id, 413 too large,
415 wrong media type, 422 well-formed but unusable) naming the input at fault. The rules match
``service/openapi.json``; a contract test (schemathesis) holds the two together.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from datetime import UTC, datetime, timedelta

from flask import current_app, g, request

from recommender.articles import Article, ArticleError, check_url
from recommender.ranking import Filters
from recommender.readers import build_article

from .errors import ApiError, bad_parameter, unprocessable

JSON_TYPES = ("application/json",)
JSON_LINES_TYPES = ("application/x-ndjson", "application/jsonl", "application/x-jsonlines", "application/jsonlines")
MAX_TEXT = 100_000
MAX_ID = 256
MAX_SECTION = 100
MAX_EXCLUDE = 500
MAX_BATCH = 10_000
_INTEGER = re.compile(r"[0-9]{1,9}")  # ASCII digits only: no "3_0", "+3", " 3", "٣"
_LANGUAGE = re.compile(r"[a-z]{2,3}(-[a-z0-9]{1,8})?")
_READ_CHUNK = 64 * 1024
MAX_EPOCH_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z


# -- the body ---------------------------------------------------------------------------------
def too_large(limit: int) -> ApiError:
    return ApiError(413, f"the body must be at most {limit} bytes", parameter="body")


def read_body() -> bytes:
    """The whole request body, at most ``MAX_CONTENT_LENGTH`` bytes, or 413 before anything is used.

    A body sent with ``Transfer-Encoding: chunked`` has no length up front: it is read to its end
    or to one byte past the limit, and refused whole in the second case (never cut and used).
    """
    if "body_bytes" in g:
        return g.body_bytes
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    length = request.content_length
    if length is not None:
        if length > limit:
            raise too_large(limit)
        data = request.get_data(cache=False)
    else:
        stream = request.environ.get("wsgi.input")
        data = b""
        if stream is not None and request.environ.get("wsgi.input_terminated"):
            parts, size = [], 0
            while True:
                part = stream.read(min(_READ_CHUNK, limit + 1 - size))
                if not part:
                    break
                parts.append(part)
                size += len(part)
                if size > limit:
                    raise too_large(limit)
            data = b"".join(parts)
    g.body_bytes = data
    return data


def parse_json(data: bytes | str, parameter: str = "body"):
    """JSON text -> value; 400 naming ``parameter`` for malformed or absurdly nested JSON."""
    try:
        return json.loads(data)
    except RecursionError:
        raise ApiError(400, f"{parameter} is nested too deeply", parameter=parameter) from None
    except (ValueError, UnicodeDecodeError) as error:
        raise ApiError(400, f"{parameter} is not valid JSON: {error}", parameter=parameter) from None


def json_body(*, also: tuple[str, ...] = ()):
    """The parsed JSON body; 415 for another media type, 400 for malformed JSON."""
    mimetype = request.mimetype
    if mimetype not in JSON_TYPES + also:
        raise ApiError(415, f"send the body as {' or '.join(JSON_TYPES + also)}, not {mimetype or 'nothing'!r}",
                       parameter="Content-Type")
    return parse_json(read_body() or b"")


def json_object(what: str) -> dict:
    body = json_body()
    if not isinstance(body, dict):
        raise unprocessable("body", f"expected a JSON object with {what}")
    return body


def json_records() -> list:
    """``POST /v1/articles``: a JSON array (or one object), or JSON Lines; a non-empty list."""
    if request.mimetype in JSON_LINES_TYPES:
        records = []
        text = read_body().decode("utf-8", "replace")
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                records.append(parse_json(line, f"line {number}"))
    else:
        records = json_body(also=JSON_LINES_TYPES)
        records = [records] if isinstance(records, dict) else records
    if not isinstance(records, list) or not records:
        raise unprocessable("body", "expected a non-empty JSON array of articles or JSON Lines")
    if len(records) > MAX_BATCH:
        raise unprocessable("body", f"at most {MAX_BATCH} articles in one request, got {len(records)}")
    return records


# -- ids --------------------------------------------------------------------------------------
def id_problem(value) -> str | None:
    """Why ``value`` cannot be an article id, or None. Ids are taken exactly as given."""
    if not isinstance(value, str) or not value:
        return "must be a non-empty string"
    if len(value) > MAX_ID:
        return f"must be at most {MAX_ID} characters"
    if value != value.strip():
        return "must not start or end with white space"
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in value):
        return "must not contain control characters"
    return None


def check_path_id() -> None:
    """``before_request`` of the API and the demo: the ``<article_id>`` of the URL is a possible id."""
    article_id = (request.view_args or {}).get("article_id")
    if article_id is not None:
        problem = id_problem(article_id)
        if problem:
            status = 404 if request.method in ("GET", "HEAD") else 422
            raise ApiError(status, f"id {problem}", parameter="id")


def body_id(value, name: str) -> str:
    problem = id_problem(value)
    if problem:
        raise unprocessable(name, f"{name} {problem}")
    return value


# -- query parameters -------------------------------------------------------------------------
def query_int(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not _INTEGER.fullmatch(raw):
        raise bad_parameter(name, f"must be an integer in {low}..{high}, got {raw[:50]!r}")
    value = int(raw)
    if not low <= value <= high:
        raise bad_parameter(name, f"must be in {low}..{high}, got {value}")
    return value


def query_float(name: str, low: float, high: float | None, *, low_open: bool = False) -> float | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = float(raw) if len(raw) <= 50 and "_" not in raw else float("nan")
    except ValueError:
        raise bad_parameter(name, f"must be a number, got {raw[:50]!r}") from None
    if not math.isfinite(value) or value < low or (low_open and value == low) or (high is not None and value > high):
        bounds = f"{'>' if low_open else '>='} {low}" + (f" and <= {high}" if high is not None else "")
        raise bad_parameter(name, f"must be {bounds}, got {raw[:50]!r}")
    return value


def query_filters() -> tuple[int, Filters, float]:
    k = query_int("k", current_app.config["DEFAULT_K"], 1, current_app.config["MAX_K"])
    section = request.args.get("section") or None
    if section is not None and len(section) > MAX_SECTION:
        raise bad_parameter("section", f"must be at most {MAX_SECTION} characters")
    max_age = query_float("max_age_days", 0, None, low_open=True)
    exclude = [part.strip() for value in request.args.getlist("exclude") for part in value.split(",") if part.strip()]
    if len(exclude) > MAX_EXCLUDE:
        raise bad_parameter("exclude", f"at most {MAX_EXCLUDE} ids")
    diversity = query_float("diversity", 0, 1) or 0.0
    return k, Filters(section=section, max_age_days=max_age, exclude=frozenset(exclude)), diversity


# -- JSON fields ------------------------------------------------------------------------------
def json_int(value) -> int | None:
    """A JSON integer (``14`` or ``14.0``, as JSON Schema counts them), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value if isinstance(value, int) else None


def body_k(body: dict, default: int) -> int:
    """``k`` of any JSON body: one range, 1..MAX_K, for every route."""
    max_k = current_app.config["MAX_K"]
    k = json_int(body.get("k", default))
    if k is None or not 1 <= k <= max_k:
        raise unprocessable("k", f"k must be an integer in 1..{max_k}, got {body.get('k')!r}")
    return k


def body_filters(body: dict) -> tuple[int, Filters, float]:
    """``k``, ``filters`` and ``diversity`` of a JSON body; 422 naming the bad field."""
    k = body_k(body, current_app.config["DEFAULT_K"])
    filters = body.get("filters")
    filters = {} if filters is None else filters
    if not isinstance(filters, dict):
        raise unprocessable("filters", "filters must be an object")
    unknown = set(filters) - {"section", "max_age_days", "exclude"}
    if unknown:
        raise unprocessable("filters", f"unknown filter {sorted(unknown)[0]!r}; known: section, max_age_days, exclude")
    section = filters.get("section")
    if section is not None and (not isinstance(section, str) or len(section) > MAX_SECTION):
        raise unprocessable("filters.section", f"filters.section must be a string of at most {MAX_SECTION} characters")
    max_age = filters.get("max_age_days")
    if max_age is not None and (isinstance(max_age, bool) or not isinstance(max_age, (int, float))
                                or not 0 < max_age < 1e9):
        raise unprocessable("filters.max_age_days", f"filters.max_age_days must be a positive number, got {max_age!r}")
    exclude = filters.get("exclude")
    exclude = [] if exclude is None else exclude
    if (not isinstance(exclude, list) or len(exclude) > MAX_EXCLUDE
            or not all(isinstance(i, str) and len(i) <= MAX_ID for i in exclude)):
        raise unprocessable("filters.exclude", f"filters.exclude must be a list of at most {MAX_EXCLUDE} ids")
    diversity = body.get("diversity", 0.0)
    if isinstance(diversity, bool) or not isinstance(diversity, (int, float)) or not 0 <= diversity <= 1:
        raise unprocessable("diversity", f"diversity must be a number in [0, 1], got {diversity!r}")
    return k, Filters(section=section or None, max_age_days=max_age, exclude=frozenset(exclude)), float(diversity)


def optional_string(body: dict, name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise unprocessable(name, f"{name} must be a string")
    return value


def text_query(body: dict) -> tuple[str, str, str]:
    """``POST /v1/related``: ``(headline, body, language)``; 422 unless some word is given."""
    headline = (optional_string(body, "headline") or "").strip()
    text = optional_string(body, "body") or ""
    language = optional_string(body, "language")
    language = "en" if language is None else language.strip().lower()
    if not _LANGUAGE.fullmatch(language):
        raise unprocessable("language", f"language must be a code like 'en' or 'pt-br', got {body['language']!r}")
    for name, value in (("headline", body.get("headline")), ("body", text)):
        if value is not None and len(value) > MAX_TEXT // 2:
            raise unprocessable(name, f"{name} must be at most {MAX_TEXT // 2} characters")
    if not headline and not text.strip():
        raise unprocessable("headline", "give a headline or a body that is not only white space")
    # Stripped: white space carries no words, and a draft's stand-in headline is taken from the body's start.
    return headline, text.strip(), language.split("-")[0]


MAX_DRAFT = 2_000_000
"""Characters of a draft ``POST /v1/suggest`` takes."""


def suggest_query(body: dict, shapes) -> tuple[str, str | None, int | None, bool]:
    """``POST /v1/suggest``: ``(draft source, shape, after, replace)``; a draft given as a JSON object is
    its JSON text, of shape ``json``."""
    draft, shape = body.get("draft"), body.get("shape")
    if shape is not None and shape not in shapes:
        raise unprocessable("shape", f"shape must be one of {', '.join(shapes)}, got {shape!r}")
    if isinstance(draft, dict):
        if shape not in (None, "json"):
            raise unprocessable("shape", f"a draft given as a JSON object is of shape 'json', not {shape!r}")
        article_from(draft, "draft")  # an article record: the same rules as an article written to the store
        source, shape = json.dumps(draft, ensure_ascii=False), "json"
    elif isinstance(draft, str) and draft.strip():
        source = draft
    else:
        raise unprocessable("draft", "draft must be a non-empty string (text, HTML or JSON) or a JSON object")
    if len(source) > MAX_DRAFT:
        raise unprocessable("draft", f"draft must be at most {MAX_DRAFT} characters")
    after = body.get("after")
    if after is not None and (isinstance(after, bool) or not isinstance(after, int) or not 0 <= after <= 1000):
        raise unprocessable("after", f"after must be a paragraph number in 0..1000, got {after!r}")
    replace = body.get("replace", False)
    if not isinstance(replace, bool):
        raise unprocessable("replace", f"replace must be true or false, got {replace!r}")
    return source, shape, after, replace


def reading_list_query(body: dict) -> tuple[str | None, list[str] | None, float | None, int]:
    """``POST /v1/reading-list``: ``(story, history, minutes, k)``."""
    if ("story" in body) == ("history" in body):
        raise unprocessable("story", 'give either "story": ID or "history": [ID, ...]')
    story, history = body.get("story"), body.get("history")
    if "story" in body:
        body_id(story, "story")
    max_history = current_app.config["MAX_HISTORY"]
    if "history" in body and (not isinstance(history, list) or not 0 < len(history) <= max_history
                              or any(id_problem(i) for i in history)):
        raise unprocessable("history", f"history must be a list of 1..{max_history} article ids")
    minutes = body.get("minutes")
    if minutes is not None and (isinstance(minutes, bool) or not isinstance(minutes, (int, float))
                                or not 0 < minutes <= 1440):
        raise unprocessable("minutes", f"minutes must be a number in (0, 1440], got {minutes!r}")
    return story, history, minutes, body_k(body, min(10, current_app.config["MAX_K"]))


def reload_version(body) -> str | None:
    """``POST /v1/admin/reload``: the body (if any) names an artifact version, or not."""
    if not isinstance(body, dict):
        raise unprocessable("body", "expected a JSON object, optionally with a version")
    if "version" not in body:
        return None
    version = body["version"]
    if not isinstance(version, str) or not version or len(version) > MAX_ID:
        raise unprocessable("version", f"version must be a non-empty string, got {version!r}")
    return version


# -- articles ---------------------------------------------------------------------------------
ARTICLE_TYPES: dict[str, tuple[type, ...]] = {
    "id": (str,), "headline": (str,), "body": (str, type(None)), "url": (str, type(None)),
    "published_at": (str, type(None)), "section": (str, type(None)),
    "language": (str, type(None)), "read_also": (list, type(None))}
"""The JSON types of ``ArticleInput`` (service/openapi.json): the API takes JSON, not CSV cells."""
_TYPE_NAMES: dict[type, str] = {str: "a string", list: "a list"}


def article_from(raw, where: str, *, path_id: str | None = None) -> Article:
    """One article of a write route; 422 naming ``where`` when it cannot be stored.

    Links are checked here too: only ``http``/``https`` URLs are accepted (``check_url``), so a
    ``javascript:`` URL never reaches a reader's page through the widget.
    """
    if not isinstance(raw, dict):
        raise unprocessable(where, f"{where}: expected a JSON object, got {type(raw).__name__}")
    prefix = f"{where}: " if where.startswith("[") else ""
    unknown = sorted(set(raw) - set(ARTICLE_TYPES))
    if unknown:
        raise unprocessable(where, f"{prefix}unknown field {unknown[0]!r}; known: {', '.join(ARTICLE_TYPES)}")
    if path_id is not None:
        if raw.get("id", path_id) != path_id:
            raise unprocessable("id", f"id in the body ({raw['id']!r}) differs from the URL ({path_id!r})")
        raw = {**raw, "id": path_id}
    for name, types in ARTICLE_TYPES.items():
        if name in raw and not isinstance(raw[name], types):
            wanted = " or ".join("null" if t is type(None) else _TYPE_NAMES[t] for t in types)
            raise unprocessable(where, f"{prefix}{name} must be {wanted}, got {type(raw[name]).__name__}")
    if "id" in raw:
        problem = id_problem(raw["id"])
        if problem:
            raise unprocessable(where, f"{prefix}id {problem}")
    for position, link in enumerate(raw.get("read_also") or [], 1):
        if not isinstance(link, (str, dict)) or (isinstance(link, dict) and not (
                set(link) <= {"headline", "url"} and isinstance(link.get("headline"), str)
                and isinstance(link.get("url"), (str, type(None))))):
            raise unprocessable(where, f"{prefix}read_also item {position} must be a headline or "
                                       "{\"headline\": ..., \"url\": ...}")
    try:
        for url in _urls(raw):
            check_url(url)
        return build_article(raw)
    except ArticleError as error:
        raise unprocessable(where, f"{prefix}{error}") from None


def _urls(raw: dict):
    """Every URL of an article input (``null`` is no URL; ``""`` is not a URL)."""
    if raw.get("url") is not None:
        yield raw["url"]
    for link in raw.get("read_also") or []:
        if isinstance(link, dict) and link.get("url") is not None:
            yield link["url"]


# -- events -----------------------------------------------------------------------------------
def event_items(body) -> tuple[list, bool]:
    """The events of a beacon and whether they came as a list; 422 unless 1..MAX_EVENTS."""
    if isinstance(body, dict) and isinstance(body.get("events"), list):
        body = body["events"]
    items = body if isinstance(body, list) else [body]
    if not items or len(items) > current_app.config["MAX_EVENTS"]:
        raise unprocessable("events", f"send 1..{current_app.config['MAX_EVENTS']} events")
    return items, isinstance(body, list)


def event(item, where: str | None, *, now: datetime | None = None) -> dict:
    """One widget event, checked in form; 422 naming the field. Whether its articles and model
    exist, and whether its time is ``fresh``, is the route's to judge (it drops those events)."""
    def field(name):
        return f"{where}.{name}" if where else name

    if not isinstance(item, dict):
        raise unprocessable(where or "body", "an event is a JSON object")
    kind = item.get("type")
    if kind not in ("impression", "click"):
        raise unprocessable(field("type"), f"type must be 'impression' or 'click', got {kind!r}")
    for name in ("article", "target"):
        value = item.get(name)
        if value is not None and id_problem(value):
            raise unprocessable(field(name), f"{name} must be an article id (1..{MAX_ID} characters)")
    if not item.get("article"):
        raise unprocessable(field("article"), "article (the page's article id) is required")
    if kind == "click" and not item.get("target"):
        raise unprocessable(field("target"), "a click needs the target article id")
    position = item.get("position")
    max_k = current_app.config["MAX_K"]
    if position is not None:
        position = json_int(item["position"])
        if position is None or not 1 <= position <= max_k:
            raise unprocessable(field("position"),
                                f"position must be an integer in 1..{max_k}, got {item['position']!r}")
    model = item.get("model")
    if model is not None and (not isinstance(model, str) or not 0 < len(model) <= 100):
        raise unprocessable(field("model"), "model must be a model version string")
    moment, fresh = client_time(item.get("time"), field("time"), now or datetime.now(UTC))
    return {"type": kind, "article_id": item["article"], "target_id": item.get("target"), "position": position,
            "client_time": moment, "fresh": fresh, "model_version": model}


def client_time(value, name: str, now: datetime) -> tuple[str | None, bool]:
    """Milliseconds since the epoch (``Date.now()``) or ISO 8601 -> ``(ISO 8601, fresh)``.

    Fresh: not later than ``EVENT_MAX_SKEW_SECONDS`` ahead of the server's clock, nor older than
    ``EVENT_MAX_AGE_HOURS``. A beacon is sent when it happens, so a stale or future time is forged
    or broken: the route drops such events (422 only for a time that is not a time at all).
    """
    if value is None:
        return None, True
    moment = None
    try:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= MAX_EPOCH_MS:
            moment = datetime.fromtimestamp(value / 1000, UTC)
        elif isinstance(value, str) and len(value) <= 40:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError, OSError):
        pass
    if moment is None:
        raise unprocessable(name, f"time must be epoch milliseconds or ISO 8601, got {value!r}")
    skew = timedelta(seconds=current_app.config["EVENT_MAX_SKEW_SECONDS"])
    oldest = timedelta(hours=current_app.config["EVENT_MAX_AGE_HOURS"])
    return moment.isoformat(), now - oldest <= moment <= now + skew
