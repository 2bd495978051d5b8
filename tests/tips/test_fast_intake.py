"""The JSON intake fast path (server.tips.fast_intake): it serves the plain signed-in JSON tip without Flask's
request machinery, answers exactly as the Flask view does, and hands every other request to Flask untouched."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from server.extensions import db
from server.tips import fast_intake
from server.tips.models import TipIntake
from tests.tips.helpers import PLANTED_TEXT, grid_point, payload, post_tip


@pytest.fixture
def member(make_user, demo_areas):
    return make_user("member", demo_areas["grid"])


@pytest.fixture
def body(demo_areas):
    return payload(*grid_point(demo_areas["grid"]))


def count_calls(app, monkeypatch, endpoint: str) -> list:
    """Counts the requests that reach a Flask view (the fast path never calls one)."""
    calls = []
    view = app.view_functions[endpoint]

    def counting(*args, **kwargs):
        calls.append(1)
        return view(*args, **kwargs)

    monkeypatch.setitem(app.view_functions, endpoint, counting)
    return calls


@pytest.fixture
def flask_view_calls(app, monkeypatch):
    """The requests that reached the Flask view of POST /api/v1/tips."""
    return count_calls(app, monkeypatch, "tips.submit_tip")


@pytest.fixture
def make_token(app, db_session):
    """make_token(user, minutes=...) -> an access token as issue_pair makes them, with its own lifetime."""
    from flask_jwt_extended import create_access_token, decode_token

    from server.accounts.tokens import issue_pair

    def make(user, *, minutes: int = 10) -> str:
        pair = issue_pair(user)
        db_session.commit()
        claims = {"ver": user.token_version, "fam": decode_token(pair["access_token"])["fam"]}
        return create_access_token(str(user.id), additional_claims=claims, expires_delta=timedelta(minutes=minutes))

    return make


def waiting() -> int:
    return db.session.scalar(select(func.count(TipIntake.tip_id)))


def test_the_plain_json_tip_never_reaches_flask(client, member, auth_headers, body, flask_view_calls):
    response = post_tip(client, auth_headers(member), body, write=False)
    assert response.status_code == 202 and response.get_json()["status"] == "submitted"
    assert flask_view_calls == [] and waiting() == 1
    replay = client.post("/api/v1/tips", json=body, headers=auth_headers(member) | {"Idempotency-Key": "k-1"})
    again = client.post("/api/v1/tips", json=body, headers=auth_headers(member) | {"Idempotency-Key": "k-1"})
    assert replay.status_code == again.status_code == 202 and replay.get_json() == again.get_json()
    assert flask_view_calls == [] and waiting() == 2  # a replay is served too, and writes nothing


@pytest.mark.parametrize(
    "change",
    [
        {"anonymous": True},
        {"implicates_official": True},
        {"category": "gang.protective_umbrella"},
        {"location": {"lon": 118.87, "lat": 28.94, "datum": "gcj02", "accuracy_m": 30}},
        {"location": {"lon": 100.0, "lat": 40.0, "datum": "wgs84"}},
        {"occurred_at": None, "client": {}},
    ],
    ids=["anonymous", "implicates an official", "protective umbrella", "gcj02", "outside every grid", "bare"],
)
def test_every_kind_of_tip_is_served_on_the_fast_path(client, member, auth_headers, body, flask_view_calls, change):
    """Nothing the service does for these needs Flask's request context (a failure would be logged and handed
    to Flask, which the counter would show)."""
    response = post_tip(client, auth_headers(member), body | change, write=False)
    assert response.status_code == 202, response.get_json()
    assert flask_view_calls == [] and waiting() == 1


def test_it_answers_as_the_flask_view_does(app, client, member, auth_headers, body, monkeypatch):
    fast = post_tip(client, auth_headers(member), body, write=False)
    monkeypatch.setattr(app, "wsgi_app", app.wsgi_app.flask_wsgi)
    slow = post_tip(client, auth_headers(member), body, write=False)
    assert fast.status == slow.status == "202 ACCEPTED"
    assert sorted(fast.headers.items()) == sorted(
        (name, str(len(fast.data)) if name == "Content-Length" else value) for name, value in slow.headers.items()
    )
    fast_body, slow_body = fast.get_json(), slow.get_json()
    assert slow_body["id"] == fast_body["id"] + 1
    assert fast_body | {"id": None, "submitted_at": None} == slow_body | {"id": None, "submitted_at": None}
    assert fast.data.endswith(b"}\n") and b", " not in fast.data  # Flask's compact JSON, to the byte


def test_an_anonymous_tip_with_its_receipt_goes_through_flask(app, client, body, monkeypatch):
    """Only the signed-in endpoint has a fast path: the anonymous one is rate-limited, which is Flask-Limiter's."""
    anonymous_view_calls = count_calls(app, monkeypatch, "tips.submit_anonymous_tip")
    response = post_tip(client, {}, body, path="/api/v1/tips/anonymous", write=False)
    assert response.status_code == 202 and response.get_json()["receipt"]["secret"]
    assert anonymous_view_calls == [1]


