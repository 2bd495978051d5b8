"""Which tips an account may see: the one filter every tip endpoint (lists, counts, detail, photos) uses.

- members, volunteers: no tip but their own (through /tips/mine);
- triagers (chief, township/county staff, custodian, admin): tips whose area is in their scope, EXCEPT a
  conflict-of-interest tip, which is hidden from
  - anyone who is only a grid chief (chiefs never see them),
  - anyone who chiefs or deputises that grid today, or who was excluded when it was routed,
  - anyone below the county when it went to the county discipline queue.
A hidden tip answers 404 exactly like a missing one.
"""

from __future__ import annotations

from sqlalchemy import and_, exists, false, or_, select, true

from server.accounts.assignments import current_grid_codes
from server.errors import NotFound
from server.extensions import db
from server.scope import current_scope
from server.tips.models import Tip, TipExclusion

TRIAGE_ROLES = frozenset({"grid_chief", "township_staff", "county_staff", "custodian", "admin"})
CONFLICT_ROLES = frozenset({"township_staff", "county_staff", "custodian", "admin"})


def visible_tips(user):
    """A SQL clause over Tip for the tips this account may see."""
    if user is None or not (user.roles & TRIAGE_ROLES):
        return false()
    scope = current_scope()
    county_level = scope.everything or any(len(p) <= 6 for p in scope.prefixes)
    excluded = exists().where(TipExclusion.tip_id == Tip.id, TipExclusion.user_id == user.id)
    conflict_hidden = or_(
        true() if not (user.roles & CONFLICT_ROLES) else false(),
        Tip.grid_code.in_(current_grid_codes(user.id)),
        excluded,
        Tip.queue_kind == "county_discipline" if not county_level else false(),
    )
    return and_(scope.filter(Tip.area_code), or_(Tip.conflict.is_(False), ~conflict_hidden))


def get_visible_tip(user, tip_id: int) -> Tip:
    tip = db.session.scalar(select(Tip).where(Tip.id == tip_id, visible_tips(user)))
    if tip is None:
        raise NotFound("tip")
    return tip
