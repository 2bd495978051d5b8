"""Tip intake: validate, convert the datum, place on the map, keep content and identity apart.

Two ways in:
- JSON (the common case, and the hot path of issue 4): accept, then route. Intake checks the token's state, the
  idempotency key and the category, and stores the tip in the intake journal with its idempotency record; the
  answer is 202 with the tip's id, its grid (placed in memory) and, for an anonymous tip, its receipt. On
  PostgreSQL that is one statement in autocommit, one round trip (`_accept_at_once`); on SQLite, a read and two
  inserts under the write lock. The worker routes the tip and writes it a moment later (server.tips.materialise),
  in batches: writing a tip touches a dozen indexes and the spatial index, which a phone should not wait for.
- multipart with photos: the key is claimed first (committed), because cleaning photos takes 100 ms or more and a
  retry meanwhile must get 409, not a second tip; then the tip is routed and written at once (the photos need
  it) by the same writer as the worker's (server.tips.writer), and the answer is 201.

Idempotency (server.idempotency): the fingerprint is the JSON part only, so re-sending the same tip with one more
photo attaches the photo and changes nothing else (the ODK pattern). The submission itself is never written to the
audit log or the timeline with the reporter as actor: that would tie identity to content.
"""

from __future__ import annotations

import sqlite3

from psycopg.errors import UniqueViolation

from server import idempotency
from server.accounts.tokens import check_token_state, token_state_params
from server.extensions import db
from server.rawsql import RawConnection
from server.tips import receipts, tip_ids
from server.tips.intake_sql import Category, accept_if_clear, read_for_writing, read_intake, write_intake, write_tips
from server.tips.materialise import materialise
from server.tips.models import Tip
from server.tips.photos import attach_photos
from server.tips.submission import Reporter, Submission, known_category, prepare, reporter_role
from server.tips.views import submitted_body, submitted_view
from server.tips.writer import is_anonymous, reporter_row, routed_rows

ACCEPTED, CREATED = 202, 201


def caller_of(user_id: int | None, payload: dict) -> str:
    return f"user:{user_id}" if user_id else f"anon:{payload['client'].get('device_hash') or '-'}"


def submit_json(key: str, claims: dict | None, payload: dict) -> tuple[int, dict]:
    """(status, body) for a JSON tip: `claims` are the verified access token's (None: the anonymous channel)."""
    sub = prepare(payload)
    user_id = token_state_params(claims)["user_id"] if claims else None  # a bad `sub` fails check_token_state
    caller = caller_of(user_id, payload)
    fingerprint = idempotency.fingerprint(payload)
    try:
        return RawConnection.read_then_write(lambda s: _accept(s, sub, claims, user_id, (caller, key, fingerprint)))
    except (UniqueViolation, sqlite3.IntegrityError):
        # PostgreSQL: a concurrent request with the same key committed first, after our statement took its snapshot
        # (on SQLite the write lock, taken before the read, rules that out). Any other violation is a real error.
        db.session.rollback()
        earlier = idempotency.find(caller, key)
        if earlier is None:
            raise
        return _replay_json(earlier, fingerprint)


def _accept(s: RawConnection, sub: Submission, claims: dict | None, user_id: int | None, request: tuple):
    """Check, then store in the intake journal with the idempotency record (or replay the earlier answer)."""
    if s.is_postgres:
        return _accept_at_once(s, sub, claims, user_id, request)
    caller, key, fingerprint = request
    ctx = read_intake(s, claims=claims, caller=caller, key=key, category=sub.payload["category"])
    category, replay = _judge(ctx, claims, fingerprint, sub.payload["category"])
    if replay is not None:
        return replay
    body, secret, identity, record = _answer(sub, ctx.tip_id, user_id, request)
    write_intake(s, _journal(sub, ctx.tip_id, identity, category, _role(claims, ctx)), record)
    return ACCEPTED, _with_secret(body, secret)


def _accept_at_once(s: RawConnection, sub: Submission, claims: dict | None, user_id: int | None, request: tuple):
    """PostgreSQL: the answer is made first, with an id from this process's block (server.tips.tip_ids), and one
    statement reads what intake checks and writes the tip only if all is clear (ACCEPT_IF_CLEAR). The row it read is
    then judged here as on SQLite: a refusal or a replay is answered from it, and nothing was written for either."""
    caller, key, fingerprint = request
    tip_id = tip_ids.take(s)
    body, secret, identity, record = _answer(sub, tip_id, user_id, request)
    journal = {"tip_id": tip_id, "received_at": sub.now, "identity": identity, **sub.journal_parts()}
    ctx, written = accept_if_clear(s, claims=claims, category=sub.payload["category"], journal=journal, record=record)
    category, replay = _judge(ctx, claims, fingerprint, sub.payload["category"])
    if replay is not None:
        return replay
    if not written:  # the database's test was stricter than ours (a token's version that is not an integer)
        write_intake(s, _journal(sub, tip_id, identity, category, _role(claims, ctx)), record)
    return ACCEPTED, _with_secret(body, secret)


