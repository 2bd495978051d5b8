"""Idempotent POSTs for phones that are offline and retry (the `Idempotency-Key` header).

- the same key with the same body returns the original response (status and body);
- the same key with a different body: 422 `idempotency-key-reused`;
- the same key while the first request still runs: 409 `request-in-progress`;
- keys are scoped to the caller, so one caller never receives another's response.

The claim is written and committed *before* the work starts, so that a concurrent retry sees it: the request
commits its session once early. That is the one deliberate exception to one-transaction-per-request: the claim
is a lock, not data. The response is stored in the request's second transaction, so the work and its record
commit together; if the work fails, the claim is released and the client can retry. One connection serves the
whole request (a second one would wait on SQLite's write lock held by the first).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import JSON, Integer, String, UniqueConstraint, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from server.areas.models import utcnow
from server.errors import Problem
from server.extensions import db
from server.timestamps import UTCDateTime

MAX_KEY_LENGTH = 200


class IdempotencyRecord(db.Model):
    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("caller", "key", name="uq_idempotency_caller_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    caller: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH))
    request_hash: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(12))  # processing | done
    status_code: Mapped[int | None] = mapped_column(Integer)
    response: Mapped[dict | None] = mapped_column(JSON)
    resource_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


@dataclass(frozen=True)
class Claim:
    caller: str
    key: str
    request_hash: str
    replay: IdempotencyRecord | None = None  # set when the request was already done


def fingerprint(payload) -> str:
    """A stable hash of the request's meaningful content (JSON with sorted keys)."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


def check_key(key: str | None) -> str:
    if not key:
        raise Problem(
            400,
            "idempotency-key-missing",
            "Send an Idempotency-Key header (a UUID made once per tip on the phone) so that retries are safe.",
        )
    if len(key) > MAX_KEY_LENGTH:
        raise Problem(
            400, "idempotency-key-invalid", f"The Idempotency-Key may be at most {MAX_KEY_LENGTH} characters."
        )
    return key


def claim(caller: str, key: str, request_hash: str) -> Claim:
    """Claim the key for this request (committed at once), or find the earlier request that used it."""
    existing = find(caller, key)
    if existing is None:
        try:
            with db.session.begin_nested():
                db.session.add(IdempotencyRecord(caller=caller, key=key, request_hash=request_hash, state="processing"))
            db.session.commit()
            return Claim(caller, key, request_hash)
        except IntegrityError:
            db.session.rollback()
            existing = find(caller, key)
    return _judge(existing, Claim(caller, key, request_hash))


def _judge(existing: IdempotencyRecord, claim_: Claim) -> Claim:
    judge(existing.state, existing.request_hash, claim_.request_hash)
    return Claim(claim_.caller, claim_.key, claim_.request_hash, replay=existing)


def judge(state: str, stored_hash: str, request_hash: str) -> None:
    """Raise unless an earlier request with this key may be replayed for this one: 409 while it still runs,
    422 when it carried a different body."""
    if state == "processing":
        raise Problem(
            409, "request-in-progress", "The first request with this Idempotency-Key is still running; retry shortly."
        )
    if stored_hash != request_hash:
        raise Problem(
            422,
            "idempotency-key-reused",
            "This Idempotency-Key was already used for a different request. Make a new key for a new tip.",
        )


def find(caller: str, key: str) -> IdempotencyRecord | None:
    query = select(IdempotencyRecord).where(IdempotencyRecord.caller == caller, IdempotencyRecord.key == key)
    return db.session.scalar(query.execution_options(populate_existing=True))


def complete(claim_: Claim, status_code: int, response: dict, resource_id: int | None) -> None:
    """Store the response in the request's transaction: it commits with the work, or not at all."""
    db.session.execute(
        update(IdempotencyRecord)
        .where(IdempotencyRecord.caller == claim_.caller, IdempotencyRecord.key == claim_.key)
        .values(state="done", status_code=status_code, response=response, resource_id=resource_id)
    )


def release(claim_: Claim) -> None:
    """Forget a claim whose work failed (after rolling that work back), so that the client may retry."""
    db.session.rollback()
    db.session.execute(
        delete(IdempotencyRecord).where(
            IdempotencyRecord.caller == claim_.caller,
            IdempotencyRecord.key == claim_.key,
            IdempotencyRecord.state == "processing",
        )
    )
    db.session.commit()
