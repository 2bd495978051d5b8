"""Log in, refresh rotation with reuse detection, logout, /me, and the JWT settings."""

from __future__ import annotations

import time

from sqlalchemy import select

from server.accounts.models import RefreshToken, TokenFamily
from server.audit.models import AuditEvent
from tests.accounts.helpers import LOGIN, LOGOUT, ME, REFRESH, assert_problem, bearer, claims_of, login


def test_login_answers_a_token_pair_and_the_user(app, client, make_user, demo_areas):
    chief = make_user("grid_chief", demo_areas["village"], grids=[demo_areas["grid"]], name="张三")
    response = login(client, chief)
    assert response.status_code == 200
    body = response.get_json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 15 * 60
    assert body["user"]["name"] == "张三"
    assert body["user"]["roles"] == [{"role": "grid_chief", "role_zh": "网格长"}]
    assert body["user"]["assignments"][0]["grid_code"] == demo_areas["grid"]
    access, refresh = claims_of(body["access_token"]), claims_of(body["refresh_token"])
    settings = app.config["GRID"]
    assert access["iss"] == settings.jwt_issuer and access["aud"] == settings.jwt_audience
    assert access["exp"] - access["iat"] == 15 * 60
    assert refresh["exp"] - refresh["iat"] == 14 * 24 * 3600
    assert access["type"] == "access" and refresh["type"] == "refresh"
    assert access["sub"] == str(chief.id) and access["ver"] == chief.token_version
    assert access["fam"] == refresh["fam"]
    assert "roles" not in access  # roles and scope are read from the database on every request


def test_header_says_hs256(client, make_user):
    import jwt as pyjwt

    token = login(client, make_user()).get_json()["access_token"]
    assert pyjwt.get_unverified_header(token)["alg"] == "HS256"


def test_phone_is_normalised_at_login(client, make_user):
    user = make_user(phone="13912345678")
    assert client.post(LOGIN, json={"phone": "+86 139-1234-5678", "password": "test-pass-2026!"}).status_code == 200
    assert user.id


def test_refresh_rotates_and_each_refresh_token_is_single_use(client, make_user):
    first = login(client, make_user()).get_json()
    second = client.post(REFRESH, headers=bearer(first["refresh_token"]))
    assert second.status_code == 200
    second = second.get_json()
    assert second["refresh_token"] != first["refresh_token"]
    assert claims_of(second["refresh_token"])["fam"] == claims_of(first["refresh_token"])["fam"]
    assert client.get(ME, headers=bearer(second["access_token"])).status_code == 200
    third = client.post(REFRESH, headers=bearer(second["refresh_token"]))
    assert third.status_code == 200


def test_reuse_of_a_refresh_token_revokes_the_whole_family(client, db_session, make_user):
    user = make_user()
    first = login(client, user).get_json()
    second = client.post(REFRESH, headers=bearer(first["refresh_token"])).get_json()

    reuse = client.post(REFRESH, headers=bearer(first["refresh_token"]))
    assert_problem(reuse, 401, "token-revoked")

    # the newest refresh token of the family, and the access token issued with it, are now dead too
    assert_problem(client.post(REFRESH, headers=bearer(second["refresh_token"])), 401, "token-revoked")
    assert_problem(client.get(ME, headers=bearer(second["access_token"])), 401, "token-revoked")
    family = db_session.get(TokenFamily, claims_of(first["refresh_token"])["fam"])
    assert family.revoked_at is not None and family.revoked_reason == "refresh_reuse"
    events = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "refresh_reuse_detected")).all()
    assert [e.subject_id for e in events] == [str(user.id)]


def test_reuse_does_not_touch_other_logins(client, make_user):
    user = make_user()
    phone_login = login(client, user).get_json()
    laptop_login = login(client, user).get_json()
    client.post(REFRESH, headers=bearer(phone_login["refresh_token"]))
    client.post(REFRESH, headers=bearer(phone_login["refresh_token"]))
    assert client.get(ME, headers=bearer(laptop_login["access_token"])).status_code == 200
    assert client.post(REFRESH, headers=bearer(laptop_login["refresh_token"])).status_code == 200


def test_refresh_marks_the_token_used(client, db_session, make_user):
    first = login(client, make_user()).get_json()
    client.post(REFRESH, headers=bearer(first["refresh_token"]))
    row = db_session.get(RefreshToken, claims_of(first["refresh_token"])["jti"])
    assert row.used_at is not None


def test_logout_revokes_access_token_and_refresh_family(client, make_user):
    pair = login(client, make_user()).get_json()
    assert client.post(LOGOUT, headers=bearer(pair["access_token"])).status_code == 204
    assert_problem(client.get(ME, headers=bearer(pair["access_token"])), 401, "token-revoked")
    assert_problem(client.post(REFRESH, headers=bearer(pair["refresh_token"])), 401, "token-revoked")


def test_refresh_after_role_change_is_refused(client, db_session, make_user):
    user = make_user()
    pair = login(client, user).get_json()
    user.set_roles(["grid_chief"])
    user.token_version += 1
    db_session.commit()
    assert_problem(client.post(REFRESH, headers=bearer(pair["refresh_token"])), 401, "token-revoked")


def test_me_shows_scope(client, make_user, auth_headers, demo_areas):
    chief = make_user("grid_chief", demo_areas["village"], grids=[demo_areas["grid"], demo_areas["sibling_grid"]])
    body = client.get(ME, headers=auth_headers(chief)).get_json()
    assert body["scope"] == {
        "everything": False,
        "area_prefixes": sorted([demo_areas["grid"], demo_areas["sibling_grid"]]),
    }
    assert body["phone"] == chief.phone  # one's own number in full
    assert body["home_area"]["level"] == "village" and body["home_area"]["level_zh"] == "村/社区"


def test_access_token_lifetime_is_configurable(app, client, make_user, monkeypatch):
    from datetime import timedelta

    monkeypatch.setitem(app.config, "JWT_ACCESS_TOKEN_EXPIRES", timedelta(minutes=5))
    pair = login(client, make_user()).get_json()
    claims = claims_of(pair["access_token"])
    assert pair["expires_in"] == 300 and claims["exp"] - claims["iat"] == 300
    assert claims["exp"] > time.time()
