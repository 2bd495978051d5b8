"""Tip dicts for responses. Triagers see content and routing; the reporter stays 'confidential' with a role.
Never in any view: the reporter's identity, device hashes, IPs, app versions or photo EXIF."""

from __future__ import annotations

from datetime import UTC

from flask import url_for
from sqlalchemy import func, select

from server.accounts.roles import ROLE_LABELS_ZH
from server.areas.models import Area
from server.extensions import db
from server.tips.models import Tip, TipCategory, TipPhoto, TipReporter
from server.tips.photos import photos_of
from server.tips.related import related_of
from server.tips.states import QUEUE_LABELS_ZH, STATUS_LABELS_ZH


def as_utc(value):
    """SQLite hands back naive datetimes; everything is stored in UTC, so say so."""
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def iso_minute(value) -> str | None:
    """Timestamps to the minute: handlers never get the second a reporter pressed 'send'."""
    return as_utc(value).replace(second=0, microsecond=0).isoformat() if value else None


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


def _grid_ref(tip: Tip) -> dict | None:
    if tip.grid_code is None:
        return None
    name = db.session.scalar(
        select(Area.name).where(Area.generation_id == tip.generation_id, Area.code == tip.grid_code)
    )
    return {"code": tip.grid_code, "name": name}


def submitted_view(tip: Tip) -> dict:
    """What the reporter's phone gets back (and what a retry replays)."""
    receipt = db.session.scalar(select(TipReporter.receipt_code).where(TipReporter.tip_id == tip.id))
    return {
        "id": tip.id,
        "status": tip.status,
        "status_zh": STATUS_LABELS_ZH[tip.status],
        "category": tip.category_code,
        "submitted_at": iso_minute(tip.submitted_at),
        "grid": _grid_ref(tip),
        "outside_grids": tip.outside_grids,
        "snapped_m": tip.snap_distance_m,
        "photos": [photo_ref(tip.id, p) for p in photos_of(tip.id)],
        "receipt": {"code": receipt} if receipt else None,
    }


def triage_view(tip: Tip) -> dict:
    """What a chief or staff member sees."""
    category = db.session.get(TipCategory, tip.category_code)
    lon, lat = db.session.execute(
        select(func.ST_X(Tip.location), func.ST_Y(Tip.location)).where(Tip.id == tip.id)
    ).one()
    return {
        "id": tip.id,
        "category": {"code": category.code, "label_zh": category.label_zh, "label_en": category.label_en},
        "description": tip.description,
        "status": tip.status,
        "status_zh": STATUS_LABELS_ZH[tip.status],
        "submitted_at": iso_minute(tip.submitted_at),
        "occurred_at": iso_minute(tip.occurred_at),
        "location": {"lon": lon, "lat": lat, "datum": "wgs84", "accuracy_m": tip.accuracy_m},
        "grid": _grid_ref(tip),
        "routing": {
            "queue": tip.queue_kind,
            "queue_zh": QUEUE_LABELS_ZH[tip.queue_kind],
            "area_code": tip.queue_area_code,
            "conflict_of_interest": tip.conflict,
            "outside_grids": tip.outside_grids,
            "snapped_m": tip.snap_distance_m,
            "generation_id": tip.generation_id,
        },
        "reporter": {
            "confidential": True,
            "role": tip.reporter_role,
            "role_zh": ROLE_LABELS_ZH.get(tip.reporter_role, "群众"),
        },
        "photos": [photo_ref(tip.id, p) for p in photos_of(tip.id)],
        "related": [{"id": link.related_tip_id, "distance_m": link.distance_m} for link in related_of(tip.id)],
        "feedback": tip.feedback,
    }
