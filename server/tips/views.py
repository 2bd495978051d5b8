"""Tip dicts for responses. Triagers see content and routing; the reporter stays 'confidential' with a role.
Never in any view: the reporter's identity, device hashes, IPs, app versions or photo EXIF."""

from __future__ import annotations

from flask import url_for
from sqlalchemy import func, select

from server.accounts.roles import ROLE_LABELS_ZH
from server.areas.models import Area, utcnow
from server.extensions import db
from server.tips.models import Tip, TipCategory, TipEvent, TipLink, TipPhoto, TipReporter
from server.tips.photos import photos_of
from server.tips.states import QUEUE_LABELS_ZH, STATUS_LABELS_ZH


def iso_minute(value) -> str | None:
    """Timestamps to the minute: handlers never get the second a reporter pressed 'send'."""
    return value.replace(second=0, microsecond=0).isoformat() if value else None


def photo_ref(tip_id: int, photo: TipPhoto) -> dict:
    url = url_for("tips.tip_photo", tip_id=tip_id, photo_id=photo.id)
    return {
        "id": photo.id,
        "url": url,
        "thumb_url": url + "?size=thumb",
        "width": photo.width,
        "height": photo.height,
        "mime": photo.mime,
    }


def _grid_name(tip: Tip) -> str | None:
    if tip.grid_code is None:
        return None
    return db.session.scalar(
        select(Area.name).where(Area.generation_id == tip.generation_id, Area.code == tip.grid_code)
    )


def submitted_view(tip: Tip) -> dict:
    """What the reporter's phone gets back (and what a retry replays)."""
    receipt = db.session.scalar(select(TipReporter.receipt_code).where(TipReporter.tip_id == tip.id))
    return submitted_body(
        tip.id,
        tip.category_code,
        tip.submitted_at,
        (tip.grid_code, _grid_name(tip)),
        tip.snap_distance_m,
        receipt,
        outside_grids=tip.outside_grids,
        status=tip.status,
        photos=[photo_ref(tip.id, p) for p in photos_of(tip.id)],
    )


def submitted_body(
    tip_id, category, submitted_at, grid: tuple, snapped_m, receipt, *, outside_grids, status="dispatched", photos=()
) -> dict:
    """The shape of submitted_view, from plain values (intake builds it before the tip is written)."""
    return {
        "id": tip_id,
        "status": status,
        "status_zh": STATUS_LABELS_ZH[status],
        "category": category,
        "submitted_at": iso_minute(submitted_at),
        "grid": {"code": grid[0], "name": grid[1]} if grid[0] is not None else None,
        "outside_grids": outside_grids,
        "snapped_m": snapped_m,
        "photos": list(photos),
        "receipt": {"code": receipt} if receipt else None,
    }


def triage_view(tip: Tip, *, user=None) -> dict:
    """What a chief or staff member sees of one tip: the inbox fields, plus the timeline and, for `user`, the
    actions they may take now."""
    view = triage_views([tip])[0]
    view["timeline"] = timeline(tip.id)
    if user is not None:
        from server.workflow.services import allowed_actions

        view["allowed_actions"] = allowed_actions(user, tip)
    return view


def triage_views(tips: list[Tip]) -> list[dict]:
    """Inbox items for a page of tips, in a fixed number of queries (not one per tip)."""
    if not tips:
        return []
    ids = [t.id for t in tips]
    categories = {c.code: c for c in db.session.scalars(select(TipCategory))}
    located = select(Tip.id, func.ST_X(Tip.location), func.ST_Y(Tip.location)).where(Tip.id.in_(ids))
    points = {i: (x, y) for i, x, y in db.session.execute(located)}
    grid_names = _grid_names(tips)
    photos: dict[int, list] = {i: [] for i in ids}
    for photo in db.session.scalars(select(TipPhoto).where(TipPhoto.tip_id.in_(ids)).order_by(TipPhoto.id)):
        photos[photo.tip_id].append(photo)
    related: dict[int, list] = {i: [] for i in ids}
    query = select(TipLink).where(TipLink.tip_id.in_(ids)).order_by(TipLink.distance_m)
    for link in db.session.scalars(query):
        related[link.tip_id].append(link)
    now = utcnow()
    return [
        _item(t, categories[t.category_code], points[t.id], grid_names, photos[t.id], related[t.id], now) for t in tips
    ]