BAD_BODIES = [
    ({"category": None}, 422, "validation-failed"),
    ({"category": "no.such.thing"}, 422, "unknown-category"),
    ({"location": {"lon": 200, "lat": 28.9, "datum": "wgs84"}}, 422, None),
    ({"location": {"lon": 118.9, "lat": 28.9, "datum": "krasovsky"}}, 422, None),
]


@pytest.mark.parametrize(("change", "status", "kind"), BAD_BODIES, ids=["fields", "category", "range", "datum"])
def test_every_refusal_is_flasks_and_writes_nothing(
    client, member, auth_headers, body, flask_view_calls, change, status, kind
):
    changed = {name: value for name, value in (body | change).items() if value is not None}
    response = post_tip(client, auth_headers(member), changed, write=False)
    assert response.status_code == status and response.mimetype == "application/problem+json"
    if kind:
        assert response.get_json()["type"].endswith(kind)
    assert flask_view_calls == [1] and waiting() == 0


def test_key_and_token_refusals_are_flasks(client, member, auth_headers, body, flask_view_calls, make_token):
    headers = auth_headers(member)
    missing_key = client.post("/api/v1/tips", json=body, headers=headers)
    assert missing_key.status_code == 400 and missing_key.get_json()["type"].endswith("idempotency-key-missing")
    first = post_tip(client, headers, body, key="same-key", write=False)
    reused = post_tip(client, headers, body | {"description": "another tip"}, key="same-key", write=False)
    assert first.status_code == 202 and reused.status_code == 422
    expired = post_tip(client, {"Authorization": f"Bearer {make_token(member, minutes=-1)}"}, body, write=False)
    assert expired.status_code == 401 and expired.mimetype == "application/problem+json"
    assert len(flask_view_calls) == 3 and waiting() == 1  # missing key, reused key, expired token


@pytest.mark.parametrize(
    "form", ["Bearer  {t}", "bearer {t}", "Bearer {t}, Basic abc", "JWT {t}"], ids=["spaces", "case", "list", "type"]
)
def test_unusual_authorization_headers_are_judged_by_flask(client, member, body, flask_view_calls, make_token, form):
    """flask-jwt-extended's parser decides what these mean; the fast path takes only `Bearer <token>`."""
    response = post_tip(client, {"Authorization": form.format(t=make_token(member))}, body, write=False)
    assert flask_view_calls == [1]
    assert response.status_code in (202, 401)


def test_multipart_and_debug_mode_go_to_flask(app, client, member, auth_headers, body, flask_view_calls, monkeypatch):
    from tests.tips.helpers import jpeg_bytes

    with_photo = post_tip(client, auth_headers(member), body, photos=[("a.jpg", jpeg_bytes())])
    assert with_photo.status_code == 201 and flask_view_calls == [1]
    monkeypatch.setattr(app, "debug", True)
    debug = post_tip(client, auth_headers(member), body, write=False)
    assert debug.status_code == 202 and flask_view_calls == [1, 1] and b"\n  " in debug.data  # indented, by Flask


def test_an_unexpected_failure_is_logged_without_content_and_flask_answers(
    client, member, auth_headers, body, flask_view_calls, monkeypatch, caplog
):
    def broken(*args, **kwargs):
        raise RuntimeError(f"boom {PLANTED_TEXT}")

    monkeypatch.setattr(fast_intake, "submit_json", broken)
    with caplog.at_level(logging.WARNING, logger="server.tips.fast_intake"):
        response = post_tip(client, auth_headers(member), body, write=False)
    assert response.status_code == 202 and flask_view_calls == [1] and waiting() == 1
    lines = [r.getMessage() for r in caplog.records if r.name == "server.tips.fast_intake"]
    assert lines == ["the JSON intake fast path failed (RuntimeError); Flask answers instead"]


def test_a_body_over_the_fast_paths_size_goes_to_flask(client, member, auth_headers, body, flask_view_calls):
    padded = body | {"client": body["client"] | {"app_version": "2.3.1"}, "x": "y" * fast_intake.MAX_BODY}
    response = post_tip(client, auth_headers(member), padded, write=False, key=str(uuid.uuid4()))
    assert flask_view_calls == [1] and response.status_code == 422  # (unknown field `x`)
