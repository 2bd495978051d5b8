"""Login rate limits: failed attempts per phone and per IP; 429 problem+json with Retry-After; they reset."""

from __future__ import annotations

import dataclasses
import time

import pytest

from server.accounts.ratelimit import limiter
from tests.accounts.helpers import assert_problem, login

WRONG = "wrong-password-1"


@pytest.fixture
def rates(app, monkeypatch):
    def set_rates(**changes):
        monkeypatch.setitem(app.config, "GRID", dataclasses.replace(app.config["GRID"], **changes))

    return set_rates


def test_login_limit_per_phone_trips_and_resets(client, make_user):
    user = make_user()
    for _ in range(5):  # default GRID_LOGIN_RATE_PER_PHONE = 5/minute
        assert login(client, user, WRONG).status_code == 401
    tripped = login(client, user)  # even the right password is not checked any more
    body = assert_problem(tripped, 429, "too-many-requests")
    assert "Retry-After" in body["detail"]
    retry_after = int(tripped.headers["Retry-After"])
    assert 0 < retry_after <= 61
    limiter.reset()
    assert login(client, user).status_code == 200


def test_limit_window_passes(client, make_user, rates):
    rates(login_rate_per_phone="2/second")
    user = make_user()
    assert login(client, user, WRONG).status_code == 401
    assert login(client, user, WRONG).status_code == 401
    assert_problem(login(client, user), 429)
    time.sleep(1.1)
    assert login(client, user).status_code == 200


def test_one_phone_tripping_does_not_block_another(client, make_user):
    victim, other = make_user(), make_user()
    for _ in range(5):
        login(client, victim, WRONG)
    assert login(client, victim).status_code == 429
    assert login(client, other).status_code == 200


def test_limit_per_ip(client, make_user, rates):
    rates(login_rate_per_ip="3/minute")
    users = [make_user() for _ in range(4)]
    attacker = {"REMOTE_ADDR": "10.0.0.66"}
    for user in users[:3]:
        assert login(client, user, WRONG, environ_base=attacker).status_code == 401
    assert_problem(login(client, users[3], environ_base=attacker), 429)
    assert login(client, users[3], environ_base={"REMOTE_ADDR": "10.0.0.77"}).status_code == 200


def test_successful_logins_do_not_count(client, make_user, rates):
    rates(login_rate_per_phone="2/minute", login_rate_per_ip="2/minute")
    user = make_user()
    for _ in range(4):
        assert login(client, user).status_code == 200


def test_phone_key_is_normalised(client, make_user):
    """+86 and dashes do not give an attacker fresh attempts at the same number."""
    user = make_user(phone="13811112222")
    for raw in ("13811112222", "+8613811112222", "138-1111-2222", "0086 138 1111 2222", "13811112222"):
        assert login(client, raw, WRONG).status_code == 401
    assert login(client, user).status_code == 429


def test_rate_limit_keys_do_not_hold_phone_numbers(client, make_user, caplog, live_loggers):
    user = make_user(phone="13866667777")
    with caplog.at_level("DEBUG"):
        for _ in range(6):
            login(client, user, WRONG)
    assert any("ratelimit" in r.getMessage() for r in caplog.records)  # the limiter did log its key
    assert "13866667777" not in caplog.text


def test_limiter_starts_clean_in_every_test_part_1(client, make_user):
    user = make_user(phone="13855550000")
    for _ in range(5):
        assert login(client, user, WRONG).status_code == 401


def test_limiter_starts_clean_in_every_test_part_2(client, make_user):
    """Same phone as part 1: if counters leaked between tests, this first attempt would be a 429."""
    user = make_user(phone="13855550000")
    assert login(client, user, WRONG).status_code == 401
