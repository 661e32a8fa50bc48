"""The API against its OpenAPI document: schemathesis generates valid and invalid requests for every
operation and checks every answer (no 500, status codes, headers and bodies as documented)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

schemathesis = pytest.importorskip("schemathesis", reason="needs schemathesis (pip install -e '.[test]')")
from hypothesis import HealthCheck, given, settings  # noqa: E402

from conftest import API_TOKEN  # noqa: E402

EXAMPLES = int(os.environ.get("CONTRACT_EXAMPLES", 40))
"""At most this many examples per operation and mode (hypothesis stops early where the inputs are few):
~730 requests at 40. ``CONTRACT_EXAMPLES=300`` for a longer run."""
OPENAPI = Path(__file__).resolve().parents[1] / "service" / "openapi.json"
OPERATIONS = [operation for path in json.loads(OPENAPI.read_text())["paths"].values() for operation in path.values()]
CASES = [(operation["operationId"], mode) for operation in OPERATIONS for mode in ("positive", "negative")
         if mode == "positive" or operation.get("parameters") or operation.get("requestBody")]
"""Invalid requests only where there is an input to make invalid."""
CONTENT_RULES = {"suggestBlock"}
"""Operations whose valid input also depends on its content in a way JSON Schema cannot state: a draft
must read as an article in its shape (a string sent as shape json must be JSON, a csv draft needs a
record). Their schema-valid requests may get a 422 naming the draft; every other check still runs."""


@pytest.fixture
def api_schema(make_app):
    app = make_app(RATE_LIMITS_ENABLED=False, LOG_REQUESTS=False)
    return schemathesis.openapi.from_wsgi("/openapi.json", app)


@pytest.mark.parametrize("operation_id, mode", CASES)
def test_every_operation_keeps_its_contract(api_schema, operation_id, mode):
    operation = api_schema.find_operation_by_id(operation_id)
    strategy = operation.as_strategy(generation_mode=schemathesis.GenerationMode(mode))
    calls = []

    @given(case=strategy)
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def check(case):
        excluded = [schemathesis.checks.positive_data_acceptance] if operation_id in CONTENT_RULES else []
        calls.append(case.call_and_validate(headers={"Authorization": f"Bearer {API_TOKEN}"},
                                            excluded_checks=excluded).status_code)

    check()
    assert calls and 500 not in calls
    print(f"\nschemathesis {operation_id} {mode}: {len(calls)} requests, statuses {sorted(set(calls))}")
