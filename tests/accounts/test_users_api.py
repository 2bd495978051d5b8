"""PATCH /api/v1/users/{id}: who may change what; each change bumps token_version and is audited."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from server.accounts.models import User
from server.audit.models import AuditEvent
from tests.accounts.helpers import assert_problem


def _audit(db_session, user_id, action=None) -> list[AuditEvent]:
    query = select(AuditEvent).where(AuditEvent.subject_type == "user", AuditEvent.subject_id == str(user_id))
    if action:
        query = query.where(AuditEvent.action == action)
    return list(db_session.scalars(query.order_by(AuditEvent.id)))


@pytest.fixture
def county_staff(make_user, demo_areas):
    return make_user("county_staff", demo_areas["county"])


def test_change_roles_bumps_version_and_audits(client, db_session, make_user, auth_headers, county_staff, demo_areas):
    member = make_user("member", demo_areas["grid"])
    version = member.token_version
    response = client.patch(
        f"/api/v1/users/{member.id}", json={"roles": ["member", "grid_chief"]}, headers=auth_headers(county_staff)
    )
    assert response.status_code == 200
    assert {r["role"] for r in response.get_json()["roles"]} == {"member", "grid_chief"}
    db_session.expire_all()
    user = db_session.get(User, member.id)
    assert user.roles == {"member", "grid_chief"} and user.token_version == version + 1
    [event] = _audit(db_session, member.id, "roles_changed")
    assert event.actor_user_id == county_staff.id
    assert event.details == {"before": ["member"], "after": ["grid_chief", "member"]}


def test_each_kind_of_change_is_audited(client, db_session, make_user, auth_headers, county_staff, demo_areas):
    member = make_user("member", demo_areas["grid"])
    changes = {"active": False, "home_area_code": demo_areas["sibling_grid"], "roles": ["grid_chief"]}
    response = client.patch(f"/api/v1/users/{member.id}", json=changes, headers=auth_headers(county_staff))
    assert response.status_code == 200
    actions = [e.action for e in _audit(db_session, member.id)]
    assert actions == ["roles_changed", "deactivated", "scope_changed"]
    db_session.expire_all()
    assert db_session.get(User, member.id).token_version == 1 + 3


def test_no_op_change_writes_nothing(client, db_session, make_user, auth_headers, county_staff, demo_areas):
    member = make_user("member", demo_areas["grid"])
    response = client.patch(f"/api/v1/users/{member.id}", json={"active": True}, headers=auth_headers(county_staff))
    assert response.status_code == 200
    assert _audit(db_session, member.id) == []
    db_session.expire_all()
    assert db_session.get(User, member.id).token_version == 1


@pytest.mark.parametrize("role", ["admin", "custodian"])
def test_only_admin_grants_admin_or_custodian(client, make_user, auth_headers, county_staff, demo_areas, role):
    member = make_user("member", demo_areas["grid"])
    url = f"/api/v1/users/{member.id}"
    assert_problem(client.patch(url, json={"roles": [role]}, headers=auth_headers(county_staff)), 403, "forbidden")
    admin = make_user("admin")
    assert client.patch(url, json={"roles": [role]}, headers=auth_headers(admin)).status_code == 200


@pytest.mark.parametrize("change", [{"roles": ["member"]}, {"active": False}, {"home_area_code": "330899001"}])
@pytest.mark.parametrize("role", ["custodian", "admin"])
def test_county_staff_cannot_touch_custodian_or_admin(
    client, db_session, make_user, auth_headers, county_staff, demo_areas, role, change
):
    """Else a county official implicated in a tip could deactivate the discipline officer."""
    target = make_user(role, demo_areas["county"])
    response = client.patch(f"/api/v1/users/{target.id}", json=change, headers=auth_headers(county_staff))
    assert_problem(response, 403, "forbidden")
    db_session.expire_all()
    assert db_session.get(User, target.id).active and db_session.get(User, target.id).roles == {role}


def test_admin_cannot_drop_own_admin_role_or_deactivate_self(client, make_user, auth_headers):
    admin = make_user("admin")
    url = f"/api/v1/users/{admin.id}"
    assert_problem(client.patch(url, json={"roles": ["county_staff"]}, headers=auth_headers(admin)), 409, "conflict")
    assert_problem(client.patch(url, json={"active": False}, headers=auth_headers(admin)), 409, "conflict")


def test_home_area_must_be_a_real_area_in_scope(client, make_user, auth_headers, demo_areas):
    staff = make_user("county_staff", demo_areas["county"])
    member = make_user("member", demo_areas["grid"])
    url = f"/api/v1/users/{member.id}"
    for code in ("330899999999", "330802001001001"):
        body = assert_problem(client.patch(url, json={"home_area_code": code}, headers=auth_headers(staff)), 422)
        assert body["type"] == "/problems/unknown-area" and "home_area_code" in body["errors"]


@pytest.mark.parametrize(
    "body",
    [{}, {"roles": []}, {"roles": ["boss"]}, {"active": "maybe"}, {"home_area_code": "1"}, {"phone": "13800000000"}],
)
def test_invalid_bodies_are_422(client, make_user, auth_headers, county_staff, demo_areas, body):
    member = make_user("member", demo_areas["grid"])
    response = client.patch(f"/api/v1/users/{member.id}", json=body, headers=auth_headers(county_staff))
    assert_problem(response, 422)


# --- one transaction per request ----------------------------------------------------------------------------


def test_a_failing_patch_changes_nothing_and_writes_no_audit_row(
    client, db_session, make_user, auth_headers, county_staff, demo_areas
):
    """Roles are applied (and audited) before the unknown area is refused: the request's rollback undoes both."""
    member = make_user("member", demo_areas["grid"])
    audit_rows = db_session.scalar(select(func.count(AuditEvent.id)))
    response = client.patch(
        f"/api/v1/users/{member.id}",
        json={"roles": ["member", "grid_chief"], "active": False, "home_area_code": "330899999999"},
        headers=auth_headers(county_staff),
    )
    assert_problem(response, 422, "unknown-area")
    db_session.expire_all()
    user = db_session.get(User, member.id)
    assert user.roles == {"member"} and user.active and user.token_version == 1
    assert user.home_area_code == demo_areas["grid"]
    assert db_session.scalar(select(func.count(AuditEvent.id))) == audit_rows
    assert _audit(db_session, member.id) == []


