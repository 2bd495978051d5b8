"""The inbox badge from tip_status_counts (migration 0010): tips per status among the ordinary tips in scope.

The triggers on tips append +n/-n rows; `badge` sums them over the viewer's scope (the same clause as
server.tips.visibility uses for tips), and `compact` -- run by the worker every escalation interval -- folds them
into one row per key, so that the table stays a few rows per grid and status.
"""

from __future__ import annotations

from collections import Counter

from sqlalchemy import delete, func, insert, select

from server.extensions import db
from server.tips.models import TipStatusCount
from server.tips.visibility import visible_ordinary


def badge(user) -> dict[str, int]:
    """Ordinary (not conflict-of-interest) tips per status that this account may see."""
    query = (
        select(TipStatusCount.status, func.sum(TipStatusCount.n))
        .where(visible_ordinary(user, TipStatusCount))
        .group_by(TipStatusCount.status)
    )
    return {status: int(n) for status, n in db.session.execute(query) if n}


def compact() -> int:
    """Fold the rows into one per key; returns how many rows were folded (the caller commits). The rows folded are
    exactly those deleted (DELETE ... RETURNING): a row committed meanwhile by another transaction is either deleted
    and counted here, or left for next time, never lost."""
    last = db.session.scalar(select(func.max(TipStatusCount.id)))
    if last is None:
        return 0
    key = (TipStatusCount.area_code, TipStatusCount.conflict, TipStatusCount.status)
    folded = db.session.execute(
        delete(TipStatusCount).where(TipStatusCount.id <= last).returning(*key, TipStatusCount.n)
    )
    totals: Counter = Counter()
    rows = 0
    for area_code, conflict, status, n in folded:
        totals[(area_code, conflict, status)] += n
        rows += 1
    kept = [{"area_code": a, "conflict": c, "status": s, "n": n} for (a, c, s), n in sorted(totals.items()) if n]
    if kept:
        db.session.execute(insert(TipStatusCount), kept)
    return rows
