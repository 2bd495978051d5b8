"""Writing notifications: in-app rows for the people who must act, and outbox rows for the channels that reach
them -- in the transaction of the change they report (the transactional outbox). Flushes, never commits.

Who is told (the audience of a move, server/workflow/transitions.py):
- queue: whoever holds the tip now -- the grid's chief and deputies for a grid queue; the township staff of the
  township for a township queue; the county staff for a county queue; the custodians (纪检) too for a
  discipline queue;
- verifiers: the level above the grid (the township; the county for a tip already there), for results to check
  and postponements to approve.
Every recipient must be able to see the tip under the one visibility rule (server/tips/visibility.py), so a
conflict-of-interest tip never reaches the chief or deputies it was routed around, nor anyone excluded. The actor
is not told about their own move.

Which channels: those of the target area with the tip's audience -- `discipline` channels for a conflict tip and
`general` ones otherwise, so a conflict tip never goes to a group that may hold the cadre it is about -- plus the
channels of the recipients themselves (per-user channels).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, select

from server.accounts.assignments import responsible_for_grid
from server.accounts.models import User, UserRole
from server.extensions import db
from server.notifications.content import render
from server.notifications.models import Notification, NotificationChannel, OutboxDelivery
from server.scope import scope_for
from server.tips.models import Tip
from server.tips.visibility import visible_to
from server.workflow import memo
from server.workflow.deadlines import QUEUE_LEVELS
from server.workflow.memo import memoized

LEVEL_ROLES = {1: ("township_staff",), 2: ("county_staff",)}


@dataclass(frozen=True)
class Target:
    area_code: str
    level: int  # 0 grid, 1 township, 2 county
    discipline: bool


def notify(tip: Tip, kind: str, audience: str, *, actor_id: int | None, now: datetime) -> tuple[int, int]:
    """Write the in-app notifications and the outbox deliveries for one event. Returns (in-app rows, deliveries)."""
    target = target_of(tip, audience)
    people = recipients(tip, target, exclude=actor_id)
    content = render(tip, kind)
    data = {k: content[k] for k in ("kind_zh", "category_zh", "grid", "deadline", "deadline_kind")}
    for user in people:
        db.session.add(
            Notification(
                user_id=user.id,
                tip_id=tip.id,
                kind=kind,
                title=content["title"],
                body=content["text"],
                data=data,
                created_at=now,
            )
        )
    deliveries = [
        OutboxDelivery(
            channel_id=channel_id,
            tip_id=tip.id,
            kind=kind,
            payload=content,
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        for channel_id in channels_for(target, [u.id for u in people])
    ]
    db.session.add_all(deliveries)  # flushed with the change they report (autoflush, or at commit)
    return len(people), len(deliveries)


def target_of(tip: Tip, audience: str) -> Target:
    from server.workflow.services import ancestor_code

    level = QUEUE_LEVELS[tip.queue_kind]
    if audience == "queue":
        return Target(tip.queue_area_code, level, tip.conflict)
    level = max(level, 1)
    wanted = "township" if level == 1 else "county"
    area = ancestor_code(tip.area_code, tip.generation_id, wanted) or tip.queue_area_code
    return Target(area, level, tip.conflict)


@dataclass(frozen=True)
class Principal:
    """What visibility needs of a recipient: id, roles and home area (never stale ORM state across commits)."""

    id: int
    roles: frozenset[str]
    home_area_code: str


def recipients(tip: Tip, target: Target, *, exclude: int | None = None) -> list[Principal]:
    """The people who hold the target, each of whom can see the tip today (the one visibility rule)."""
    people = memoized("candidates", target, lambda: _candidates(target))
    return [p for p in people if p.id != exclude and visible_to(p, tip.id, _scope(p))]


def _candidates(target: Target) -> list[Principal]:
    if target.level == 0:
        ids = [r.user_id for r in responsible_for_grid(target.area_code)]
        query = select(User).where(User.id.in_(ids)) if ids else None
    else:
        roles = LEVEL_ROLES[target.level] + (("custodian",) if target.discipline else ())
        prefixes = {target.area_code[:n] for n in range(1, len(target.area_code) + 1)}
        query = (
            select(User)
            .join(UserRole, UserRole.user_id == User.id)
            .where(UserRole.role.in_(roles), User.active.is_(True), User.home_area_code.in_(prefixes))
            .distinct()
        )
    users = list(db.session.scalars(query)) if query is not None else []
    return sorted((Principal(u.id, u.roles, u.home_area_code) for u in users), key=lambda p: p.id)


def _scope(person: Principal):
    return memoized("scope", person.id, lambda: scope_for(person))


def channels_for(target: Target, user_ids: list[int]) -> list[int]:
    """The ids of the active channels that reach this target (by area and audience) or these recipients."""

    audience = "discipline" if target.discipline else "general"
    if memo.active():  # the job: every active channel once (a short table), then matched here
        rows = memoized("channels", None, _active_channels)
        return [c for c, area, user, aud in rows if (area == target.area_code and aud == audience) or user in user_ids]
    by_area = and_(NotificationChannel.area_code == target.area_code, NotificationChannel.audience == audience)
    reach = or_(by_area, NotificationChannel.user_id.in_(user_ids)) if user_ids else by_area
    query = select(NotificationChannel.id).where(NotificationChannel.active.is_(True), reach)
    return list(db.session.scalars(query.order_by(NotificationChannel.id)))


def _active_channels() -> list[tuple]:
    columns = (NotificationChannel.id, NotificationChannel.area_code, NotificationChannel.user_id)
    query = select(*columns, NotificationChannel.audience).where(NotificationChannel.active.is_(True))
    return [tuple(row) for row in db.session.execute(query.order_by(NotificationChannel.id))]
