"""Tip intake: validate, convert the datum, route, store content and identity apart.

Two ways in, one writer (server.tips.intake_sql.write_tip):
- JSON (the common case, and the hot path of issue 4): one transaction, two database round trips, no ORM. The
  idempotency record is written with the tip, so a retry that waited on the first request gets its answer.
- multipart with photos: the key is claimed first (committed), because cleaning photos takes 100 ms or more and a
  retry meanwhile must get 409, not a second tip; then the same writer, then the photos through the ORM.
Linking possibly related tips and notifying the queue are left to the worker (server.tips.followups), written in
the same transaction as the tip.

Idempotency (server.idempotency): the fingerprint is the JSON part only, so re-sending the same tip with one more
photo attaches the photo and changes nothing else (the ODK pattern). The submission itself is never written to the
audit log or the timeline with the reporter as actor: that would tie identity to content.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from psycopg.errors import UniqueViolation

from server import idempotency
from server.accounts.tokens import check_token_state, token_state_params
from server.areas.models import utcnow
from server.errors import Problem
from server.extensions import db
from server.geo import datum
from server.rawsql import RawConnection
from server.tips import receipts
from server.tips.intake_sql import Context, read_context, write_tip
from server.tips.models import Tip
from server.tips.photos import attach_photos
from server.tips.routing import Place, Routing, place_of, route
from server.tips.views import submitted_body, submitted_view
from server.workflow.deadlines import initial_clock

CLOCK_SKEW = timedelta(minutes=10)
REPORTER_ROLE_ORDER = ("member", "grid_chief", "township_staff", "county_staff", "custodian", "admin")


@dataclass(frozen=True)
class Reporter:
    user_id: int | None  # None: the public anonymous channel
    role: str  # the reporter's role, shown to handlers instead of the name ("public" for the anonymous channel)


def reporter_role(roles) -> str:
    return next((r for r in REPORTER_ROLE_ORDER if r in roles), "member")


def reporter_for(user) -> Reporter:
    return Reporter(None, "public") if user is None else Reporter(user.id, reporter_role(user.roles))


def caller_of(user_id: int | None, payload: dict) -> str:
    return f"user:{user_id}" if user_id else f"anon:{payload['client'].get('device_hash') or '-'}"


@dataclass(frozen=True)
class Submission:
    """A validated tip, placed on the map (no database yet)."""

    payload: dict
    point: tuple[float, float]  # canonical WGS-84
    place: Place
    now: datetime


def prepare(payload: dict) -> Submission:
    loc = payload["location"]
    lon, lat = datum.to_wgs84(loc["lon"], loc["lat"], loc["datum"])
    now = utcnow()
    _check_occurred_at(payload.get("occurred_at"), now)
    return Submission(payload, (lon, lat), place_of(lon, lat), now)


def submit_json(key: str, claims: dict | None, payload: dict) -> tuple[int, dict]:
    """(status, body) for a JSON tip: `claims` are the verified access token's (None: the anonymous channel)."""
    sub = prepare(payload)
    user_id = token_state_params(claims)["user_id"] if claims else None  # a bad `sub` fails check_token_state
    caller = caller_of(user_id, payload)
    fingerprint = idempotency.fingerprint(payload)
    s = RawConnection()
    ctx = read_context(
        s, claims=claims, caller=caller, key=key, category=payload["category"], grid_code=sub.place.grid_code
    )
    if claims:
        check_token_state(claims, ctx.token_state)
    reporter = Reporter(user_id, reporter_role(ctx.roles)) if claims else Reporter(None, "public")
    if ctx.earlier is not None:
        return _replay_json(ctx.earlier, fingerprint)
    try:
        body, secret = _write(s, sub, ctx, reporter, (caller, key, fingerprint))
    except (UniqueViolation, sqlite3.IntegrityError):
        # PostgreSQL: a request with the same key may have committed between our read and our write (on SQLite the
        # write lock, taken before the read, rules that out). Any other violation is a real error.
        db.session.rollback()
        earlier = idempotency.find(caller, key)
        if earlier is None:
            raise
        return _replay_json(earlier, fingerprint)
    return 201, _with_secret(body, secret)


def submit_with_photos(key: str, reporter: Reporter, payload: dict, photos: list[bytes]) -> tuple[int, dict]:
    """(status, body) for a multipart tip: the key is claimed (and committed) before the slow photo work."""
    sub = prepare(payload)
    claim = idempotency.claim(caller_of(reporter.user_id, payload), key, idempotency.fingerprint(payload))
    if claim.replay is not None:
        return _replay(claim, payload, photos)
    try:
        s = RawConnection()
        ctx = read_context(
            s, claims=None, caller=claim.caller, key=key, category=payload["category"], grid_code=sub.place.grid_code
        )
        _, secret = _write(s, sub, ctx, reporter, None)
        tip = db.session.get(Tip, ctx.tip_id)
        attach_photos(tip, photos, *sub.point)
        body = submitted_view(tip)
        idempotency.complete(claim, 201, body, tip.id)
    except BaseException:
        idempotency.release(claim)
        raise
    return 201, _with_secret(body, secret)


