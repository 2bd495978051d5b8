"""Every integer a client sends that reaches the database is bounded by what the database holds (server/bounds.py).

Found by schemathesis: an offset of 10**20 reached SQLite as an OverflowError and answered 500; and on PostgreSQL an
id of 2**63 - 1 was "integer out of range", another 500. These tests take every
integer path and query parameter from the OpenAPI document, so a new endpoint that forgets the bound fails here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from server.bounds import INT_MAX
from server.errors import PROBLEM_MIME

DOC = json.loads((Path(__file__).parents[1] / "api_docs/openapi.json").read_text())
GRID = "330899001001001"
TOO_BIG = INT_MAX + 1
# Query text every call of a path needs besides the parameter under test: a stream would stay open for its full length.
ALWAYS = {"/api/v1/notifications/stream": "max_seconds=0.1"}


def _integer_parameters() -> dict[tuple[str, str, str, str], dict]:
    """(method, path, name, where) -> the parameter's schema, for every integer path and query parameter."""
    found = {}
    for path, operations in DOC["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            for parameter in operation.get("parameters", []) + operations.get("parameters", []):
                if parameter.get("schema", {}).get("type") == "integer":
                    found[(method, path, parameter["name"], parameter["in"])] = parameter["schema"]
    return found


INTEGER_PARAMETERS = _integer_parameters()


def test_the_document_bounds_every_integer_parameter():
    unbounded = [p for p, schema in INTEGER_PARAMETERS.items() if schema.get("maximum") is None]
    assert not unbounded
    assert len(INTEGER_PARAMETERS) > 30  # the walk below really covers the API


@pytest.fixture
def everyone(make_user, auth_headers):
    user = make_user(roles=["admin", "county_staff", "custodian", "member", "grid_chief"], grids=[GRID])
    return auth_headers(user)


def _url(path: str, name: str, where: str, value: int) -> str:
    def fill(match):
        parameter = match.group(1)
        if parameter == name and where == "path":
            return str(value)
        return GRID if parameter == "code" else "1"

    query = ([f"{name}={value}"] if where == "query" else []) + [ALWAYS.get(path, "")]
    return re.sub(r"{(\w+)}", fill, path) + "?" + "&".join(query)


@pytest.mark.db
@pytest.mark.parametrize(("method", "path", "name", "where"), list(INTEGER_PARAMETERS))
def test_integers_beyond_the_database_are_a_clear_refusal(client, everyone, method, path, name, where):
    response = client.open(_url(path, name, where, TOO_BIG), method=method.upper(), headers=everyone, json={})
    # A path id beyond the range matches no route: 404, or 405 where another method shares the path (Werkzeug checks
    # the method before it converts the id). Either way, nothing about any object is told.
    assert response.status_code in ((404, 405) if where == "path" else (422,)), response.get_data(as_text=True)
    assert response.mimetype == PROBLEM_MIME
    if where == "query":
        assert name in response.get_data(as_text=True)


@pytest.mark.db
@pytest.mark.parametrize(("method", "path", "name", "where"), list(INTEGER_PARAMETERS))
def test_the_largest_integer_the_database_holds_is_no_error(client, everyone, method, path, name, where):
    response = client.open(_url(path, name, where, INT_MAX), method=method.upper(), headers=everyone, json={})
    assert response.status_code < 500, response.get_data(as_text=True)


@pytest.mark.db
@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/api/v1/links", {"member_id": TOO_BIG, "household_ids": [1]}),
        ("/api/v1/links", {"member_id": 1, "household_ids": [TOO_BIG]}),
        ("/api/v1/links/unlink", {"member_id": TOO_BIG, "household_ids": [1]}),
        ("/api/v1/tips/1/actions", {"action": "merge", "duplicate_of": TOO_BIG}),
    ],
)
def test_ids_in_a_body_beyond_the_database_are_a_422(client, everyone, url, body):
    response = client.post(url, headers=everyone | {"Idempotency-Key": "bounds-1"}, json=body)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM_MIME
