"""The API against its own OpenAPI document (schemathesis): for generated inputs, no endpoint answers 5xx, and every
answer matches its documented status, content type and schema (problem+json errors too). The public reads are
called as they are; every other operation with the token of an account that holds every role."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import ignored_auth, missing_required_header, positive_data_acceptance

from server import create_app
from server.accounts.roles import ROLES
from server.openapi import openapi_document

PUBLIC_READS = r"^/api/v1/(areas/|grids|tips/categories)"

# The document comes from an app without a database (only its routes and schemas matter); the calls go to the
# test run's real app. (schemathesis.pytest.from_fixture does not work with this pytest version.)
everything = schemathesis.openapi.from_dict(openapi_document(create_app({"database_url": "sqlite:///:memory:"})))
schema = everything.include(path_regex=PUBLIC_READS, method="GET")
# Not the stream: it stays open for its full length (tests/notifications covers it).
signed_in = everything.exclude(path_regex=PUBLIC_READS, method="GET").exclude(path_regex="/notifications/stream$")


# Excluded: "schema-valid input must be accepted". Some rules cannot be said in JSON Schema (bbox min < max; a
# pair that only makes sense swapped is refused as coordinates-swapped), so valid-looking input may get a 422.
# Every other check stays: no 5xx, documented statuses, content types and response schemas.
EXCLUDED = [positive_data_acceptance]


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_public_reads_keep_their_contract(case, app, db_session):
    case.call_and_validate(app=app, excluded_checks=EXCLUDED)


@pytest.fixture
def every_role(make_user, auth_headers) -> dict:
    user = make_user(roles=list(ROLES), grids=["330899001001001"])
    return auth_headers(user) | {"Idempotency-Key": "contract-1"}


# Also excluded here: the checks that take the Authorization or Idempotency-Key header away, because this test puts
# them back (tests/accounts and tests/tips test both refusals).
@signed_in.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_keeps_its_contract(case, app, db_session, every_role):
    case.headers = every_role | dict(case.headers or {})
    case.call_and_validate(app=app, excluded_checks=[*EXCLUDED, missing_required_header, ignored_auth])
