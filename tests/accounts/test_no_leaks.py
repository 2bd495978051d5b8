"""Nothing secret leaves the server: not in responses (scanned for the whole run by tests/conftest.py), not in logs."""

from __future__ import annotations

import pytest
from flask import Flask

from tests import conftest
from tests.accounts.helpers import bearer, login
from tests.conftest import TEST_PASSWORD, leak_in

A_JWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"


@pytest.mark.parametrize(
    ("path", "status", "body", "leaks"),
    [
        ("/api/v1/me", 200, b'{"h": "$argon2id$v=19$m=65536,t=3,p=2$c2FsdA$aGFzaA"}', True),
        ("/api/v1/auth/login", 200, b'{"h": "$scrypt$ln=16,r=8,p=1$aM15713r3Xsvxbi31lqr1Q$"}', True),
        ("/api/v1/users/1", 200, A_JWT.encode(), True),
        ("/api/v1/auth/login", 401, A_JWT.encode(), True),
        ("/api/v1/auth/login", 200, A_JWT.encode(), False),
        ("/api/v1/auth/refresh", 200, A_JWT.encode(), False),
        ("/api/v1/me", 200, b'{"phone": "138****0001"}', False),
    ],
)
def test_leak_rules(path, status, body, leaks):
    assert (leak_in(path, status, body) is not None) is leaks


def test_the_scanner_fails_a_test_whose_response_leaks():
    """A throwaway app that leaks a hash: the session-wide scanner must turn its response into a failure."""
    toy = Flask("toy")
    toy.add_url_rule("/leak", "leak", lambda: {"hash": "$argon2id$v=19$m=65536,t=3,p=2$c2FsdA$aGFzaA"})
    before = len(conftest.LEAKS)
    with pytest.raises(pytest.fail.Exception, match="password hash"):
        toy.test_client().get("/leak")
    assert len(conftest.LEAKS) == before + 1
    del conftest.LEAKS[before:]  # caught on purpose: do not fail the session for it


def test_login_and_me_never_show_the_hash(client, make_user):
    user = make_user()
    body = login(client, user).get_data(as_text=True)
    assert "$argon2" not in body and "password" not in body
    token = login(client, user).get_json()["access_token"]
    assert "$argon2" not in client.get("/api/v1/me", headers=bearer(token)).get_data(as_text=True)


def test_logs_of_logins_hold_no_phone_password_or_token(client, make_user, caplog, live_loggers):
    user = make_user(phone="13877778888")
    with caplog.at_level("DEBUG"):
        ok = login(client, user).get_json()
        login(client, user, "wrong-password-1")
        client.post("/api/v1/auth/refresh", headers=bearer(ok["refresh_token"]))
        client.post("/api/v1/auth/refresh", headers=bearer(ok["refresh_token"]))  # reuse: logged as a warning
        for _ in range(6):
            login(client, user, "wrong-password-1")  # trips the limiter, which logs its key
    text = caplog.text + "".join(repr(r.args) for r in caplog.records)
    assert "138****8888" in text  # the logins were logged, masked
    assert "refresh token reused" in text and "ratelimit" in text
    for secret in ("13877778888", TEST_PASSWORD, "wrong-password-1", ok["access_token"], ok["refresh_token"]):
        assert secret not in text
    assert "$argon2" not in text
