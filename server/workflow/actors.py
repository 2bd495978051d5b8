"""How an account relates to a tip: handler, township, county (see server/workflow/transitions.py)."""

from __future__ import annotations

from server.accounts.assignments import current_grid_codes
from server.scope import Scope
from server.workflow.transitions import C, H, T

GRID_QUEUES = frozenset({"grid_chief", "grid_deputy"})
TOWNSHIP_QUEUES = frozenset({"township", "township_discipline"})
COUNTY_QUEUES = frozenset({"county", "county_discipline"})
DISCIPLINE_QUEUES = frozenset({"township_discipline", "county_discipline"})


def relations(user, tip, scope: Scope) -> frozenset[str]:
    """The relations of `user` to `tip`. Visibility is checked separately (and first): a hidden tip is a 404."""
    roles = user.roles
    found: set[str] = set()
    if tip.assignee_user_id == user.id or _in_queue(user, roles, tip, scope):
        found.add(H)
    if "township_staff" in roles and scope.allows(tip.area_code):
        found.add(T)
    if roles & {"county_staff", "admin"} and scope.allows(tip.area_code):
        found.add(C)
    return frozenset(found)


def _in_queue(user, roles, tip, scope: Scope) -> bool:
    kind, area = tip.queue_kind, tip.queue_area_code
    if kind in GRID_QUEUES:
        return "grid_chief" in roles and area in current_grid_codes(user.id)
    if kind in DISCIPLINE_QUEUES and "custodian" in roles and scope.allows(area):
        return True
    if kind in TOWNSHIP_QUEUES:
        return "township_staff" in roles and scope.allows(area)
    if kind in COUNTY_QUEUES:
        return bool(roles & {"county_staff", "admin"}) and scope.allows(area)
    return False
