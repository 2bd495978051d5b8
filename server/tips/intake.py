"""Tip intake: validate, convert the datum, route, store content and identity apart, link related tips.

Idempotent (server.idempotency): the fingerprint is the JSON part only, so re-sending the same tip with one
more photo attaches the photo and changes nothing else (the ODK pattern). The submission itself is never
written to the audit log or the timeline with the reporter as actor: that would tie identity to content.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flask import current_app

from server import idempotency
from server.areas.models import utcnow
from server.errors import Problem
from server.extensions import db
from server.geo import datum
from server.notifications.services import notify
from server.tips import receipts
from server.tips.catalogue_service import get_category
from server.tips.models import Tip, TipEvent, TipExclusion, TipReporter
from server.tips.photos import attach_photos
from server.tips.related import link_related
from server.tips.routing import route_tip
from server.tips.views import submitted_view
from server.workflow.deadlines import initial_clock

CLOCK_SKEW = timedelta(minutes=10)


@dataclass(frozen=True)
class Reporter:
    user_id: int | None  # None: the public anonymous channel
    role: str  # the reporter's role, shown to handlers instead of the name ("public" for the anonymous channel)


REPORTER_ROLE_ORDER = ("member", "grid_chief", "township_staff", "county_staff", "custodian", "admin")


def reporter_for(user) -> Reporter:
    if user is None:
        return Reporter(None, "public")
    return Reporter(user.id, next((r for r in REPORTER_ROLE_ORDER if r in user.roles), "member"))


def submit_idempotently(key: str, reporter: Reporter, payload: dict, photos: list[bytes]) -> tuple[int, dict]:
    """(status, body) for POST /tips: the first answer for this caller and key, or a fresh submission."""
    caller = f"user:{reporter.user_id}" if reporter.user_id else f"anon:{payload['client'].get('device_hash') or '-'}"
    claim = idempotency.claim(caller, key, idempotency.fingerprint(payload))
    if claim.replay is not None:
        return _replay(claim, payload, photos)
    try:
        tip, secret = submit_tip(payload, reporter, photos)
        body = submitted_view(tip)
        idempotency.complete(claim, 201, body, tip.id)
    except BaseException:
        idempotency.release(claim)
        raise
    return 201, _with_secret(body, secret)


def _replay(claim, payload: dict, photos: list[bytes]) -> tuple[int, dict]:
    record = claim.replay
    body = record.response
    if photos:
        tip = db.session.get(Tip, record.resource_id)
        loc = payload["location"]
        lon, lat = datum.to_wgs84(loc["lon"], loc["lat"], loc["datum"])
        if attach_photos(tip, photos, lon, lat):
            body = submitted_view(tip)
            idempotency.complete(claim, record.status_code, body, tip.id)
    secret = receipts.secret_for(body["receipt"]["code"]) if body.get("receipt") else None
    return record.status_code, _with_secret(body, secret)


def _with_secret(body: dict, secret: str | None) -> dict:
    if secret is None:
        return body
    return body | {"receipt": body["receipt"] | {"secret": secret}}


def submit_tip(payload: dict, reporter: Reporter, photos: list[bytes]) -> tuple[Tip, str | None]:
    """Write one tip; return it and the receipt secret for an anonymous reporter (else None). Flushes only."""
    category = get_category(payload["category"])
    loc = payload["location"]
    lon, lat = datum.to_wgs84(loc["lon"], loc["lat"], loc["datum"])
    now = utcnow()
    _check_occurred_at(payload.get("occurred_at"), now)
    routing = route_tip(lon, lat, conflict=payload["implicates_official"] or category.conflict)
    tip = _new_tip(payload, category.code, (lon, lat), routing, reporter, now)
    clock = initial_clock(current_app.config["GRID"], category, routing.queue_kind, tip.status, now)
    for name, value in clock.items():
        setattr(tip, name, value)
    db.session.add(tip)
    db.session.flush()
    secret = _store_reporter(tip, reporter, tip.anonymous, payload["client"].get("device_hash"))
    db.session.add_all(TipExclusion(tip_id=tip.id, user_id=u) for u in set(routing.excluded_user_ids))
    db.session.add(
        TipEvent(
            tip_id=tip.id,
            at=now,
            action="dispatch",
            from_status="submitted",
            to_status="dispatched",
            details={"queue": routing.queue_kind, "area": routing.queue_area_code},
        )
    )
    attach_photos(tip, photos, lon, lat)
    link_related(tip, lon, lat)
    db.session.flush()
    # The notification rows (in-app and outbox) commit with the tip or not at all. No actor: never the reporter.
    notify(tip, "dispatched", "queue", actor_id=None, now=now)
    return tip, secret


def _check_occurred_at(occurred_at, now) -> None:
    if occurred_at is not None and occurred_at > now + CLOCK_SKEW:
        raise Problem(
            422,
            "occurred-in-future",
            "occurred_at is in the future; check the phone's clock.",
            errors={"occurred_at": ["In the future."]},
        )


def _new_tip(payload, category_code, point, routing, reporter: Reporter, now) -> Tip:
    loc = payload["location"]
    return Tip(
        category_code=category_code,
        description=payload["description"],
        status="dispatched",
        occurred_at=payload.get("occurred_at"),
        submitted_at=now,
        dispatched_at=now,
        location=f"SRID=4326;POINT({point[0]!r} {point[1]!r})",
        source_datum=datum.normalise_datum(loc["datum"]),
        raw_lon=loc["lon"],
        raw_lat=loc["lat"],
        accuracy_m=loc.get("accuracy_m"),
        generation_id=routing.generation_id,
        grid_code=routing.grid_code,
        area_code=routing.area_code,
        snap_distance_m=routing.snap_distance_m,
        outside_grids=routing.outside_grids,
        conflict=routing.conflict,
        implicates_official=payload["implicates_official"],
        queue_kind=routing.queue_kind,
        queue_area_code=routing.queue_area_code,
        assignee_user_id=routing.assignee_user_id,
        reporter_role=reporter.role,
        anonymous=payload["anonymous"] or reporter.user_id is None,
        app_version=payload["client"].get("app_version"),
    )


def _store_reporter(tip: Tip, reporter: Reporter, anonymous: bool, device_hash: str | None) -> str | None:
    """Identity, apart from content. An anonymous tip keeps no account id: only a receipt whose secret is derived."""
    row = TipReporter(tip_id=tip.id, device_hash=device_hash)
    secret = None
    if anonymous:
        row.receipt_code = receipts.new_code()
        secret = receipts.secret_for(row.receipt_code)
        row.secret_hash = receipts.secret_hash(secret)
    else:
        row.user_id = reporter.user_id
    db.session.add(row)
    return secret
