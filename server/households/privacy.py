"""Who may see a head of household's name and phone in full. Lists always mask them; details unmask them only for:

- admin, county_staff and township_staff whose scope holds the household (scope already decides that they can
  see the household at all);
- a grid chief or deputy of the household's grid today;
- a member linked to the household (primary or not).

Everyone else who can see the household (a member of the same grid who is not linked, a custodian) gets the
masked values: 王* and 138****0001.
"""

from __future__ import annotations

from server.accounts.assignments import current_grid_codes
from server.accounts.phones import mask_phone

FULL_DATA_STAFF = frozenset({"admin", "county_staff", "township_staff"})


def mask_name(name: str | None) -> str:
    """王小明 -> 王*: the first character stays (enough to tell households apart); not even the length shows."""
    if not name:
        return ""
    return name[0] + "*"


def may_see_personal(viewer, grid_code: str, linked_member_ids) -> bool:
    if viewer is None:
        return False
    roles = viewer.roles
    if roles & FULL_DATA_STAFF:
        return True
    if "grid_chief" in roles and grid_code in current_grid_codes(viewer.id):
        return True
    return "member" in roles and viewer.id in set(linked_member_ids)


def head_view(household, full: bool) -> dict:
    if full:
        return {"head_name": household.head_name, "head_phone": household.head_phone, "personal_data_masked": False}
    return {
        "head_name": mask_name(household.head_name),
        "head_phone": mask_phone(household.head_phone) or None,
        "personal_data_masked": True,
    }
