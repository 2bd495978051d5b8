"""The inbox badge from tip_status_counts (migration 0010): tips per status among the ordinary tips in scope.

The triggers on tips append +n/-n rows; `badge` sums them over the viewer's scope (the same clause as
server.tips.visibility uses for tips), and `compact` -- run by the worker every escalation interval -- folds them
into one row per key, so that the table stays a few rows per grid and status.
"""

from __future__ import annotations

from collections import Counter

from sqlalchemy import delete, func, insert, select

from server.extensions import db
from server.scope import current_scope
from server.tips.models import Tip, TipExclusion, TipStatusCount
from server.tips.visibility import visible_ordinary


def badge(user) -> dict[str, int]:
    """Ordinary (not conflict-of-interest) tips per status that this account may see."""
    query = (
        select(TipStatusCount.status, func.sum(TipStatusCount.n))
        .where(visible_ordinary(user, TipStatusCount))
        .group_by(TipStatusCount.status)
    )
    return {status: int(n) for status, n in db.session.execute(query) if n}


def conflict_badge(user) -> dict[str, int]:
    """Conflict-of-interest tips per status this account may see, for one that only its own exclusions keep from
    any of them (`conflicts_hidden_only_by_exclusions`): the counters' conflict rows in its scope, less the tips it
    was excluded from (found through tip_exclusions, a handful). Counting the tips one by one against the exclusions
    took 10 ms of the county's inbox page with 5,000 such tips among 100k (scripts/bench/bench_inbox.py)."""
    scope = current_scope()
    in_scope = select(TipStatusCount.status, func.sum(TipStatusCount.n)).where(
        scope.filter(TipStatusCount.area_code), TipStatusCount.conflict.is_(True)
    )
    counts = Counter({status: int(n) for status, n in db.session.execute(in_scope.group_by(TipStatusCount.status))})
    excluded = (
        select(Tip.status, func.count())
        .join(TipExclusion, TipExclusion.tip_id == Tip.id)
        .where(TipExclusion.user_id == user.id, Tip.conflict.is_(True), scope.filter(Tip.area_code))
        .group_by(Tip.status)
    )
    counts.subtract(dict(db.session.execute(excluded).all()))
    return {status: n for status, n in counts.items() if n}


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
