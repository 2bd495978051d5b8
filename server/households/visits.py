"""Home visits (五上门): a linked member logs a visit; it is flagged when logged far from the household.

- Only a member linked to the household (primary or not) logs visits to it; another account that can see the
  household gets 403 `not-linked`, one that cannot gets the usual 404.
- `far_from_household` is true when the member's position (converted to WGS-84) is more than
  GRID_VISIT_MAX_DISTANCE_M from the household (haversine metres; `distance_m` is always recorded).
- `visited_at` may be in the past (phones log offline and send later) but not more than 5 minutes in the future;
  without an offset it is read as China time (Asia/Shanghai). The household's `last_visited_at` only moves
  forward, so a late upload of an old visit never makes a household look more recently visited than it was.
- An optional photo goes through server.photos (validated, stripped of metadata, re-encoded, stored by its
  sha256). How far its EXIF position was from the household is kept privately (`photo_exif_distance_m`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select

from server.accounts.models import User
from server.errors import Problem
from server.extensions import db
from server.geo.datum import distance_m
from server.households.locations import lonlat, point_input
from server.households.models import Household, HouseholdLink, Visit
from server.households.services import get_household, settings
from server.scope import Scope

FUTURE_SLACK = timedelta(minutes=5)


def photo_store():
    from server.photos import store_from_settings

    return store_from_settings(current_app.config["GRID"])


def _is_linked(household_id: int, member_id: int) -> bool:
    return (
        db.session.scalar(
            select(HouseholdLink.id).where(
                HouseholdLink.household_id == household_id, HouseholdLink.member_id == member_id
            )
        )
        is not None
    )


def log_visit(
    household_id: int, member, data: dict, photo: bytes | None, *, now: datetime, scope: Scope | None = None
) -> Visit:
    household = get_household(household_id, scope)
    if not _is_linked(household.id, member.id):
        raise Problem(
            403,
            "not-linked",
            "Only a member linked to this household (党员联户) can log visits to it.",
            title="Not your household",
        )
    visited_at = data.get("visited_at") or now
    if visited_at > now + FUTURE_SLACK:
        message = "visited_at is in the future; send the time of the visit (with its UTC offset)."
        raise Problem(422, "visit-in-future", message, title="Invalid visit time", errors={"visited_at": [message]})
    point = point_input(data["location"])
    home_lon, home_lat = lonlat(household.location)
    distance = distance_m(point.lon, point.lat, home_lon, home_lat)
    visit = Visit(
        household_id=household.id,
        member_id=member.id,
        grid_code=household.grid_code,
        visited_at=visited_at,
        location=point.ewkt,
        source_datum=point.datum,
        raw_lon=point.raw_lon,
        raw_lat=point.raw_lat,
        accuracy_m=point.accuracy_m,
        distance_m=round(distance, 1),
        far_from_household=distance > settings().visit_max_distance_m,
        note=(data.get("note") or "").strip() or None,
    )
    if photo is not None:
        _attach_photo(visit, photo, home_lon, home_lat)
    if household.last_visited_at is None or visited_at > household.last_visited_at:
        household.last_visited_at = visited_at
    db.session.add(visit)
    db.session.flush()
    return visit


def _attach_photo(visit: Visit, data: bytes, lon: float, lat: float) -> None:
    from server.photos import PhotoRejected, corroboration_distance_m, limits_from_settings, process_photo

    try:
        clean = process_photo(data, limits_from_settings(current_app.config["GRID"]))
    except PhotoRejected as rejected:
        raise rejected.to_problem() from None
    store = photo_store()
    store.put(clean.sha256, clean.data, clean.mime)
    store.put(clean.thumb_sha256, clean.thumb, "image/jpeg")
    visit.photo_sha256, visit.photo_thumb_sha256, visit.photo_mime = clean.sha256, clean.thumb_sha256, clean.mime
    distance = corroboration_distance_m(clean.exif, lon, lat)
    visit.photo_exif_distance_m = None if distance is None else round(distance, 1)


def visits_of(household: Household, limit: int, offset: int) -> tuple[list[tuple[Visit, str]], int]:
    query = select(Visit, User.name).join(User, User.id == Visit.member_id).where(Visit.household_id == household.id)
    total = db.session.scalar(select(func.count()).where(Visit.household_id == household.id))
    rows = db.session.execute(query.order_by(Visit.visited_at.desc(), Visit.id.desc()).limit(limit).offset(offset))
    return list(rows.all()), total


def visit_view(visit: Visit, member_name: str | None = None) -> dict:
    lon, lat = lonlat(visit.location)
    return {
        "id": visit.id,
        "household_id": visit.household_id,
        "member": {"id": visit.member_id, "name": member_name},
        "grid_code": visit.grid_code,
        "visited_at": visit.visited_at,
        "recorded_at": visit.recorded_at,
        "location": {"lon": lon, "lat": lat, "datum": "wgs84"},
        "source": {
            "lon": visit.raw_lon,
            "lat": visit.raw_lat,
            "datum": visit.source_datum,
            "accuracy_m": visit.accuracy_m,
        },
        "distance_m": visit.distance_m,
        "far_from_household": visit.far_from_household,
        "note": visit.note,
        "photo": (
            {"sha256": visit.photo_sha256, "thumb_sha256": visit.photo_thumb_sha256, "mime": visit.photo_mime}
            if visit.photo_sha256
            else None
        ),
    }
