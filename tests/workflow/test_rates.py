"""The one definition of 按期结案率 (server.workflow.rates), used by both the metrics and the coverage map."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from server.coverage import indicators
from server.extensions import db
from server.tips.models import Tip
from server.workflow import metrics, rates
from tests.workflow.helpers import file_tip, set_state

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
PAST, FUTURE = NOW - timedelta(days=2), NOW + timedelta(days=2)


def _ids(clause, among: list[int]) -> set[int]:
    return set(db.session.scalars(select(Tip.id).where(clause, Tip.id.in_(among))))


def test_each_rule_of_due_postponed_and_on_time(client, headers, demo_areas):
    def tip(status, **values):
        tip_id = file_tip(client, headers["member"], demo_areas["grid"])
        set_state(tip_id, status, **values)
        return tip_id

    on_time = tip("closed", resolve_due_at=PAST, closed_at=PAST - timedelta(hours=1))
    late = tip("closed", resolve_due_at=PAST, closed_at=PAST + timedelta(hours=1))
    postponed = tip("in_progress", resolve_due_at=PAST, postponements=1)
    overdue = tip("in_progress", resolve_due_at=PAST)
    early = tip("closed", resolve_due_at=FUTURE, closed_at=PAST)
    not_yet = tip("in_progress", resolve_due_at=FUTURE)
    left = [tip(status, resolve_due_at=PAST) for status in ("referred", "dismissed", "merged")]
    every = [on_time, late, postponed, overdue, early, not_yet, *left]
    assert _ids(rates.due(NOW), every) == {on_time, late, postponed, overdue, early}
    assert _ids(rates.postponed(NOW), every) == {postponed}
    assert _ids(rates.closed_on_time(NOW), every) == {on_time, early}


def test_metrics_and_coverage_both_count_with_it():
    for module in (indicators, metrics):
        source = inspect.getsource(module)
        for clause in ("rates.due(", "rates.postponed(", "rates.closed_on_time("):
            assert clause in source, f"{module.__name__} no longer uses {clause}"
