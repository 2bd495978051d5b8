"""Draining the outbox: claim due deliveries, send each to its channel, record the outcome, retry with backoff.

The guarantee, exactly:
- Never lost. A delivery row is committed with the change it reports (or not at all), and it stays until a
  channel accepted it or it ran out of attempts (status `dead`, kept and listed by `flask notifications status`).
  A worker that dies holding a delivery leaves a lease that expires (GRID_NOTIFY_LEASE_SECONDS); any worker then
  takes it again.
- Never sent twice to a channel that accepted it -- except in one window: the channel accepted (2xx) and the worker
  died (or stalled past its lease) before it committed `sent`. The order is claim (commit) -> send -> record
  (commit), so that window cannot be closed from our side: no system can atomically commit its own row and
  another server's receipt. Delivery is therefore at-least-once, and every request carries the delivery id
  (X-Grid-Delivery header; `delivery_id` in the webhook body): a receiver that deduplicates on it gets
  exactly-once EFFECT. Our webhook receivers must do that. The DingTalk and WeCom robots cannot, so in that
  window a group may see a message twice; that is the honest price of not losing one.
- Claiming: `SELECT ... FOR UPDATE SKIP LOCKED` on PostgreSQL, so concurrent workers take different rows; on
  SQLite the claim is a write transaction (BEGIN IMMEDIATE serialises it) and the lease does the rest. A worker
  records an outcome only while it still holds the lease (its token matches), so a worker whose lease expired
  cannot overwrite a newer attempt.
- Failures (no answer, non-2xx, a robot's errcode != 0) are retried after
  min(GRID_NOTIFY_BACKOFF_MAX_SECONDS, GRID_NOTIFY_BACKOFF_SECONDS x 2^(attempt-1)), spread +-20 % per delivery,
  up to GRID_NOTIFY_MAX_ATTEMPTS attempts.
Logs name the delivery id, channel id, kind and outcome only: never URLs (robot tokens), secrets or content.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import and_, or_, select, update

from server.areas.models import utcnow
from server.extensions import db
from server.notifications.channels import build, judge, send
from server.notifications.models import NotificationChannel, OutboxDelivery

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Claimed:
    id: int
    token: str
    attempts: int
    channel_id: int
    kind: str
    url: str
    secret: str | None
    payload: dict


def backoff_seconds(attempts: int, delivery_id: int, settings) -> float:
    """The wait before attempt `attempts + 1`: exponential, capped, spread by a fixed per-delivery factor."""
    base = min(settings.notify_backoff_max_seconds, settings.notify_backoff_seconds * 2 ** max(0, attempts - 1))
    spread = 0.8 + 0.4 * ((delivery_id * 2654435761) % 1000) / 1000
    return base * spread


def claim(now: datetime, limit: int, lease_seconds: float) -> list[Claimed]:
    """Lease up to `limit` due deliveries to this worker (committed), oldest first."""
    due = or_(
        and_(OutboxDelivery.status == "pending", OutboxDelivery.next_attempt_at <= now),
        and_(OutboxDelivery.status == "sending", OutboxDelivery.lease_until < now),
    )
    query = (
        select(OutboxDelivery, NotificationChannel)
        .join(NotificationChannel, NotificationChannel.id == OutboxDelivery.channel_id)
        .where(due)
        .order_by(OutboxDelivery.id)
        .limit(limit)
    )
    if db.engine.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=OutboxDelivery)
    claimed = []
    for row, channel in db.session.execute(query).all():
        if not channel.active:
            row.status, row.last_error, row.lease_until = "dead", "channel removed", None
            continue
        token = str(uuid.uuid4())
        row.status, row.lease_token, row.attempts = "sending", token, row.attempts + 1
        row.lease_until = now + timedelta(seconds=lease_seconds)
        claimed.append(
            Claimed(row.id, token, row.attempts, channel.id, channel.kind, channel.url, channel.secret, row.payload)
        )
    db.session.commit()
    return claimed


def record(item: Claimed, error: str | None, now: datetime, settings) -> str:
    """Store the outcome of one attempt, if this worker still holds the lease. Commits."""
    still_mine = and_(OutboxDelivery.id == item.id, OutboxDelivery.lease_token == item.token)
    if error is None:
        values = {"status": "sent", "sent_at": now, "last_error": None}
        outcome = "sent"
    elif item.attempts >= settings.notify_max_attempts:
        values = {"status": "dead", "last_error": error[:300]}
        outcome = "dead"
    else:
        delay = backoff_seconds(item.attempts, item.id, settings)
        values = {"status": "pending", "next_attempt_at": now + timedelta(seconds=delay), "last_error": error[:300]}
        outcome = "retry"
    values |= {"lease_until": None, "lease_token": None}
    result = db.session.execute(
        update(OutboxDelivery).where(still_mine).values(**values).execution_options(synchronize_session=False)
    )
    db.session.commit()
    if result.rowcount != 1:
        outcome = "lease-lost"
    log.info("delivery %s channel %s (%s) attempt %s: %s", item.id, item.channel_id, item.kind, item.attempts, outcome)
    return outcome


def deliver_pending(limit: int = 50, clock: Callable[[], datetime] = utcnow) -> Counter:
    """One round: claim up to `limit` due deliveries and attempt each once. Returns the outcomes."""
    settings = current_app.config["GRID"]
    outcomes: Counter = Counter()
    for item in claim(clock(), limit, settings.notify_lease_seconds):
        outgoing = build(item.kind, item.url, item.secret, item.payload, item.id, clock())
        status, body = send(outgoing, settings.notify_timeout_seconds)
        outcomes[record(item, judge(item.kind, status, body), clock(), settings)] += 1
    return outcomes


def status_counts() -> dict[str, int]:
    from sqlalchemy import func

    rows = db.session.execute(select(OutboxDelivery.status, func.count()).group_by(OutboxDelivery.status)).all()
    return dict(rows)
