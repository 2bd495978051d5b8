"""Personal data of households and the links of members leave a trail in the audit log (server.audit)."""

from __future__ import annotations

from sqlalchemy import select

from server.audit.models import AuditEvent
from server.extensions import db
from tests.households.helpers import PLANTED_NAME, PLANTED_PHONE, add_household


def _events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def test_a_full_read_of_personal_data_is_audited_a_masked_one_is_not(client, make_user, auth_headers, grids):
    grid = grids[0]
    household = add_household(grid, head_name=PLANTED_NAME, head_phone=PLANTED_PHONE)
    custodian, township = make_user("custodian", grid[:6]), make_user("township_staff", grid[:9])
    assert client.get(f"/api/v1/households/{household.id}", headers=auth_headers(custodian)).status_code == 200
    assert _events("household_personal_data_read") == []
    assert client.get(f"/api/v1/households/{household.id}", headers=auth_headers(township)).status_code == 200
    [event] = _events("household_personal_data_read")
    assert (event.actor_user_id, event.subject_type, event.subject_id) == (township.id, "household", str(household.id))
    assert PLANTED_PHONE not in str(event.details) and PLANTED_NAME not in str(event.details)


def test_linking_and_unlinking_are_audited(client, make_user, auth_headers, grids):
    grid = grids[0]
    chief, member = make_user("grid_chief", grid[:12], grids=[grid]), make_user("member", grid)
    ids = [add_household(grid, k=k).id for k in range(3)]
    headers = auth_headers(chief)
    assert (
        client.post("/api/v1/links", json={"member_id": member.id, "household_ids": ids}, headers=headers).status_code
        == 200
    )
    unlink = client.post(
        "/api/v1/links/unlink", json={"member_id": member.id, "household_ids": ids[:1]}, headers=headers
    )
    assert unlink.status_code == 200, unlink.get_json()
    [linked], [unlinked] = _events("households_linked"), _events("households_unlinked")
    assert (linked.actor_user_id, linked.subject_id, linked.details["households"]) == (chief.id, str(member.id), ids)
    assert (unlinked.subject_id, unlinked.details["households"]) == (str(member.id), ids[:1])


def test_a_refused_link_leaves_no_trail(client, make_user, auth_headers, grids):
    grid, _, other = grids
    chief, member = make_user("grid_chief", grid[:12], grids=[grid]), make_user("member", grid)
    far = add_household(other)
    response = client.post(
        "/api/v1/links", json={"member_id": member.id, "household_ids": [far.id]}, headers=auth_headers(chief)
    )
    assert response.status_code in (404, 422)
    assert _events("households_linked") == []
