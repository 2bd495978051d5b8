"""JSON tip intake checks tokens on a hot path of its own (server.accounts.tokens.bearer_access_claims and
check_token_state, no flask-jwt-extended verify_jwt_in_request, no ORM). Every token failure must get exactly the
answer an ORM-checked endpoint (require_roles: GET /api/v1/tips/mine) gives, and nothing may be written."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest
from flask_jwt_extended import create_access_token
from sqlalchemy import func, select

from server.accounts.tokens import revoke_access_token, revoke_family
from server.extensions import db
from server.idempotency import IdempotencyRecord
from server.tips.models import Tip, TipFollowup
from tests.accounts.helpers import LOGOUT, assert_problem, bearer, claims_of, craft, unsigned
from tests.tips.helpers import grid_point, payload, post_tip

ORM_CHECKED = "/api/v1/tips/mine"  # @require_roles(): verify_jwt_in_request + the ORM user and blocklist loaders
OTHER_SECRET = "another-deployment-secret-0123456789abcdef"


@pytest.fixture
def member(make_user, demo_areas):
    return make_user("member", demo_areas["grid"])


@pytest.fixture
def body(client, demo_areas):
    return payload(*grid_point(demo_areas["grid"]))


def written() -> dict:
    """What intake writes, counted."""
    return {
        model.__tablename__: db.session.scalar(select(func.count()).select_from(model))
        for model in (Tip, TipFollowup, IdempotencyRecord)
    }


def fresh_pair(user) -> dict:
    from server.accounts.tokens import issue_pair

    pair = issue_pair(user)
    db.session.commit()
    return pair


def token_with(user, pair: dict, expires_delta: timedelta) -> str:
    """An access token exactly as issue_pair makes them (ver, fam), but with its own lifetime."""
    claims = {"ver": user.token_version, "fam": claims_of(pair["access_token"])["fam"]}
    return create_access_token(identity=str(user.id), additional_claims=claims, expires_delta=expires_delta)


# --- each case: (app, client, user) -> request headers; after it, the token in them must be refused -------------


def no_header(app, client, user):
    return {}


def wrong_scheme(app, client, user):
    return {"Authorization": "Basic x"}


def wrong_scheme_with_a_valid_token(app, client, user):
    return {"Authorization": f"Basic {fresh_pair(user)['access_token']}"}


def scheme_without_token(app, client, user):
    return {"Authorization": "Bearer"}


def too_many_parts(app, client, user):
    return {"Authorization": f"Bearer {fresh_pair(user)['access_token']} extra"}


def garbage(app, client, user):
    return bearer("not-a-jwt-at-all")


def other_secret(app, client, user):
    return bearer(craft(app, claims_of(fresh_pair(user)["access_token"]), key=OTHER_SECRET))


def other_audience(app, client, user):
    return bearer(craft(app, claims_of(fresh_pair(user)["access_token"]), aud="some-other-service"))


def alg_none(app, client, user):
    return bearer(unsigned(claims_of(fresh_pair(user)["access_token"]), "none"))


def expired(app, client, user):
    return bearer(token_with(user, fresh_pair(user), timedelta(seconds=-30)))


def refresh_as_access(app, client, user):
    return bearer(fresh_pair(user)["refresh_token"])


def logged_out(app, client, user):
    token = fresh_pair(user)["access_token"]
    assert client.post(LOGOUT, headers=bearer(token)).status_code == 204
    return bearer(token)


def access_token_blocklisted(app, client, user):
    """Only the jti on the blocklist; the family stays valid."""
    token = fresh_pair(user)["access_token"]
    claims = claims_of(token)
    revoke_access_token(claims["jti"], claims["exp"])
    db.session.commit()
    return bearer(token)


def family_revoked(app, client, user):
    token = fresh_pair(user)["access_token"]
    revoke_family(claims_of(token)["fam"], "refresh_reuse")
    db.session.commit()
    return bearer(token)


def no_family_claim(app, client, user):
    return bearer(craft(app, claims_of(fresh_pair(user)["access_token"]), fam=None))


def deactivated(app, client, user):
    """Only `active` flips (token_version untouched): the hot path must read `active` itself."""
    token = fresh_pair(user)["access_token"]
    user.active = False
    db.session.commit()
    return bearer(token)


def role_changed_by_an_admin(app, client, user):
    token = fresh_pair(user)["access_token"]
    admin = _admin(user)
    response = client.patch(
        f"/api/v1/users/{user.id}", headers=bearer(fresh_pair(admin)["access_token"]), json={"roles": ["grid_chief"]}
    )
    assert response.status_code == 200, response.get_json()
    return bearer(token)


def token_version_bumped(app, client, user):
    token = fresh_pair(user)["access_token"]
    user.token_version += 1
    db.session.commit()
    return bearer(token)


def unknown_user(app, client, user):
    return bearer(craft(app, claims_of(fresh_pair(user)["access_token"]), sub="987654321"))


def _admin(user):
    from server.accounts.models import User

    admin = User(phone=f"139{uuid.uuid4().int % 10**8:08d}", name="管理员", home_area_code="330899", active=True)
    admin.token_version = 1
    admin.password_hash = user.password_hash
    admin.set_roles(["admin"])
    db.session.add(admin)
    db.session.commit()
    return admin


CASES = {
    "no header": (no_header, "token-missing"),
    "Basic x": (wrong_scheme, "token-missing"),
    "Basic <valid token>": (wrong_scheme_with_a_valid_token, "token-missing"),
    "Bearer without token": (scheme_without_token, "token-invalid"),
    "Bearer <token> extra": (too_many_parts, "token-invalid"),
    "garbage token": (garbage, "token-invalid"),
    "signed with another secret": (other_secret, "token-invalid"),
    "another audience": (other_audience, "token-invalid"),
    "alg none": (alg_none, "token-invalid"),
    "expired access token": (expired, "token-expired"),
    "refresh token as access": (refresh_as_access, "wrong-token-type"),
    "logged out": (logged_out, "token-revoked"),
    "access jti blocklisted": (access_token_blocklisted, "token-revoked"),
    "family revoked": (family_revoked, "token-revoked"),
    "no fam claim": (no_family_claim, "token-revoked"),
    "user deactivated": (deactivated, "token-revoked"),
    "role changed (admin API)": (role_changed_by_an_admin, "token-revoked"),
    "token_version bumped": (token_version_bumped, "token-revoked"),
    "user does not exist": (unknown_user, "token-revoked"),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_every_token_failure_answers_as_the_orm_checked_endpoints_and_writes_nothing(app, client, member, body, case):
    make_headers, slug = CASES[case]
    headers = make_headers(app, client, member)
    before = written()

    hot = post_tip(client, headers, body)
    orm = client.get(ORM_CHECKED, headers=headers)

    assert_problem(orm, 401, slug)  # the reference answer
    assert_problem(hot, 401, slug)
    assert hot.get_json()["type"] == orm.get_json()["type"]
    assert hot.headers.get("WWW-Authenticate") == orm.headers.get("WWW-Authenticate") == 'Bearer realm="grid"'
    assert written() == before


def test_the_anonymous_channel_ignores_a_bad_token(client, body):
    """Control for the cases above: the anonymous endpoint reads no token, so the same body is accepted there."""
    response = post_tip(client, bearer("not-a-jwt-at-all"), body, path="/api/v1/tips/anonymous")
    assert response.status_code == 202, response.get_json()


# --- a revoked token learns nothing about its request: 401 before any 400/415/422 -----------------------------


def _bad_bodies(body: dict) -> dict:
    """name -> (request arguments, the status and problem a live token gets for them)."""

    def located(**change):
        return {"json": body | {"location": body["location"] | change}}

    return {
        "unknown category (checked in the database)": (
            {"json": body | {"category": "no.such"}},
            422,
            "unknown-category",
        ),
        "empty description (schema)": ({"json": body | {"description": ""}}, 422, "validation-failed"),
        "occurred in the future": (
            {"json": body | {"occurred_at": "2099-01-01T00:00:00+08:00"}},
            422,
            "occurred-in-future",
        ),
        "coordinates swapped (datum check)": (located(lon=28.9, lat=118.9), 422, "coordinates-swapped"),
        "coordinate out of range (datum check)": (located(lon=218.9, lat=28.9), 422, "coordinate-out-of-range"),
        "unknown datum (datum check)": (located(datum="wgs85"), 422, "unknown-datum"),
        "not a JSON object": ({"json": [1, 2, 3]}, 400, "malformed-json"),
        "malformed JSON": ({"data": b"{not json", "content_type": "application/json"}, 400, "malformed-json"),
        "not JSON at all": ({"data": b"category=vice", "content_type": "text/plain"}, 415, "unsupported-media-type"),
    }


BAD_BODIES = [
    "unknown category (checked in the database)",
    "empty description (schema)",
    "occurred in the future",
    "coordinates swapped (datum check)",
    "coordinate out of range (datum check)",
    "unknown datum (datum check)",
    "not a JSON object",
    "malformed JSON",
    "not JSON at all",
]
REVOCATIONS = {"logged out": logged_out, "user deactivated": deactivated, "token_version bumped": token_version_bumped}


@pytest.mark.parametrize("bad", BAD_BODIES)
@pytest.mark.parametrize("revocation", REVOCATIONS)
def test_a_revoked_token_with_an_invalid_body_is_401_not_the_body_error(app, client, member, body, bad, revocation):
    request_args, status, slug = _bad_bodies(body)[bad]
    live = bearer(fresh_pair(member)["access_token"]) | {"Idempotency-Key": str(uuid.uuid4())}
    assert_problem(client.post("/api/v1/tips", headers=live, **request_args), status, slug)  # the body's own error

    headers = REVOCATIONS[revocation](app, client, member) | {"Idempotency-Key": str(uuid.uuid4())}
    before = written()
    assert_problem(client.post("/api/v1/tips", headers=headers, **request_args), 401, "token-revoked")
    assert written() == before


@pytest.mark.parametrize("revocation", REVOCATIONS)
def test_a_revoked_token_without_idempotency_key_is_401_not_400(app, client, member, body, revocation):
    live = client.post("/api/v1/tips", headers=bearer(fresh_pair(member)["access_token"]), json=body)
    assert_problem(live, 400, "idempotency-key-missing")
    headers = REVOCATIONS[revocation](app, client, member)
    assert_problem(client.post("/api/v1/tips", headers=headers, json=body), 401, "token-revoked")


def test_an_expired_token_with_an_invalid_body_is_401_expired(client, member, body):
    headers = bearer(token_with(member, fresh_pair(member), timedelta(seconds=-30)))
    assert_problem(post_tip(client, headers, body | {"category": "no.such"}), 401, "token-expired")


def test_a_revoked_token_does_not_get_a_replay_of_its_own_earlier_tip(client, member, body):
    """The idempotency replay is an answer too: a token revoked since must not get it."""
    token = fresh_pair(member)["access_token"]
    key = str(uuid.uuid4())
    first = post_tip(client, bearer(token), body, key=key)
    assert first.status_code == 202
    member.active = False
    db.session.commit()
    before = written()
    assert_problem(post_tip(client, bearer(token), body, key=key), 401, "token-revoked")
    assert written() == before


# --- the verified-signature cache ---------------------------------------------------------------------------


def count_tips() -> int:
    return db.session.scalar(select(func.count(Tip.id)))


def test_the_same_token_works_twice_and_is_refused_once_the_user_is_deactivated(client, member, body):
    headers = bearer(fresh_pair(member)["access_token"])
    before = count_tips()
    first = post_tip(client, headers, body)
    second = post_tip(client, headers, body)
    assert first.status_code == second.status_code == 202, second.get_json()
    assert first.get_json()["id"] != second.get_json()["id"]
    assert count_tips() == before + 2

    member.active = False  # the signature is cached by now; the account state must still be read every time
    db.session.commit()
    assert_problem(post_tip(client, headers, body), 401, "token-revoked")
    assert_problem(client.get(ORM_CHECKED, headers=headers), 401, "token-revoked")
    assert count_tips() == before + 2


def test_a_cached_token_is_refused_once_it_expires(client, member, body):
    token = token_with(member, fresh_pair(member), timedelta(seconds=1))
    assert post_tip(client, bearer(token), body).status_code == 202  # verified, and remembered
    exp = claims_of(token)["exp"]
    while time.time() < exp:
        time.sleep(0.05)
    before = count_tips()
    assert_problem(post_tip(client, bearer(token), body), 401, "token-expired")
    assert_problem(client.get(ORM_CHECKED, headers=bearer(token)), 401, "token-expired")
    assert count_tips() == before


def test_a_cached_token_is_refused_once_the_secret_changes(app, client, member, body, monkeypatch):
    headers = bearer(fresh_pair(member)["access_token"])
    assert post_tip(client, headers, body).status_code == 202  # verified with the current secret, and remembered
    monkeypatch.setitem(app.config, "JWT_SECRET_KEY", OTHER_SECRET)
    before = count_tips()
    assert_problem(post_tip(client, headers, body), 401, "token-invalid")
    assert_problem(client.get(ORM_CHECKED, headers=headers), 401, "token-invalid")
    assert count_tips() == before


def test_a_failed_verification_is_not_remembered(app, client, member, body, monkeypatch):
    """A token first presented while the server had another secret (and refused) is accepted once it is back."""
    headers = bearer(fresh_pair(member)["access_token"])
    with monkeypatch.context() as m:
        m.setitem(app.config, "JWT_SECRET_KEY", OTHER_SECRET)
        assert_problem(post_tip(client, headers, body), 401, "token-invalid")
    assert post_tip(client, headers, body).status_code == 202


# --- header forms flask-jwt-extended accepts (comma-separated credentials): the hot path must agree -----------


@pytest.mark.parametrize(
    "template",
    ["Basic x, Bearer {token}", "Bearer {token},", "Bearer {token}, Basic x"],
    ids=["basic-then-bearer", "trailing-comma", "bearer-then-basic"],
)
def test_authorization_header_forms_accepted_by_the_orm_path_are_accepted_on_the_hot_path(
    client, member, body, template
):
    headers = {"Authorization": template.format(token=fresh_pair(member)["access_token"])}
    orm = client.get(ORM_CHECKED, headers=headers)
    hot = post_tip(client, headers, body)
    assert (hot.status_code, orm.status_code) == (202, 200), hot.get_json()


def test_two_bearer_credentials_are_refused_alike(client, member, body):
    token = fresh_pair(member)["access_token"]
    headers = {"Authorization": f"Bearer {token}, Bearer {token}"}
    orm = client.get(ORM_CHECKED, headers=headers)
    hot = post_tip(client, headers, body)
    assert orm.status_code == hot.status_code == 401
    assert hot.get_json()["type"] == orm.get_json()["type"]


# --- claims the server never issues, signed with the real secret: never a 500, and the ORM path's answer ---------


@pytest.mark.parametrize(
    "changes",
    [
        {"exp": "9999999999"},
        {"exp": "soon"},
        {"sub": None},
        {"sub": 42},
        {"sub": "abc"},
        {"type": "refresh"},
        {"ver": "1"},
        {"ver": True},  # == 1 in Python: accepted, though PostgreSQL's one-statement check is stricter (the fallback)
        {"ver": None},
    ],
    ids=[
        "exp-numeric-string",
        "exp-not-a-number",
        "no-sub",
        "sub-not-a-string",
        "sub-not-an-id",
        "type-refresh",
        "ver-a-string",
        "ver-true",
        "ver-null",
    ],
)
def test_odd_claims_signed_with_the_real_secret_answer_as_the_orm_path(app, client, member, body, changes):
    token = craft(app, claims_of(fresh_pair(member)["access_token"]), **changes)
    before = written()
    orm = client.get(ORM_CHECKED, headers=bearer(token))
    hot = post_tip(client, bearer(token), body)
    assert hot.status_code != 500, hot.get_data(as_text=True)
    if orm.status_code == 200:
        assert hot.status_code == 202, hot.get_json()
        after = written()
        assert (after["tips"], after["idempotency_keys"]) == (before["tips"] + 1, before["idempotency_keys"] + 1)
    else:
        assert hot.status_code == orm.status_code, hot.get_json()
        assert hot.get_json()["type"] == orm.get_json()["type"]
        assert written() == before


def test_a_token_without_exp_is_refused_on_the_hot_path(app, client, member, body):
    """The server never issues one; the hot path requires `exp` (PyJWT `require`). Note: the ORM path does not."""
    token = craft(app, claims_of(fresh_pair(member)["access_token"]), exp=None)
    before = written()
    assert_problem(post_tip(client, bearer(token), body), 401, "token-invalid")
    assert written() == before
