"""Patrols: open, receive point batches (idempotent per seq), finish (clean, store, split per grid), read, list.

Plain functions; they flush, never commit. Who sees a patrol: its patroller; and anyone whose scope holds the
patroller's area (as it was when the patrol started) or one of the grids the patrol went through.
"""

from __future__ import annotations

import hashlib
import json
import math
from datetime import UTC, datetime

import numpy as np
import shapely
from flask import current_app
from geoalchemy2.shape import from_shape, to_shape
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from server.accounts.models import User
from server.areas.index_cache import current_index
from server.areas.services import no_map_loaded
from server.errors import NotFound, Problem
from server.extensions import db
from server.geo import datum
from server.patrols import track as tracks
from server.patrols.models import PATROL_STATUS_ZH, Patrol, PatrolBatch, PatrolGrid
from server.scope import Scope

MAX_POINTS_PER_BATCH = 5_000
MAX_POINTS_PER_PATROL = 100_000
PATROLLER_ROLES = ("member", "grid_chief")


def _settings():
    return current_app.config["GRID"]


def open_patrol(user: User, note: str | None) -> Patrol:
    patrol = Patrol(user_id=user.id, home_area_code=user.home_area_code, status="open", note=note, points_received=0)
    db.session.add(patrol)
    db.session.flush()
    return patrol


def own_patrol(patrol_id: int, user: User, *, lock: bool = False) -> Patrol:
    """The caller's own patrol; anyone else's is the one 404."""
    patrol = db.session.get(Patrol, patrol_id, with_for_update=lock or None)
    if patrol is None or patrol.user_id != user.id:
        raise NotFound("patrol")
    return patrol