def _item(tip: Tip, category, point, grid_names, photos, related, now) -> dict:
    lon, lat = point
    grid = (
        {"code": tip.grid_code, "name": grid_names.get((tip.generation_id, tip.grid_code))} if tip.grid_code else None
    )
    return {
        "id": tip.id,
        "version": tip.version,
        "category": {
            "code": category.code,
            "label_zh": category.label_zh,
            "label_en": category.label_en,
            "urgent": category.urgent,
        },
        "description": tip.description,
        "status": tip.status,
        "status_zh": STATUS_LABELS_ZH[tip.status],
        "submitted_at": iso_minute(tip.submitted_at),
        "occurred_at": iso_minute(tip.occurred_at),
        "location": {"lon": lon, "lat": lat, "datum": "wgs84", "accuracy_m": tip.accuracy_m},
        "grid": grid,
        "routing": {
            "queue": tip.queue_kind,
            "queue_zh": QUEUE_LABELS_ZH[tip.queue_kind],
            "area_code": tip.queue_area_code,
            "conflict_of_interest": tip.conflict,
            "outside_grids": tip.outside_grids,
            "snapped_m": tip.snap_distance_m,
            "generation_id": tip.generation_id,
            "escalation_level": tip.escalation_level,
            "assignee_user_id": tip.assignee_user_id,
        },
        "deadlines": deadlines_view(tip, category, now),
        "reporter": {
            "confidential": True,
            "role": tip.reporter_role,
            "role_zh": ROLE_LABELS_ZH.get(tip.reporter_role, "群众"),
        },
        "photos": [photo_ref(tip.id, p) for p in photos],
        "related": [{"id": link.related_tip_id, "distance_m": link.distance_m} for link in related],
        "feedback": tip.feedback,
        "result": tip.result,
        "referred_to": tip.referred_to,
        "duplicate_of": tip.duplicate_of_id,
        "postpone_request": _postpone_request(tip),
    }


def deadlines_view(tip: Tip, category, now) -> dict:
    """The clock of a tip: when it had to be accepted and resolved, and whether it is late now."""
    from server.workflow.deadlines import overdue_flags

    flags = overdue_flags(tip, now)
    return {
        "clock": "urgent_24x7" if category.urgent else "working_hours",
        "dispatched_at": iso_minute(tip.dispatched_at),
        "accept_due_at": iso_minute(tip.accept_due_at),
        "resolve_due_at": iso_minute(tip.resolve_due_at),
        "accepted_at": iso_minute(tip.accepted_at),
        "resolved_at": iso_minute(tip.resolved_at),
        "closed_at": iso_minute(tip.closed_at),
        "postponements": tip.postponements,
        "overdue": flags["accept_overdue"] or flags["resolve_overdue"],
        **flags,
    }


def _postpone_request(tip: Tip) -> dict | None:
    request = tip.postpone_request
    if not request:
        return None
    return {"new_deadline": request["new_deadline"], "reason": request["reason"], "requested_by": request["by"]}


def _grid_names(tips: list[Tip]) -> dict:
    keys = {(t.generation_id, t.grid_code) for t in tips if t.grid_code}
    if not keys:
        return {}
    codes = {code for _, code in keys}
    rows = db.session.execute(
        select(Area.generation_id, Area.code, Area.name).where(Area.code.in_(codes), Area.level == "grid")
    )
    return {(g, c): name for g, c, name in rows if (g, c) in keys}


def timeline(tip_id: int) -> list[dict]:
    """Every step of the tip, oldest first: who (staff name, or the system), when, what, from/to, the note."""
    from server.accounts.models import User
    from server.workflow.transitions import ACTION_LABELS_ZH

    rows = db.session.execute(
        select(TipEvent, User.name)
        .outerjoin(User, User.id == TipEvent.actor_user_id)
        .where(TipEvent.tip_id == tip_id)
        .order_by(TipEvent.at, TipEvent.id)
    ).all()
    return [
        {
            "at": iso_minute(event.at),
            "action": event.action,
            "action_zh": ACTION_LABELS_ZH.get(event.action, event.action),
            "actor": {"id": event.actor_user_id, "name": name} if event.actor_user_id else None,
            "from_status": event.from_status,
            "to_status": event.to_status,
            "note": event.note,
            "details": event.details or {},
        }
        for event, name in rows
    ]
