"""The audit log: rows for logins, failures and changes; append-only on both backends; nothing secret in it."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DBAPIError

from server import audit
from server.audit.models import AuditEvent
from tests.accounts.helpers import login


def _events(db_session, action):
    return list(db_session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def test_login_is_audited(client, db_session, make_user):
    user = make_user()
    assert login(client, user).status_code == 200
    [event] = _events(db_session, "login")
    assert event.actor_user_id == user.id and event.subject_id == str(user.id) and event.subject_type == "user"
    assert event.ip_hash and len(event.ip_hash) == 32 and event.ip_hash != "127.0.0.1"


def test_failed_login_is_audited_with_a_masked_phone_and_survives_the_401(client, db_session, make_user):
    user = make_user(phone="13812340001")
    assert login(client, user, "wrong-password-1").status_code == 401
    assert login(client, "13999990000", "wrong-password-1").status_code == 401
    wrong, unknown = _events(db_session, "login_failed")
    assert wrong.details == {"phone_masked": "138****0001", "reason": "wrong_password"}
    assert wrong.subject_id == str(user.id) and wrong.actor_user_id is None
    assert unknown.details == {"phone_masked": "139****0000", "reason": "unknown_phone"}
    assert unknown.subject_id is None


def test_failed_login_rows_are_committed_even_though_the_request_failed(client, db_session, make_user):
    """Kept on purpose (keep_on_error): roll the test session back and the rows must still be there."""
    login(client, make_user(), "wrong-password-1")
    db_session.rollback()  # would discard the row if the request had not committed it
    assert len(_events(db_session, "login_failed")) == 1


def test_same_ip_gives_the_same_hash_and_another_ip_another(client, db_session, make_user):
    user = make_user()
    login(client, user, environ_base={"REMOTE_ADDR": "10.1.2.3"})
    login(client, user, environ_base={"REMOTE_ADDR": "10.1.2.3"})
    login(client, user, environ_base={"REMOTE_ADDR": "10.9.9.9"})
    hashes = [e.ip_hash for e in _events(db_session, "login")]
    assert hashes[0] == hashes[1] != hashes[2]
    assert all("10." not in h for h in hashes)


def test_logout_is_audited(client, db_session, make_user):
    user = make_user()
    token = login(client, user).get_json()["access_token"]
    client.post("/api/v1/auth/logout", headers={"Authorization": f"Bearer {token}"})
    [event] = _events(db_session, "logout")
    assert event.actor_user_id == user.id


def test_record_flushes_into_the_current_transaction_without_committing(app, db_session):
    event = audit.record("password_reset", "user", 1, via="test")
    assert event.id is not None
    db_session.rollback()
    assert db_session.get(AuditEvent, event.id) is None


@pytest.mark.parametrize(
    "details",
    [
        {"password": "x"},
        {"phone": "138****0001"},
        {"token": "abc"},
        {"note": "call 13800000001"},
        {"nested": {"list": ["eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig"]}},
        {"hash": "$argon2id$v=19$m=65536,t=3,p=2$abc$def"},
    ],
)
def test_record_refuses_secrets_in_clear(app, db_session, details):
    with pytest.raises(ValueError):
        audit.record("password_reset", "user", 1, **details)


def test_record_refuses_unknown_actions(app, db_session):
    with pytest.raises(ValueError, match="unknown audit action"):
        audit.record("did_something")


def _assert_refused(db_session, statement):
    with pytest.raises(DBAPIError) as error, db_session.begin_nested():
        db_session.execute(statement)
    assert "append-only" in str(error.value)


def test_update_is_rejected_by_the_database(app, db_session):
    event = audit.record("password_reset", "user", 1, via="test")
    _assert_refused(db_session, update(AuditEvent).where(AuditEvent.id == event.id).values(action="login"))
    _assert_refused(db_session, text("UPDATE audit_events SET details = '{}'"))
    db_session.expire_all()
    assert db_session.get(AuditEvent, event.id).action == "password_reset"


def test_delete_is_rejected_by_the_database(app, db_session):
    event = audit.record("password_reset", "user", 1, via="test")
    _assert_refused(db_session, delete(AuditEvent).where(AuditEvent.id == event.id))
    _assert_refused(db_session, text("DELETE FROM audit_events"))
    assert db_session.get(AuditEvent, event.id) is not None


def test_truncate_is_rejected_on_postgis(app, db_session, is_postgis):
    if not is_postgis:
        # SQLite has no TRUNCATE statement: its only way to empty a table is DELETE (which it may run as a
        # truncate internally), and test_delete_is_rejected_by_the_database shows the trigger refuses that.
        pytest.skip("SQLite has no TRUNCATE statement; DELETE, its only equivalent, is tested above")
    audit.record("password_reset", "user", 1, via="test")
    _assert_refused(db_session, text("TRUNCATE audit_events"))


def test_no_audit_column_or_detail_holds_a_phone_in_clear(client, db_session, make_user):
    user = make_user(phone="13712345678")
    login(client, user)
    login(client, user, "wrong-password-1")
    for event in db_session.scalars(select(AuditEvent)):
        assert "13712345678" not in repr((event.details, event.subject_id, event.ip_hash))
