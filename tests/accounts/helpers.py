"""Helpers for the accounts tests: token crafting (PyJWT with the app's real secret) and problem assertions."""

from __future__ import annotations

import base64
import json
import time
import uuid

import jwt as pyjwt

from server.errors import PROBLEM_MIME
from tests.conftest import TEST_PASSWORD

LOGIN = "/api/v1/auth/login"
REFRESH = "/api/v1/auth/refresh"
LOGOUT = "/api/v1/auth/logout"
ME = "/api/v1/me"


def assert_problem(response, status: int, slug: str | None = None) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM_MIME
    body = response.get_json()
    assert body["status"] == status
    if slug:
        assert body["type"] == f"/problems/{slug}", body
    return body


def login(client, user_or_phone, password: str = TEST_PASSWORD, **kwargs):
    phone = getattr(user_or_phone, "phone", user_or_phone)
    return client.post(LOGIN, json={"phone": phone, "password": password}, **kwargs)


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def claims_of(token: str) -> dict:
    return pyjwt.decode(token, options={"verify_signature": False})


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def craft(app, base_claims: dict, *, algorithm: str = "HS256", key: str | None = None, **changes) -> str:
    """A token like `base_claims` (taken from a real one), re-signed with the app's secret unless `key` is given."""
    settings = app.config["GRID"]
    now = int(time.time())
    claims = base_claims | {"jti": str(uuid.uuid4()), "iat": now, "nbf": now, "exp": now + 600}
    claims |= {"iss": settings.jwt_issuer, "aud": settings.jwt_audience}
    claims |= changes
    claims = {k: v for k, v in claims.items() if v is not None}
    return pyjwt.encode(claims, key or settings.jwt_secret, algorithm=algorithm)


def unsigned(claims: dict, alg: str) -> str:
    """The classic 'alg: none' attack: a header naming no algorithm, and the signature stripped."""
    header = b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    payload = b64(json.dumps(claims).encode())
    return f"{header}.{payload}."


def relabelled(token: str, alg: str) -> str:
    """The same signed token with its header claiming another algorithm (the signature is left as is)."""
    _, payload, signature = token.split(".")
    header = b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    return f"{header}.{payload}.{signature}"
