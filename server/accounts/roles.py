"""Roles and grid-assignment kinds, with the Chinese labels shown next to them in every answer."""

from __future__ import annotations

ROLE_LABELS_ZH = {
    "member": "网格员/党员/志愿者",
    "grid_chief": "网格长",
    "township_staff": "乡镇/街道干部",
    "county_staff": "县级干部",
    "custodian": "纪检监督员",
    "admin": "系统管理员",
}
ROLES = tuple(ROLE_LABELS_ZH)

ASSIGNMENT_LABELS_ZH = {"chief": "网格长", "deputy": "副网格长"}
ASSIGNMENT_KINDS = tuple(ASSIGNMENT_LABELS_ZH)

# Who may list and read other accounts (the users API), and who may change them.
STAFF_ROLES = ("admin", "county_staff", "township_staff", "custodian")
USER_EDITOR_ROLES = ("admin", "county_staff")
# Only an admin may grant or take away these: they open every area, or the reporter's identity.
ADMIN_ONLY_GRANTS = frozenset({"admin", "custodian"})
# Who sees full phone numbers of others (everyone else sees them masked).
PHONE_READERS = frozenset({"admin", "county_staff", "township_staff"})


def role_refs(roles) -> list[dict]:
    return [{"role": r, "role_zh": ROLE_LABELS_ZH[r]} for r in sorted(roles, key=ROLES.index)]
