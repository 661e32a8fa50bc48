"""What the ``/v1`` API answers: library results as response payloads, and cacheable GET answers.

Routes call these after the library; the payloads' shapes are the ones ``openapi.json`` states.
An article is shown as :meth:`recommender.articles.Article.to_dict`, a reading list as
``ReadingList.to_dict``, a suggested item as ``Pick.to_dict``: the library's own representations.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

from flask import Response, current_app, jsonify, request

from recommender.store import Store

if TYPE_CHECKING:
    from recommender.suggest import Suggestion


def related(store: Store, ranking) -> list[dict]:
    """The ranked stories: each one's summary fields, score (relatedness in [0, 1]), editor_probability
    (the link model's, or null) and reason; stories no longer stored are left out."""
    found = store.articles.summaries(r.id for r in ranking)
    return [{**found[r.id], "score": r.score, "editor_probability": r.editor_probability, "reason": r.reason}
            for r in ranking if r.id in found]


def ranked(response: Response, path: str) -> Response:
    """A ranking's response, saying which path answered: ``stored`` (a batch list), ``live`` (ranked now) or
    ``cached`` (a ranking reused for ``RANKING_CACHE_SECONDS``), in ``X-Readalso-Path`` and on /metrics."""
    response.headers["X-Readalso-Path"] = path
    current_app.extensions["readalso.metrics"].rankings.labels(path).inc()
    return response


def upserted(results: list[tuple[str, str]]) -> dict:
    """A bulk upsert's answer: how many articles were new, updated or unchanged, and each one's status."""
    counts = {"new": 0, "updated": 0, "unchanged": 0}
    for status, _ in results:
        counts[status] += 1
    return {"counts": counts, "results": [{"id": i, "status": s} for s, i in results]}


def suggestion(result: Suggestion, *, as_json: bool) -> dict:
    """One draft's suggestion; ``as_json``: the draft came as a JSON object, so its document goes back as one."""
    document = json.loads(result.document) if as_json else result.document
    return {"shape": result.shape, "id": result.drafts[0].id, "document": document, "block": result.block(0),
            "read_also": [pick.to_dict() for pick in result.picks[0]]}


def cacheable(payload: dict):
    """A GET answer with a content ETag and Cache-Control; 304 when If-None-Match matches."""
    response = jsonify(payload)
    response.set_etag(hashlib.sha256(response.get_data()).hexdigest()[:32])
    response.cache_control.public = True
    response.cache_control.max_age = current_app.config["CACHE_MAX_AGE"]
    return response.make_conditional(request)
