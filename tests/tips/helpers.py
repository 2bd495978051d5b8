"""Building tip requests on real demo geometry."""

from __future__ import annotations

import io
import json
import uuid
from contextlib import nullcontext

import shapely
from flask import has_app_context
from PIL import Image
from sqlalchemy import select

from server.areas.index_cache import current_generation_id
from server.areas.models import Area
from server.extensions import db
from server.geo import datum
from server.tips.followups import run_followups
from server.tips.materialise import materialise_waiting

PLANTED_TEXT = "赌场在村东头仓库 PLANTED-TIP-TEXT-5521"


def grid_point(code: str) -> tuple[float, float]:
    """A WGS-84 point well inside the grid."""
    wkb = db.session.scalar(
        select(Area.geom.ST_AsBinary()).where(Area.generation_id == current_generation_id(), Area.code == code)
    )
    p = shapely.from_wkb(bytes(wkb)).representative_point()
    return p.x, p.y


def payload(lon: float, lat: float, *, datum_name="wgs84", category="vice.gambling", **extra) -> dict:
    if datum_name != "wgs84":
        lon, lat = datum.from_wgs84(lon, lat, datum_name)
    body = {
        "category": category,
        "description": PLANTED_TEXT,
        "location": {"lon": lon, "lat": lat, "datum": datum_name, "accuracy_m": 12},
        "occurred_at": "2026-11-28T21:30:00+08:00",
        "client": {"app_version": "2.3.1", "device_hash": "d3v1c3h4sh0000000000abcd"},
    }
    return body | extra


def post_tip(
    client,
    headers: dict,
    body: dict,
    *,
    key=None,
    path="/api/v1/tips",
    photos=(),
    write=True,
    follow_up=True,
    **request_args,
):
    """POST a tip; then do what the worker does next: write a JSON tip waiting in the intake journal (unless
    write=False), and follow it up (related links, notifications; unless follow_up=False)."""
    headers = dict(headers)
    headers["Idempotency-Key"] = key or str(uuid.uuid4())
    if photos:
        data = {"tip": json.dumps(body), "photos": [(io.BytesIO(p), name) for name, p in photos]}
        response = client.post(path, headers=headers, data=data, content_type="multipart/form-data", **request_args)
    else:
        response = client.post(path, headers=headers, json=body, **request_args)
    if response.status_code < 300 and write:
        with nullcontext() if has_app_context() else client.application.app_context():
            materialise_waiting()
            if follow_up:
                run_followups()
            db.session.commit()
    return response


def jpeg_bytes(size=(640, 480), color=(200, 40, 40)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def png_bytes(size=(320, 200)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (10, 120, 200)).save(buf, "PNG")
    return buf.getvalue()
