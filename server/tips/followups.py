"""Intake's follow-up work, done by the worker (server.worker) a moment after the tip was written: link the
possibly related tips, then notify the queue. Rows of tip_followups are written with the tip, in its transaction
(a transactional outbox), so a tip is followed up exactly once even if the worker was down when it came in.

Tips are followed up in the order they came in, and each links only to earlier tips: the same links as if it
had been done at intake, whatever the worker's delay.
"""

from __future__ import annotations

from sqlalchemy import func, select

from server.areas.models import utcnow
from server.extensions import db
from server.geo.sql import is_spatialite
from server.notifications.services import notify
from server.tips.models import Tip, TipFollowup
from server.tips.related import link_related


def claim_oldest(model, order, limit: int) -> list:
    """The oldest `limit` rows of a worker queue, locked for this transaction; on PostgreSQL rows another worker
    holds are skipped (FOR UPDATE SKIP LOCKED), so several workers share the queue. SQLite has one writer."""
    query = select(model).order_by(order).limit(limit)
    if not is_spatialite():
        query = query.with_for_update(skip_locked=True)
    return list(db.session.scalars(query))


def run_followups(limit: int = 100) -> int:
    """Follow up to `limit` waiting tips in one transaction (the caller commits). Returns how many."""
    done = 0
    for followup in claim_oldest(TipFollowup, TipFollowup.tip_id, limit):
        tip, lon, lat = db.session.execute(
            select(Tip, func.ST_X(Tip.location), func.ST_Y(Tip.location)).where(Tip.id == followup.tip_id)
        ).one()
        link_related(tip, lon, lat)
        notify(tip, "dispatched", "queue", actor_id=None, now=utcnow())
        db.session.delete(followup)
        done += 1
    db.session.flush()
    return done


def waiting() -> int:
    return db.session.scalar(select(func.count()).select_from(TipFollowup))
