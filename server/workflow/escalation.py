"""The escalation job (督办): early warnings, the accept-deadline ladder and overdue notices. Idempotent.

The ladder, for a tip nobody has accepted:
- at GRID_EARLY_WARNING_FRACTION (75 %) of the accept window: an early warning to whoever holds it;
- at the accept deadline: escalated one level up -- from the grid (chief/deputy) to the township queue, from the
  township to the county (the discipline queues for conflict-of-interest tips) -- with a new accept window there;
- at the county's accept deadline: one overdue notice, and the tip stays flagged overdue.
For a tip being handled, one overdue notice when the resolve deadline passes.
Each step writes one timeline event and its notifications, once per tip per step: the step moves `next_check_at`
on (or clears it) in the same UPDATE, under the tip's optimistic lock. A step whose moment passed long ago is
taken as it stands now: a tip whose accept deadline has passed is escalated without a late early warning.

Safe with two workers at once: due rows are selected `FOR UPDATE SKIP LOCKED` on PostgreSQL (the second worker
takes other rows); SQLite serialises writers (BEGIN IMMEDIATE); and the version check makes a step that someone
else (a worker, or a chief accepting right then) already took a no-op either way.
Run it every minute (`flask worker` does) or once: `flask tips escalate [--now ISO]`.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime

from flask import current_app
from sqlalchemy import select

from server.areas.models import utcnow
from server.errors import Problem
from server.extensions import db
from server.tips.models import Tip
from server.workflow import deadlines
from server.workflow.deadlines import AWAITING, HANDLING, TOP_LEVEL
from server.workflow.memo import run_memo
from server.workflow.services import Plan, apply, category_of, upper_queue

BATCH = 500
log = logging.getLogger(__name__)


def due_tip_ids(now: datetime, limit: int, skip: set[int] | frozenset = frozenset()) -> list[int]:
    """Tips whose next check is due, oldest first; locked (skipping rows another worker holds) on PostgreSQL."""
    query = select(Tip.id).where(Tip.next_check_at.is_not(None), Tip.next_check_at <= now)
    if skip:
        query = query.where(Tip.id.not_in(skip))
    query = query.order_by(Tip.next_check_at).limit(limit)
    if db.engine.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(db.session.scalars(query))


def run_escalation(now: datetime | None = None, *, batch: int = BATCH) -> Counter:
    """Take every due step, committing after each batch. Returns how many of each step were taken."""
    now = now or utcnow()
    taken: Counter = Counter()
    failed: set[int] = set()
    with run_memo():
        return _run(now, batch, taken, failed)


def _run(now: datetime, batch: int, taken: Counter, failed: set[int]) -> Counter:
    while True:
        ids = due_tip_ids(now, batch, failed)
        loaded = _load(ids)  # one SELECT for the batch; kept referenced so that the session keeps them
        # The batch's rows are written at its commit (INSERTs batched); a step refused with a Problem has written
        # nothing (the version check and the guards come before any write), so there is nothing to undo.
        with db.session.no_autoflush:
            for tip_id in ids:
                try:
                    step = check_tip(tip_id, now)
                except Problem as problem:  # conflicting-update: someone else moved the tip first
                    log.info("escalation: tip %s skipped (%s)", tip_id, problem.slug)
                    step = "raced" if problem.slug == "conflicting-update" else "failed"
                taken[step] += 1
                if step in ("none", "raced", "failed"):
                    failed.add(tip_id)  # never picked again in this run, so the run always ends
        db.session.commit()
        del loaded
        if len(ids) < batch:
            return taken


def _load(ids: list[int]) -> list[Tip]:
    if not ids:
        return []
    return list(db.session.scalars(select(Tip).where(Tip.id.in_(ids)).execution_options(populate_existing=True)))


def check_tip(tip_id: int, now: datetime) -> str:
    """Take the one step due for this tip now; returns its name ('none' when nothing is due any more)."""
    tip = db.session.get(Tip, tip_id)  # loaded (and locked on PostgreSQL) with its batch
    if tip is None or tip.next_check_at is None or tip.next_check_at > now:
        return "none"
    settings = current_app.config["GRID"]
    category = category_of(tip)
    step, values, event, notify = _step(tip, category, settings, now)
    state = {c: getattr(tip, c) for c in ("accept_due_at", "resolve_due_at", "warn_at")}
    state |= {"status": tip.status, "warned_level": tip.warned_level, "escalation_level": tip.escalation_level}
    state |= {"overdue_notified": tip.overdue_notified}
    values["next_check_at"] = deadlines.next_check(state | values)
    apply(Plan(tip.id, tip.version, values, event, notify), now=now)
    return step


def _step(tip: Tip, category, settings, now: datetime):
    level = tip.escalation_level
    if tip.status in AWAITING:
        if now >= tip.accept_due_at:
            if level < TOP_LEVEL:
                return _escalate(tip, category, settings, now)
            details = {"deadline": tip.accept_due_at.isoformat(), "kind": "accept"}
            event = _event(tip, "overdue", tip.status, details, now)
            return "accept_overdue", {"overdue_notified": True}, event, ("accept_overdue", "queue")
        if tip.warn_at is not None and now >= tip.warn_at and tip.warned_level != level:
            details = {"deadline": tip.accept_due_at.isoformat(), "level": level}
            event = _event(tip, "early_warning", tip.status, details, now)
            return "early_warning", {"warned_level": level}, event, ("early_warning", "queue")
    elif tip.status in HANDLING and not tip.overdue_notified and now >= tip.resolve_due_at:
        details = {"deadline": tip.resolve_due_at.isoformat(), "kind": "resolve"}
        event = _event(tip, "overdue", tip.status, details, now)
        return "resolve_overdue", {"overdue_notified": True}, event, ("resolve_overdue", "queue")
    return "none", {}, None, None


def _escalate(tip: Tip, category, settings, now: datetime):
    kind, area = upper_queue(tip)
    values = {
        "status": "escalated",
        "queue_kind": kind,
        "queue_area_code": area,
        "assignee_user_id": None,
        "escalation_level": deadlines.QUEUE_LEVELS[kind],
    }
    values |= deadlines.accept_clock(settings, category, now)
    details = {"automatic": True, "from_queue": tip.queue_kind, "to_queue": kind}
    details |= {"missed_deadline": tip.accept_due_at.isoformat()}
    event = _event(tip, "escalate", "escalated", details, now)
    return "escalated", values, event, ("escalated", "queue")


def _event(tip: Tip, action: str, to_status: str, details: dict, now: datetime) -> dict:
    return {
        "tip_id": tip.id,
        "at": now,
        "actor_user_id": None,
        "action": action,
        "from_status": tip.status,
        "to_status": to_status,
        "note": None,
        "details": details,
    }