def _judge(ctx, claims: dict | None, fingerprint: str, code: str) -> tuple[Category | None, tuple | None]:
    """Refuse (raise), replay the earlier answer (the second value), or go on with the active category."""
    if claims:
        check_token_state(claims, ctx.token_state)
    if ctx.earlier is not None:
        return None, _replay_json(ctx.earlier, fingerprint)
    return known_category(ctx.category, code), None


def _answer(sub: Submission, tip_id: int, user_id: int | None, request: tuple) -> tuple[dict, str | None, dict, dict]:
    """The 202 answer (without the receipt's secret), the secret, the reporter's identity row, the idempotency
    record."""
    payload, place = sub.payload, sub.place
    identity, secret = reporter_row(tip_id, user_id, is_anonymous(payload, user_id), payload)
    body = submitted_body(
        tip_id,
        payload["category"],
        sub.now,
        (place.grid_code, place.grid_name),
        place.snap_distance_m,
        identity["receipt_code"],
        outside_grids=place.grid_code is None,
        status="submitted",
    )
    return body, secret, identity, _record(request, body, tip_id, sub)


def _role(claims: dict | None, ctx) -> str:
    return reporter_role(ctx.roles) if claims else "public"


def _journal(sub: Submission, tip_id: int, identity: dict, category: Category, role: str) -> dict:
    return {
        "tip_id": tip_id,
        "received_at": sub.now,
        "submission": sub.to_journal(category),
        "reporter": {"role": role, "row": identity},
    }


def submit_with_photos(key: str, reporter: Reporter, payload: dict, photos: list[bytes]) -> tuple[int, dict]:
    """(status, body) for a multipart tip: the key is claimed (and committed) before the slow photo work."""
    sub = prepare(payload)
    claim = idempotency.claim(caller_of(reporter.user_id, payload), key, idempotency.fingerprint(payload))
    if claim.replay is not None:
        return _replay(claim, sub, photos)
    try:
        s = RawConnection()
        ctx = read_for_writing(s, category=payload["category"], grid_code=sub.place.grid_code)
        category = known_category(ctx.category, payload["category"])
        identity, secret = reporter_row(ctx.tip_id, reporter.user_id, is_anonymous(payload, reporter.user_id), payload)
        write_tips(s, [routed_rows(sub, category, ctx.people, ctx.tip_id, reporter, identity)])
        tip = db.session.get(Tip, ctx.tip_id)
        attach_photos(tip, photos, *sub.point)
        body = submitted_view(tip)
        idempotency.complete(claim, CREATED, body, tip.id)
    except BaseException:
        idempotency.release(claim)
        raise
    return CREATED, _with_secret(body, secret)


def _record(request: tuple, body: dict, tip_id: int, sub: Submission) -> dict:
    caller, key, fingerprint = request
    return {
        "caller": caller,
        "key": key,
        "request_hash": fingerprint,
        "state": "done",
        "status_code": ACCEPTED,
        "response": body,
        "resource_id": tip_id,
        "created_at": sub.now,
    }


def _replay_json(earlier, fingerprint: str) -> tuple[int, dict]:
    idempotency.judge(earlier.state, earlier.request_hash, fingerprint)
    body = earlier.response  # the JSON type hands it back parsed, on both paths
    return earlier.status_code, _with_secret(body, _secret_of(body))


def _replay(claim, sub: Submission, photos: list[bytes]) -> tuple[int, dict]:
    """The same tip again. With photos, they are attached (a tip accepted as JSON is written first, if the worker
    has not yet done so) and the stored answer is brought up to date."""
    record = claim.replay
    body = record.response
    if photos:
        materialise(record.resource_id)
        tip = db.session.get(Tip, record.resource_id)
        if attach_photos(tip, photos, *sub.point):
            body = submitted_view(tip)
            idempotency.complete(claim, record.status_code, body, tip.id)
    return record.status_code, _with_secret(body, _secret_of(body))


def _secret_of(body: dict) -> str | None:
    return receipts.secret_for(body["receipt"]["code"]) if body.get("receipt") else None


def _with_secret(body: dict, secret: str | None) -> dict:
    if secret is None:
        return body
    return body | {"receipt": body["receipt"] | {"secret": secret}}