def _write(s: RawConnection, sub: Submission, ctx: Context, reporter: Reporter, record: tuple | None):
    """Write the tip (and, for JSON, its idempotency record); return (the reporter's answer, receipt secret)."""
    if ctx.category is None:
        raise Problem(
            422,
            "unknown-category",
            f"{sub.payload['category']!r} is not a tip category. GET /api/v1/tips/categories lists them.",
            errors={"category": ["Unknown category."]},
        )
    routing = route(sub.place, ctx.people, conflict=sub.payload["implicates_official"] or ctx.category.conflict)
    tip = _tip_row(sub, ctx, routing, reporter)
    reporter_row, secret = _reporter_row(ctx.tip_id, reporter, tip["anonymous"], sub.payload)
    body = submitted_body(
        ctx.tip_id,
        tip["category_code"],
        sub.now,
        (routing.grid_code, sub.place.grid_name),
        routing.snap_distance_m,
        reporter_row["receipt_code"],
        outside_grids=routing.outside_grids,
    )
    event = {
        "tip_id": ctx.tip_id,
        "at": sub.now,
        "action": "dispatch",
        "from_status": "submitted",
        "to_status": "dispatched",
        "details": {"queue": routing.queue_kind, "area": routing.queue_area_code},
    }
    write_tip(s, tip, reporter_row, set(routing.excluded_user_ids), event, _record(record, body, ctx.tip_id, sub.now))
    return body, secret


def _record(record: tuple | None, body: dict, tip_id: int, now: datetime) -> dict | None:
    if record is None:
        return None
    caller, key, fingerprint = record
    return {
        "caller": caller,
        "key": key,
        "request_hash": fingerprint,
        "state": "done",
        "status_code": 201,
        "response": body,
        "resource_id": tip_id,
        "created_at": now,
    }


def _tip_row(sub: Submission, ctx: Context, routing: Routing, reporter: Reporter) -> dict:
    payload, loc, (lon, lat) = sub.payload, sub.payload["location"], sub.point
    row = {
        "id": ctx.tip_id,
        "category_code": ctx.category.code,
        "description": payload["description"],
        "status": "dispatched",
        "occurred_at": payload.get("occurred_at"),
        "submitted_at": sub.now,
        "location": f"SRID=4326;POINT({lon!r} {lat!r})",
        "source_datum": datum.normalise_datum(loc["datum"]),
        "raw_lon": loc["lon"],
        "raw_lat": loc["lat"],
        "accuracy_m": loc.get("accuracy_m"),
        "generation_id": routing.generation_id,
        "grid_code": routing.grid_code,
        "area_code": routing.area_code,
        "snap_distance_m": routing.snap_distance_m,
        "outside_grids": routing.outside_grids,
        "conflict": routing.conflict,
        "implicates_official": payload["implicates_official"],
        "queue_kind": routing.queue_kind,
        "queue_area_code": routing.queue_area_code,
        "assignee_user_id": routing.assignee_user_id,
        "reporter_role": reporter.role,
        "anonymous": payload["anonymous"] or reporter.user_id is None,
        "app_version": payload["client"].get("app_version"),
        "version": 1,
        "postponements": 0,
    }
    return row | initial_clock(current_app.config["GRID"], ctx.category, routing.queue_kind, "dispatched", sub.now)


def _reporter_row(tip_id: int, reporter: Reporter, anonymous: bool, payload: dict) -> tuple[dict, str | None]:
    """Identity, apart from content. An anonymous tip keeps no account id: only a receipt whose secret is derived."""
    row = {"tip_id": tip_id, "user_id": None, "receipt_code": None, "secret_hash": None}
    row["device_hash"] = payload["client"].get("device_hash")
    if not anonymous:
        return row | {"user_id": reporter.user_id}, None
    code = receipts.new_code()
    secret = receipts.secret_for(code)
    return row | {"receipt_code": code, "secret_hash": receipts.secret_hash(secret)}, secret


def _replay_json(earlier, fingerprint: str) -> tuple[int, dict]:
    idempotency.judge(earlier.state, earlier.request_hash, fingerprint)
    body = earlier.response  # the JSON type hands it back parsed, on both paths
    return earlier.status_code, _with_secret(body, _secret_of(body))


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
    return record.status_code, _with_secret(body, _secret_of(body))


def _secret_of(body: dict) -> str | None:
    return receipts.secret_for(body["receipt"]["code"]) if body.get("receipt") else None


def _with_secret(body: dict, secret: str | None) -> dict:
    if secret is None:
        return body
    return body | {"receipt": body["receipt"] | {"secret": secret}}


def _check_occurred_at(occurred_at, now) -> None:
    if occurred_at is not None and occurred_at > now + CLOCK_SKEW:
        raise Problem(
            422,
            "occurred-in-future",
            "occurred_at is in the future; check the phone's clock.",
            errors={"occurred_at": ["In the future."]},
        )
