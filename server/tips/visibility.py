"""Which tips an account may see: the one filter every tip endpoint (lists, counts, detail, photos) uses.

- members, volunteers: no tip but their own (through /tips/mine);
- triagers (chief, township/county staff, custodian, admin): tips whose area is in their scope, EXCEPT a
  conflict-of-interest tip, which is hidden from
  - anyone who is only a grid chief (chiefs never see them),
  - anyone who chiefs or deputises that grid today, or who was excluded when it was routed,
  - anyone below the county when it went to the county discipline queue.
A hidden tip answers 404 exactly like a missing one.

The scope is the request's (`current_scope()`) unless one is passed: the workflow and the notifications ask the
same question about an actor or a recipient outside a request with `scope_for(user)` -- the same rules, the same
clause, never a copy of them.
"""

from __future__ import annotations

from sqlalchemy import Exists, and_, exists, false, or_, select

from server.accounts.assignments import current_grid_codes
from server.errors import NotFound
from server.extensions import db
from server.scope import Scope, current_scope, scope_for
from server.tips.models import Tip, TipExclusion
from server.workflow.memo import memoized

TRIAGE_ROLES = frozenset({"grid_chief", "township_staff", "county_staff", "custodian", "admin"})
CONFLICT_ROLES = frozenset({"township_staff", "county_staff", "custodian", "admin"})


def visible_tips(user, scope: Scope | None = None):
    """A SQL clause over Tip for the tips this account may see (in the request's scope unless one is given)."""
    ordinary, conflicting = visible_parts(user, scope)
    return or_(ordinary, conflicting)


def visible_parts(user, scope: Scope | None = None):
    """The same tips as two disjoint clauses: the ordinary tips in scope, and the conflict-of-interest tips in scope
    this account may see. `visible_tips` is their union; counting the parts apart lets PostgreSQL count the ordinary
    ones from an index alone (the inbox badge)."""
    if user is None or not (user.roles & TRIAGE_ROLES):
        return false(), false()
    scope = current_scope() if scope is None else scope
    in_scope = scope.filter(Tip.area_code)
    ordinary = visible_ordinary(user, Tip, scope)
    if not (user.roles & CONFLICT_ROLES):  # anyone who is only a grid chief never sees them
        return ordinary, false()
    beyond, excluded = _conflict_hiders(user, scope)
    return ordinary, and_(in_scope, Tip.conflict.is_(True), ~or_(*beyond, excluded))


def conflicts_hidden_only_by_exclusions(user, scope: Scope | None = None) -> bool:
    """Does this account see every conflict-of-interest tip in its scope but those it was excluded from? So for a
    county-level account that chiefs or deputises no grid today. Its conflict tips can then be counted as all those
    in scope less its excluded ones (server.tips.counts.conflict_badge), not one by one."""
    if user is None or not (user.roles & CONFLICT_ROLES):
        return False
    return not _conflict_hiders(user, current_scope() if scope is None else scope)[0]


def _conflict_hiders(user, scope: Scope) -> tuple[list, Exists]:
    """What hides a conflict tip in scope from this account, as clauses over Tip: (what does beyond the account's
    own exclusions -- the grids it chiefs or deputises today, the county discipline queue below the county -- and
    its exclusions)."""
    beyond = []
    grid_codes = memoized("grid_codes", user.id, _grid_codes(user))
    if grid_codes:  # (a tip outside every grid has no grid_code: NULL IN (...) is NULL, which would hide it)
        beyond.append(and_(Tip.grid_code.is_not(None), Tip.grid_code.in_(grid_codes)))
    if not (scope.everything or any(len(p) <= 6 for p in scope.prefixes)):
        beyond.append(Tip.queue_kind == "county_discipline")
    return beyond, exists().where(TipExclusion.tip_id == Tip.id, TipExclusion.user_id == user.id)


def visible_ordinary(user, table, scope: Scope | None = None):
    """The ordinary (not conflict-of-interest) part of visible_parts, over Tip or over a table keyed like it (its
    `area_code` and `conflict`): tip_status_counts, which the inbox badge sums (server.tips.counts)."""
    if user is None or not (user.roles & TRIAGE_ROLES):
        return false()
    scope = current_scope() if scope is None else scope
    return and_(scope.filter(table.area_code), table.conflict.is_(False))


def _grid_codes(user):
    return lambda: current_grid_codes(user.id)


def get_visible_tip(user, tip_id: int, scope: Scope | None = None) -> Tip:
    tip = db.session.scalar(select(Tip).where(Tip.id == tip_id, visible_tips(user, scope)))
    if tip is None:
        raise NotFound("tip")
    return tip


def visible_to(user, tip_id: int, scope: Scope | None = None) -> bool:
    """May this account (not necessarily the caller) see the tip today? For notifications, and actors outside a
    request. `scope` must be `scope_for(user)` when given (a caller that already has it)."""
    clause = visible_tips(user, scope if scope is not None else scope_for(user))
    return db.session.scalar(select(Tip.id).where(Tip.id == tip_id, clause)) is not None