def test_schema_failure_changes_nothing(client, db_session, make_user, auth_headers, county_staff, demo_areas):
    member = make_user("member", demo_areas["grid"])
    response = client.patch(
        f"/api/v1/users/{member.id}",
        json={"roles": ["grid_chief"], "active": "perhaps"},
        headers=auth_headers(county_staff),
    )
    assert_problem(response, 422)
    db_session.expire_all()
    assert db_session.get(User, member.id).roles == {"member"}


def test_a_successful_request_is_committed_before_the_next_one_fails(
    client, db_session, make_user, auth_headers, county_staff, demo_areas
):
    member = make_user("member", demo_areas["grid"])
    headers = auth_headers(county_staff)
    url = f"/api/v1/users/{member.id}"
    assert client.patch(url, json={"roles": ["grid_chief"]}, headers=headers).status_code == 200
    assert (
        client.patch(url, json={"roles": ["member"], "home_area_code": "330899999999"}, headers=headers).status_code
        == 422
    )
    db_session.expire_all()
    assert db_session.get(User, member.id).roles == {"grid_chief"}
    assert [e.action for e in _audit(db_session, member.id)] == ["roles_changed"]


def test_unhandled_error_rolls_back(
    app, client, db_session, make_user, auth_headers, county_staff, demo_areas, monkeypatch
):
    from server.accounts import services

    member = make_user("member", demo_areas["grid"])

    def boom(user, active):
        raise RuntimeError("simulated failure after the roles were changed")

    monkeypatch.setattr(services, "_change_active", lambda user, actor, active: boom(user, active))
    response = client.patch(
        f"/api/v1/users/{member.id}",
        json={"roles": ["grid_chief"], "active": False},
        headers=auth_headers(county_staff),
    )
    assert_problem(response, 500, "internal-error")
    db_session.expire_all()
    assert db_session.get(User, member.id).roles == {"member"}
    assert _audit(db_session, member.id) == []


def test_a_kept_failed_login_does_not_make_a_later_failure_commit(
    client, db_session, make_user, auth_headers, county_staff, demo_areas
):
    """keep_on_error belongs to the failed login's request only, even when requests share an app context."""
    from tests.accounts.helpers import login

    member = make_user("member", demo_areas["grid"])
    headers = auth_headers(county_staff)
    assert login(client, member, "wrong-password-1").status_code == 401
    response = client.patch(
        f"/api/v1/users/{member.id}", json={"roles": ["grid_chief"], "home_area_code": "330899999999"}, headers=headers
    )
    assert_problem(response, 422)
    db_session.expire_all()
    assert db_session.get(User, member.id).roles == {"member"}
