"""The one definition of 按期结案率 (on-time closure rate, DOMAIN.md): closed on time / (due - postponed).

Both the workflow metrics (GET /api/v1/tips/metrics) and the coverage indicators (GET /api/v1/coverage/...) count
with these clauses, so a grid shows the same rate on the map and in the metrics for the same tips:
- due (应结案): a case whose resolve deadline has passed, or that is closed already; dismissed and merged tips are
  not cases, and referred ones (移送, to the police or the discipline commission) left local handling;
- postponed (延期): due, with an approved postponement;
- closed on time (按期结案): due, never postponed, closed no later than its resolve deadline.
Which tips are counted at all (the period) is the caller's: metrics take tips whose deadline falls in the period,
coverage takes tips submitted in its date range.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, or_

from server.tips.models import Tip

NOT_CASES = ("dismissed", "merged", "referred")


def due(now: datetime):
    return and_(
        Tip.status.not_in(NOT_CASES),
        or_(Tip.resolve_due_at <= now, and_(Tip.closed_at.is_not(None), Tip.closed_at <= now)),
    )


def postponed(now: datetime):
    return and_(due(now), Tip.postponements > 0)


def closed_on_time(now: datetime):
    return and_(due(now), Tip.postponements == 0, Tip.status == "closed", Tip.closed_at <= Tip.resolve_due_at)
