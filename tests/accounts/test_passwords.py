"""Password hashing and policy: argon2id, a clear 422 for weak ones, and the same answer for any failed login."""

from __future__ import annotations

import statistics
import time

import pytest

from server.accounts import passwords
from server.accounts.passwords import hash_password, policy_errors, verify_password
from tests.accounts.helpers import ME, assert_problem, bearer, login
from tests.conftest import TEST_PASSWORD


def test_hashes_are_argon2id_with_the_documented_parameters():
    digest = hash_password("correct horse battery")
    assert digest.startswith("$argon2id$v=19$m=65536,t=2,p=2$")
    assert verify_password(digest, "correct horse battery")
    assert not verify_password(digest, "correct horse batterY")
    assert not verify_password(None, "anything at all")
    assert not verify_password("not-a-hash", "anything at all")


@pytest.mark.parametrize(
    ("password", "phone", "fragment"),
    [
        ("short1!", None, "at least 10"),
        ("1234567890123", None, "digits only"),
        ("13800000001", "13800000001", "phone number"),
        ("x13800000001y", "13800000001", "phone number"),
        ("a" * 129, None, "at most 128"),
    ],
)
def test_policy_rejects_weak_passwords(password, phone, fragment):
    assert any(fragment in e for e in policy_errors(password, phone))


@pytest.mark.parametrize("password", ["demo-pass-2026", "长城长城长城长城长城", "abcdefghij"])
def test_policy_accepts(password):
    assert policy_errors(password, "13800000001") == []


def test_weak_new_password_is_a_clear_422(client, make_user, auth_headers):
    user = make_user()
    response = client.post(
        "/api/v1/me/password",
        json={"current_password": TEST_PASSWORD, "new_password": "12345678901"},
        headers=auth_headers(user),
    )
    body = assert_problem(response, 422, "weak-password")
    assert body["errors"]["password"] == ["Do not use digits only; add letters or other characters."]
    assert "too weak" in body["detail"]


def test_wrong_current_password_is_refused(client, make_user, auth_headers):
    response = client.post(
        "/api/v1/me/password",
        json={"current_password": "not-my-password", "new_password": "a-new-pass-2027"},
        headers=auth_headers(make_user()),
    )
    assert_problem(response, 403, "wrong-password")


def test_password_change_ends_other_sessions_and_returns_a_new_pair(client, make_user):
    user = make_user()
    old = login(client, user).get_json()
    response = client.post(
        "/api/v1/me/password",
        json={"current_password": TEST_PASSWORD, "new_password": "a-new-pass-2027"},
        headers=bearer(old["access_token"]),
    )
    assert response.status_code == 200
    assert_problem(client.get(ME, headers=bearer(old["access_token"])), 401, "token-revoked")
    assert client.get(ME, headers=bearer(response.get_json()["access_token"])).status_code == 200
    assert login(client, user).status_code == 401
    assert login(client, user, "a-new-pass-2027").status_code == 200


def test_wrong_phone_and_wrong_password_give_the_same_answer(client, make_user):
    user = make_user()
    wrong_password = login(client, user, "wrong-password-1")
    unknown_phone = login(client, "13999999999", "wrong-password-1")
    invalid_phone = login(client, "12345", "wrong-password-1")
    user_inactive = make_user(active=False)
    inactive = login(client, user_inactive)
    bodies = {r.get_data() for r in (wrong_password, unknown_phone, invalid_phone, inactive)}
    assert len(bodies) == 1, bodies
    assert_problem(wrong_password, 401, "login-failed")


@pytest.mark.parametrize("case", ["unknown_phone", "invalid_phone", "wrong_password", "inactive", "no_password"])
def test_every_failed_login_verifies_one_hash(client, make_user, monkeypatch, case):
    calls = []
    real = passwords.hasher

    class Spy:
        def verify(self, digest, password):
            calls.append(digest)
            return real.verify(digest, password)

        def __getattr__(self, name):
            return getattr(real, name)

    monkeypatch.setattr(passwords, "hasher", Spy())
    phone = {"unknown_phone": "13999999999", "invalid_phone": "not-a-phone"}.get(case)
    if phone is None:
        phone = make_user(active=case != "inactive", password_hash=None if case == "no_password" else ...).phone
    password = "wrong-password-1" if case == "wrong_password" else TEST_PASSWORD
    assert login(client, phone, password).status_code == 401
    assert len(calls) == 1 and calls[0].startswith("$argon2id$")


def test_unknown_phone_takes_about_as_long_as_a_wrong_password(client, make_user):
    """Loose on purpose (a shared CI box is noisy): without the dummy hash the ratio is about 0.03."""
    user = make_user()

    def median(phone):
        times = []
        for _ in range(3):
            start = time.perf_counter()
            login(client, phone, "wrong-password-1")
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    assert median("13999999998") > 0.4 * median(user.phone)


def test_old_parameters_are_upgraded_at_login(client, db_session, make_user):
    from argon2 import PasswordHasher

    from server.accounts.models import User

    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(TEST_PASSWORD)
    user = make_user(password_hash=weak)
    assert login(client, user).status_code == 200
    db_session.expire_all()
    upgraded = db_session.get(User, user.id).password_hash
    assert upgraded.startswith("$argon2id$v=19$m=65536,t=2,p=2$") and verify_password(upgraded, TEST_PASSWORD)