def content_hash(datum_name: str, points: list) -> str:
    canonical = json.dumps({"datum": datum_name, "points": points}, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _validate_points(points: list, datum_name: str) -> None:
    """Every point is [lon, lat, unix_time] or [lon, lat, unix_time, accuracy_m|null], with finite, sane values."""
    errors = {}
    for i, p in enumerate(points):
        if len(p) not in (3, 4) or not all(_number(v) for v in p[:3]):
            errors[i] = ["A point is [lon, lat, unix_time] or [lon, lat, unix_time, accuracy_m], all numbers."]
        elif not math.isfinite(p[2]) or p[2] < 946_684_800:  # 2000-01-01
            errors[i] = ["unix_time must be seconds since 1970 (UTC), after 2000-01-01."]
        elif len(p) == 4 and p[3] is not None and not (_number(p[3]) and math.isfinite(p[3]) and p[3] >= 0):
            errors[i] = ["accuracy_m must be a number >= 0, or null."]
    if errors:
        raise Problem(422, "bad-points", f"{len(errors)} point(s) are malformed; see `errors`.", errors=errors)
    if points:
        coords = np.array([p[:2] for p in points], dtype=np.float64)
        datum.to_wgs84_array(coords, datum_name)  # DatumError names the first bad row: a 422 problem


def _conflict(seq: int) -> Problem:
    return Problem(
        409,
        "batch-conflict",
        f"Batch {seq} of this patrol was already received with different points. A retry must resend exactly "
        "the same batch; new points need a new seq.",
        title="Batch conflict",
    )


def add_batch(patrol_id: int, user: User, seq: int, datum_name: str, points: list) -> tuple[PatrolBatch, bool]:
    """Store one batch. (batch, True) when the same seq with the same content was already stored (a retry)."""
    patrol = own_patrol(patrol_id, user, lock=True)
    datum_name = datum.normalise_datum(datum_name)
    _validate_points(points, datum_name)
    digest = content_hash(datum_name, points)
    existing = db.session.scalar(select(PatrolBatch).where(PatrolBatch.patrol_id == patrol.id, PatrolBatch.seq == seq))
    if existing is not None:
        if existing.content_sha256 == digest:
            return existing, True
        raise _conflict(seq)
    if patrol.status == "finished":
        raise Problem(409, "patrol-finished", "This patrol is finished; it takes no more points.", title="Finished")
    if patrol.points_received + len(points) > MAX_POINTS_PER_PATROL:
        raise Problem(413, "too-many-points", f"A patrol may have at most {MAX_POINTS_PER_PATROL} points.")
    batch = PatrolBatch(
        patrol_id=patrol.id,
        seq=seq,
        datum=datum_name,
        content_sha256=digest,
        packed=tracks.pack_points(points),
        point_count=len(points),
    )
    try:
        with db.session.begin_nested():
            db.session.add(batch)
            patrol.points_received += len(points)
            db.session.flush()
    except IntegrityError:  # the same seq arrived twice at the same moment: judge against the one that won
        db.session.expire_all()
        winner = db.session.scalar(
            select(PatrolBatch).where(PatrolBatch.patrol_id == patrol.id, PatrolBatch.seq == seq)
        )
        if winner is None or winner.content_sha256 != digest:
            raise _conflict(seq) from None
        return winner, True
    return batch, False


def finish(patrol_id: int, user: User, *, now: datetime | None = None) -> Patrol:
    """Clean the track, store it and the time per grid. Finishing a finished patrol returns it unchanged."""
    patrol = own_patrol(patrol_id, user, lock=True)
    if patrol.status == "finished":
        return patrol
    index = current_index()
    if index is None or len(index) == 0:
        raise no_map_loaded()
    rows = db.session.execute(
        select(PatrolBatch.seq, PatrolBatch.datum, PatrolBatch.packed)
        .where(PatrolBatch.patrol_id == patrol.id)
        .order_by(PatrolBatch.seq)
    ).all()
    settings = _settings()
    track = tracks.process(
        [tracks.Batch(seq, name, tracks.unpack_points(packed)) for seq, name, packed in rows],
        index,
        max_speed=settings.patrol_max_speed_mps,
        max_accuracy=settings.patrol_max_accuracy_m,
        simplify_m=settings.patrol_simplify_m,
    )
    _store(patrol, track, index, now or datetime.now(UTC))
    return patrol


def _when(unix: float) -> datetime:
    return datetime.fromtimestamp(unix, UTC)


def _store(patrol: Patrol, track: tracks.Track, index, now: datetime) -> None:
    patrol.status = "finished"
    patrol.finished_at = now
    patrol.generation_id = index.generation_id
    patrol.points_kept = len(track.t)
    patrol.dropped_inaccurate = track.dropped_inaccurate
    patrol.dropped_duplicate = track.dropped_duplicate
    patrol.dropped_too_fast = track.dropped_too_fast
    patrol.distance_m = round(track.distance_m, 1)
    patrol.duration_s = round(track.duration_s, 1)
    if len(track.t):
        patrol.first_point_at, patrol.last_point_at = _when(track.t[0]), _when(track.t[-1])
    if len(track.t) >= 2:
        patrol.track = from_shape(shapely.linestrings(track.lon, track.lat), srid=4326)
        patrol.track_simplified = from_shape(shapely.linestrings(track.simplified), srid=4326)
        patrol.point_times = tracks.pack_times(track.t)
    db.session.add_all(
        PatrolGrid(
            patrol_id=patrol.id,
            grid_code=index.grid_codes[g.index],
            seconds=round(g.seconds, 1),
            distance_m=round(g.distance_m, 1),
            first_at=_when(g.first_t),
            last_at=_when(g.last_t),
        )
        for g in track.grids
    )
    db.session.flush()


# --- reading --------------------------------------------------------------------------------------------------


def grid_rows(patrol_id: int) -> list[PatrolGrid]:
    query = select(PatrolGrid).where(PatrolGrid.patrol_id == patrol_id)
    return list(db.session.scalars(query.order_by(PatrolGrid.seconds.desc(), PatrolGrid.grid_code)))


def get_patrol(patrol_id: int, viewer: User, scope: Scope) -> Patrol:
    patrol = db.session.get(Patrol, patrol_id)
    if patrol is None:
        raise NotFound("patrol")
    if patrol.user_id == viewer.id or scope.allows(patrol.home_area_code):
        return patrol
    through = db.session.scalars(select(PatrolGrid.grid_code).where(PatrolGrid.patrol_id == patrol.id))
    if any(scope.allows(code) for code in through):
        return patrol
    raise NotFound("patrol")


def grid_refs(rows: list[PatrolGrid]) -> list[dict]:
    index = current_index()
    out = []
    for r in rows:
        ref = index.areas.get(r.grid_code) if index is not None else None
        out.append(
            {
                "code": r.grid_code,
                "name": ref.name if ref is not None else None,
                "seconds": r.seconds,
                "distance_m": r.distance_m,
                "first_at": r.first_at,
                "last_at": r.last_at,
            }
        )
    return out


def summary_view(patrol: Patrol) -> dict:
    return {
        "id": patrol.id,
        "status": patrol.status,
        "status_zh": PATROL_STATUS_ZH[patrol.status],
        "distance_m": patrol.distance_m,
        "duration_s": patrol.duration_s,
        "started_at": patrol.started_at,
        "finished_at": patrol.finished_at,
        "first_point_at": patrol.first_point_at,
        "last_point_at": patrol.last_point_at,
        "points": {
            "received": patrol.points_received,
            "kept": patrol.points_kept,
            "dropped_inaccurate": patrol.dropped_inaccurate,
            "dropped_duplicate": patrol.dropped_duplicate,
            "dropped_too_fast": patrol.dropped_too_fast,
        },
    }


def detail_view(patrol: Patrol, patroller_name: str | None, *, full_track: bool) -> dict:
    body = summary_view(patrol) | {"patroller": {"id": patrol.user_id, "name": patroller_name}, "note": patrol.note}
    body["grids"] = grid_refs(grid_rows(patrol.id))
    body["generation_id"] = patrol.generation_id
    geometry = patrol.track if full_track else patrol.track_simplified
    body["track"] = None
    if geometry is not None:
        line = to_shape(geometry)
        body["track"] = {"type": "LineString", "coordinates": [list(c) for c in line.coords]}
        if full_track:
            body["point_times"] = tracks.unpack_times(patrol.point_times)
    return body


def patroller_name(user_id: int) -> str | None:
    return db.session.scalar(select(User.name).where(User.id == user_id))


def grid_patrols(code: str, since: datetime | None, limit: int, offset: int):
    """Patrols through one grid, most recent there first, with the time and distance spent in it."""
    query = (
        select(PatrolGrid, Patrol, User.name)
        .join(Patrol, Patrol.id == PatrolGrid.patrol_id)
        .join(User, User.id == Patrol.user_id)
        .where(PatrolGrid.grid_code == code)
    )
    if since is not None:
        query = query.where(PatrolGrid.last_at >= since)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    rows = db.session.execute(query.order_by(PatrolGrid.last_at.desc(), Patrol.id.desc()).limit(limit).offset(offset))
    return list(rows.all()), total


def my_patrols(user: User, limit: int, offset: int):
    query = select(Patrol).where(Patrol.user_id == user.id)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    rows = db.session.scalars(query.order_by(Patrol.started_at.desc(), Patrol.id.desc()).limit(limit).offset(offset))
    return list(rows), total
