"""Every forged, stale or misused token answers 401 problem+json with a stable `type` slug.

Each crafted token differs from a token that works (see test_crafted_control_token_is_accepted) in exactly
one respect, so each case fails for the reason it names.
"""

from __future__ import annotations

import json
import time

import pytest

from tests.accounts.helpers import (
    LOGOUT,
    ME,
    REFRESH,
    assert_problem,
    b64,
    bearer,
    claims_of,
    craft,
    login,
    relabelled,
    unsigned,
)


@pytest.fixture
def chief(make_user, demo_areas):
    return make_user("grid_chief", demo_areas["village"], grids=[demo_areas["grid"]])


@pytest.fixture
def pair(client, chief):
    response = login(client, chief)
    assert response.status_code == 200
    return response.get_json()


@pytest.fixture
def good_claims(pair):
    return claims_of(pair["access_token"])


def test_real_token_is_accepted(client, pair):
    assert client.get(ME, headers=bearer(pair["access_token"])).status_code == 200


def test_crafted_control_token_is_accepted(app, client, good_claims):
    """The crafting helper makes valid tokens: every failure below comes from the one thing it changes."""
    assert client.get(ME, headers=bearer(craft(app, good_claims))).status_code == 200


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_alg_none_with_signature_stripped(client, good_claims, alg):
    token = unsigned(good_claims | {"exp": int(time.time()) + 600}, alg)
    assert_problem(client.get(ME, headers=bearer(token)), 401, "token-invalid")


@pytest.mark.parametrize("alg", ["none", "NONE"])
def test_alg_none_keeping_the_old_signature(client, pair, alg):
    assert_problem(client.get(ME, headers=bearer(relabelled(pair["access_token"], alg))), 401, "token-invalid")


def test_tampered_signature(client, pair):
    header, payload, signature = pair["access_token"].split(".")
    middle = len(signature) // 2
    flipped = signature[:middle] + ("A" if signature[middle] != "A" else "B") + signature[middle + 1 :]
    assert_problem(client.get(ME, headers=bearer(f"{header}.{payload}.{flipped}")), 401, "token-invalid")


def test_tampered_payload_keeps_old_signature(client, pair, good_claims):
    header, _, signature = pair["access_token"].split(".")
    payload = b64(json.dumps(good_claims | {"sub": "1"}).encode())
    assert_problem(client.get(ME, headers=bearer(f"{header}.{payload}.{signature}")), 401, "token-invalid")


def test_one_second_past_expiry(app, client, good_claims):
    now = int(time.time())
    token = craft(app, good_claims, iat=now - 901, nbf=now - 901, exp=now - 1)
    assert_problem(client.get(ME, headers=bearer(token)), 401, "token-expired")


def test_wrong_audience(app, client, good_claims):
    assert_problem(client.get(ME, headers=bearer(craft(app, good_claims, aud="other-api"))), 401, "token-invalid")


def test_missing_audience(app, client, good_claims):
    # craft() drops claims set to None
    assert_problem(client.get(ME, headers=bearer(craft(app, good_claims, aud=None))), 401, "token-invalid")


def test_wrong_issuer(app, client, good_claims):
    assert_problem(client.get(ME, headers=bearer(craft(app, good_claims, iss="evil"))), 401, "token-invalid")


def test_wrong_secret(app, client, good_claims):
    token = craft(app, good_claims, key="another-secret-that-is-long-enough-for-hs256!")
    assert_problem(client.get(ME, headers=bearer(token)), 401, "token-invalid")


def test_hs512_signed_with_the_real_secret(app, client, good_claims):
    token = craft(app, good_claims, algorithm="HS512")
    assert_problem(client.get(ME, headers=bearer(token)), 401, "token-invalid")


@pytest.mark.parametrize("alg", ["RS256", "HS512", "ES256"])
def test_header_relabelled_to_another_algorithm(client, pair, alg):
    assert_problem(client.get(ME, headers=bearer(relabelled(pair["access_token"], alg))), 401, "token-invalid")


def test_refresh_token_used_as_access_token(client, pair):
    assert_problem(client.get(ME, headers=bearer(pair["refresh_token"])), 401, "wrong-token-type")


def test_access_token_used_as_refresh_token(client, pair):
    assert_problem(client.post(REFRESH, headers=bearer(pair["access_token"])), 401, "wrong-token-type")


def test_revoked_after_logout(client, pair):
    assert client.post(LOGOUT, headers=bearer(pair["access_token"])).status_code == 204
    assert_problem(client.get(ME, headers=bearer(pair["access_token"])), 401, "token-revoked")


def test_token_of_a_deactivated_user(client, db_session, chief, pair):
    chief.active = False
    db_session.commit()
    assert_problem(client.get(ME, headers=bearer(pair["access_token"])), 401, "token-revoked")


def test_token_issued_before_a_role_change(client, make_user, auth_headers, chief, pair):
    admin = make_user("admin")
    changed = client.patch(f"/api/v1/users/{chief.id}", json={"roles": ["member"]}, headers=auth_headers(admin))
    assert changed.status_code == 200
    assert_problem(client.get(ME, headers=bearer(pair["access_token"])), 401, "token-revoked")
    assert client.get(ME, headers=bearer(login(client, chief).get_json()["access_token"])).status_code == 200


def test_token_with_a_stale_version_claim(app, client, chief, good_claims):
    token = craft(app, good_claims, ver=chief.token_version - 1)
    assert_problem(client.get(ME, headers=bearer(token)), 401, "token-revoked")


def test_token_for_an_unknown_user(app, client, good_claims):
    assert_problem(client.get(ME, headers=bearer(craft(app, good_claims, sub="999999"))), 401, "token-revoked")


def test_token_without_family_is_rejected(app, client, good_claims):
    assert_problem(client.get(ME, headers=bearer(craft(app, good_claims, fam=None))), 401, "token-revoked")


@pytest.mark.parametrize(
    ("authorization", "slug"),
    [
        (None, "token-missing"),
        ("", "token-missing"),
        ("Basic dXNlcjpwYXNz", "token-missing"),
        ("bearer abc.def.ghi", "token-missing"),  # the scheme is case-sensitive in flask-jwt-extended
        ("Bearer", "token-invalid"),
        ("Bearer ", "token-invalid"),
    ],
)
def test_missing_or_malformed_authorization(client, authorization, slug):
    headers = {} if authorization is None else {"Authorization": authorization}
    assert_problem(client.get(ME, headers=headers), 401, slug)


def test_no_header_is_token_missing_with_www_authenticate(client):
    response = client.get(ME)
    assert_problem(response, 401, "token-missing")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("garbage", ["abc", "a.b.c", "eyJhbGciOiJIUzI1NiJ9..", "x" * 5000])
def test_garbage_tokens(client, garbage):
    assert_problem(client.get(ME, headers=bearer(garbage)), 401, "token-invalid")
