"""Moving a tip through the workflow: check, plan, then write with an optimistic lock. Flushes, never commits.

`act()` = `prepare()` + `apply()`:
- prepare: the tip must be visible to the actor (404), the move must exist from the current state (409 with
  `allowed_actions`), the actor must hold one of its relations (403), its fields must be there (422), and its
  guards must pass; it returns a Plan: the column values to write, the timeline event, who to notify.
- apply: `UPDATE tips SET ..., version = v + 1 WHERE id = :id AND version = :v`. No row updated means someone
  else changed the tip since it was read: 409 `conflicting-update`, nothing written (the request rolls back).
  On PostgreSQL the second of two concurrent UPDATEs waits for the first to commit and then matches no row;
  on SQLite writing requests are serialised (BEGIN IMMEDIATE), so the second one reads the new version. A client
  that sends the `version` it saw gets the same 409 when it acted on a stale view: no update is ever lost.
  Then the TipEvent, exclusions and notifications (outbox rows) go into the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from server.areas.models import Area, utcnow
from server.errors import Problem
from server.extensions import db
from server.scope import Scope, scope_for
from server.tips.models import Tip, TipCategory, TipEvent, TipExclusion
from server.tips.visibility import get_visible_tip, visible_tips
from server.workflow import deadlines, memo
from server.workflow.actors import relations
from server.workflow.deadlines import QUEUE_LEVELS, TOP_LEVEL
from server.workflow.memo import memoized
from server.workflow.transitions import ACTIONS, REFER_TARGETS, Transition, actions_from, transition

NOTIFY_KIND = {
    "dispatch": "dispatched",
    "transfer": "transferred",
    "escalate": "escalated",
    "return": "returned",
    "resolve": "resolved",
    "close": "closed",
    "reopen": "reopened",
    "refer": "referred",
    "dismiss": "dismissed",
    "request_postpone": "postpone_requested",
    "approve_postpone": "postpone_approved",
    "deny_postpone": "postpone_denied",
    "merge": "merged",
}


@dataclass
class Plan:
    tip_id: int
    version: int
    values: dict
    event: dict | None
    notify: tuple[str, str] | None = None  # (kind, audience)
    actor_id: int | None = None
    exclusions: list[int] = field(default_factory=list)


@dataclass
class Move:
    actor: object
    tip: Tip
    scope: Scope
    fields: dict
    now: datetime
    row: Transition

    @property
    def category(self) -> TipCategory:
        return category_of(self.tip)


def act(actor, tip_id: int, action: str, fields: dict, *, now: datetime | None = None) -> Tip:
    now = now or utcnow()
    return apply(prepare(actor, tip_id, action, fields, now=now), now=now)


def prepare(actor, tip_id: int, action: str, fields: dict, *, now: datetime) -> Plan:
    scope = scope_for(actor)
    tip = get_visible_tip(actor, tip_id, scope)
    if action not in ACTIONS:
        raise Problem(422, "unknown-action", f"{action!r} is not an action.", errors={"action": ["Unknown action."]})
    expected = fields.get("version")
    if expected is not None and expected != tip.version:
        raise conflicting_update(tip.id)
    related = relations(actor, tip, scope)
    row = transition(tip.status, action)
    if row is None:
        raise Problem(
            409,
            "invalid-transition",
            f"A tip that is {tip.status} cannot be given `{action}`.",
            title="Not allowed in this state",
            status_now=tip.status,
            allowed_actions=allowed_actions(actor, tip, scope, related),
        )
    if not row.roles & related:
        raise Problem(
            403,
            "not-your-move",
            f"`{action}` on this tip is for: {', '.join(sorted(row.roles))}.",
            title="Not your move",
            status_now=tip.status,
            allowed_actions=allowed_actions(actor, tip, scope, related),
        )
    missing = [name for name in row.requires if fields.get(name) in (None, "")]
    if missing:
        raise Problem(
            422,
            "missing-fields",
            f"`{action}` needs: {', '.join(missing)}.",
            errors={name: ["Required for this action."] for name in missing},
        )
    move = Move(actor, tip, scope, fields, now, row)
    refusal = _guard(move.actor, tip, action)
    if refusal is not None:
        raise refusal | {"allowed_actions": allowed_actions(actor, tip, scope, related)}
    values, details, exclusions = EFFECTS[action](move)
    values["status"] = row.target
    values["next_check_at"] = deadlines.next_check(_state(tip) | values)
    kind = NOTIFY_KIND.get(action)
    return Plan(
        tip_id=tip.id,
        version=tip.version,
        values=values,
        event=_event(tip, action, actor.id, row.target, fields.get("note"), details, now),
        notify=(kind, row.notify) if kind and row.notify else None,
        actor_id=actor.id,
        exclusions=exclusions,
    )


def apply(plan: Plan, *, now: datetime) -> Tip:
    """Write the plan if the tip is still at the version it was planned on; otherwise 409 and nothing written."""
    result = db.session.execute(
        update(Tip)
        .where(Tip.id == plan.tip_id, Tip.version == plan.version)
        .values(**plan.values, version=plan.version + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise conflicting_update(plan.tip_id)
    if plan.event is not None:
        db.session.add(TipEvent(**plan.event))
    _exclude(plan.tip_id, plan.exclusions)
    tip = _written(plan)
    if plan.notify is not None:
        from server.notifications.services import notify

        notify(tip, plan.notify[0], plan.notify[1], actor_id=plan.actor_id, now=now)
    return tip


def _written(plan: Plan) -> Tip:
    """The tip as it now is: the loaded object brought up to what was just written (no second SELECT)."""
    tip = db.session.identity_map.get(identity_key(Tip, plan.tip_id))
    if tip is None or db.session.is_modified(tip):
        return db.session.get(Tip, plan.tip_id, populate_existing=True)
    for name, value in plan.values.items():
        set_committed_value(tip, name, value)
    set_committed_value(tip, "version", plan.version + 1)
    return tip


def conflicting_update(tip_id: int) -> Problem:
    return Problem(
        409,
        "conflicting-update",
        "Someone else changed this tip a moment ago. Reload it and decide again.",
        title="Conflicting update",
        tip_id=tip_id,
    )


def allowed_actions(actor, tip: Tip, scope: Scope | None = None, related=None) -> list[str]:
    """The actions this actor may take on the tip now (its state, the actor's relations and the guards)."""
    scope = scope or scope_for(actor)
    related = relations(actor, tip, scope) if related is None else related
    return [
        a
        for a in actions_from(tip.status)
        if transition(tip.status, a).roles & related and _guard(actor, tip, a) is None
    ]


# --- guards: conditions beyond the state ----------------------------------------------------------------------


class Refusal(Problem):
    def __or__(self, extra: dict) -> Refusal:
        self.extra.update(extra)
        return self


def _guard(actor, tip: Tip, action: str) -> Refusal | None:
    if action in ("escalate", "return") and QUEUE_LEVELS[tip.queue_kind] >= TOP_LEVEL:
        return Refusal(
            409,
            f"cannot-{action}",
            f"The tip is already with the county: there is no level above to {action} it to.",
            title="Nowhere higher",
        )
    if action in ("approve_postpone", "deny_postpone") and (tip.postpone_request or {}).get("by") == actor.id:
        return Refusal(409, "own-request", "Someone else must decide your own postponement request.")
    return None


# --- effects: the columns each move writes --------------------------------------------------------------------


def _reroute(move: Move) -> tuple[dict, dict, list[int]]:
    """dispatch / transfer: to a named grid of the tip's county, under the routing rules (conflict: never a chief)."""
    from server.tips.routing import route_to_grid

    tip, grid = move.tip, move.fields["grid_code"]
    if move.row.action == "transfer" and grid == tip.grid_code:
        raise _invalid("grid_code", "The tip is already in this grid.")
    if not grid.startswith(tip.area_code[:6]):
        raise _invalid("grid_code", "Transfer within the tip's county only.")
    routing = route_to_grid(grid, conflict=tip.conflict)
    values = {
        "generation_id": routing.generation_id,
        "grid_code": routing.grid_code,
        "area_code": routing.area_code,
        "outside_grids": False,
        "snap_distance_m": None,
        "queue_kind": routing.queue_kind,
        "queue_area_code": routing.queue_area_code,
        "assignee_user_id": routing.assignee_user_id,
        "escalation_level": QUEUE_LEVELS[routing.queue_kind],
    }
    values |= deadlines.accept_clock(current_app.config["GRID"], move.category, move.now)
    details = {"from_grid": tip.grid_code, "to_grid": routing.grid_code, "queue": routing.queue_kind}
    return values, details, list(routing.excluded_user_ids)


def _accept(move: Move):
    return {"assignee_user_id": move.actor.id, "accepted_at": move.tip.accepted_at or move.now}, {}, []


def _nothing(move: Move):
    return {}, _reason(move), []


def _resolve(move: Move):
    return {"result": move.fields["result"], "resolved_at": move.now}, {}, []


def _close(move: Move):
    return {"closed_at": move.now}, {}, []


def _reopen(move: Move):
    values = {"resolved_at": None, "closed_at": None}
    settings = current_app.config["GRID"]
    if move.tip.status in ("closed", "dismissed"):
        values |= {"resolve_due_at": deadlines.resolve_deadline(settings, move.category, move.now)}
        values |= {"overdue_notified": False}
    if move.row.target == "dispatched":
        values |= deadlines.accept_clock(settings, move.category, move.now)
    return values, _reason(move), []


def _up(move: Move):
    """escalate / return: one level up (grid -> township -> county), a discipline queue for a conflict tip."""
    tip = move.tip
    kind, area = upper_queue(tip)
    values = {
        "queue_kind": kind,
        "queue_area_code": area,
        "assignee_user_id": None,
        "escalation_level": QUEUE_LEVELS[kind],
    }
    values |= deadlines.accept_clock(current_app.config["GRID"], move.category, move.now)
    details = _reason(move) | {"from_queue": tip.queue_kind, "to_queue": kind}
    return values, details, []


def _refer(move: Move):
    to = move.fields["to"]
    if to not in REFER_TARGETS:
        raise _invalid("to", f"One of: {', '.join(REFER_TARGETS)}.")
    return {"referred_to": to}, {"to": to}, []


def _request_postpone(move: Move):
    tip, new = move.tip, move.fields["new_deadline"]
    current = tip.resolve_due_at
    if new <= move.now or (current is not None and new <= current):
        raise _invalid("new_deadline", "Must be later than now and than the current resolve deadline.")
    request = {"new_deadline": new.isoformat(), "reason": move.fields["reason"], "by": move.actor.id}
    request |= {"from_status": tip.status, "at": move.now.isoformat()}
    return {"postpone_request": request}, {"new_deadline": new.isoformat(), "reason": move.fields["reason"]}, []


def _approve_postpone(move: Move):
    tip = move.tip
    request = tip.postpone_request or {}
    new = move.fields.get("new_deadline") or datetime.fromisoformat(request["new_deadline"])
    if new <= move.now:
        raise _invalid("new_deadline", "Must be later than now.")
    values = {"resolve_due_at": new, "postponements": tip.postponements + 1, "postpone_request": None}
    return values | {"overdue_notified": False}, {"new_deadline": new.isoformat()}, []


def _deny_postpone(move: Move):
    return {"postpone_request": None}, _reason(move), []


def _merge(move: Move):
    other_id = move.fields["duplicate_of"]
    if other_id == move.tip.id:
        raise _invalid("duplicate_of", "A tip cannot duplicate itself.")
    other = db.session.scalar(select(Tip).where(Tip.id == other_id, visible_tips(move.actor, move.scope)))
    if other is None or other.status in ("merged", "dismissed"):
        raise _invalid("duplicate_of", "No such open tip that you can see.")
    return {"duplicate_of_id": other.id}, {"duplicate_of": other.id}, []


EFFECTS = {
    "dispatch": _reroute,
    "transfer": _reroute,
    "accept": _accept,
    "start": _nothing,
    "resolve": _resolve,
    "close": _close,
    "reopen": _reopen,
    "return": _up,
    "escalate": _up,
    "refer": _refer,
    "dismiss": _nothing,
    "request_postpone": _request_postpone,
    "approve_postpone": _approve_postpone,
    "deny_postpone": _deny_postpone,
    "merge": _merge,
}
assert set(EFFECTS) == set(ACTIONS), "every action of the table needs its effect"  # noqa: S101


def upper_queue(tip: Tip) -> tuple[str, str]:
    level = QUEUE_LEVELS[tip.queue_kind]
    target = "township" if level == 0 else "county"
    area = ancestor_code(tip.queue_area_code, tip.generation_id, target)
    if area is None:
        raise Problem(409, "cannot-escalate", "The area above this tip's queue is not on the map.")
    return (f"{target}_discipline" if tip.conflict else target), area


def ancestor_code(code: str, generation_id: int | None, level: str) -> str | None:
    """The code of the area at `level` that contains `code` (itself if it is at that level), in that generation."""
    if memo.active():  # the job: the generation's hierarchy once (a generation's areas never change)
        areas = area_map(generation_id)
        while code is not None and code in areas and areas[code][0] != level:
            code = areas[code][1]
        return code if code in areas else None
    return _ancestor_code(code, generation_id, level)


def area_map(generation_id: int | None) -> dict[str, tuple[str, str | None, str]]:
    """code -> (level, parent code, name) for one generation, once per job run."""

    def load():
        query = select(Area.code, Area.level, Area.parent_code, Area.name).where(Area.generation_id == generation_id)
        return {code: (level, parent, name) for code, level, parent, name in db.session.execute(query)}

    return memoized("areas", generation_id, load)


def _ancestor_code(code: str, generation_id: int | None, level: str) -> str | None:
    area = db.session.scalar(select(Area).where(Area.generation_id == generation_id, Area.code == code))
    while area is not None and area.level != level:
        if area.parent_code is None:
            return None
        area = db.session.scalar(select(Area).where(Area.generation_id == generation_id, Area.code == area.parent_code))
    return area.code if area is not None else None


def category_of(tip: Tip) -> TipCategory:
    return memoized("category", tip.category_code, lambda: db.session.get(TipCategory, tip.category_code))


def _reason(move: Move) -> dict:
    return {"reason": move.fields["reason"]} if move.fields.get("reason") else {}


def _invalid(name: str, message: str) -> Problem:
    return Problem(422, "invalid-field", message, errors={name: [message]})


def _exclude(tip_id: int, user_ids: list[int]) -> None:
    if not user_ids:
        return
    present = set(db.session.scalars(select(TipExclusion.user_id).where(TipExclusion.tip_id == tip_id)))
    db.session.add_all(TipExclusion(tip_id=tip_id, user_id=u) for u in set(user_ids) - present)


def _event(tip: Tip, action: str, actor_id, to_status: str, note, details: dict, now: datetime) -> dict:
    return {
        "tip_id": tip.id,
        "at": now,
        "actor_user_id": actor_id,
        "action": action,
        "from_status": tip.status,
        "to_status": to_status,
        "note": note,
        "details": details or None,
    }


STATE_COLUMNS = (
    "status",
    "accept_due_at",
    "resolve_due_at",
    "warn_at",
    "warned_level",
    "escalation_level",
    "overdue_notified",
)


def _state(tip: Tip) -> dict:
    return {name: getattr(tip, name) for name in STATE_COLUMNS}
