"""The escalation ladder on a frozen clock (`now` passed in), across a weekend, a holiday and a make-up Saturday.

The moments are worked out by hand (see test_calendar.py for the arithmetic): vice.gambling has 8 working hours to
be accepted, the early warning is at 75 % (6 h). New Year 2027 here: Thu 31 Dec and Fri 1 Jan off, Sat 2 Jan worked.
"""

from __future__ import annotations

from collections import Counter

import pytest
from click.testing import Result
from sqlalchemy import func, select

from server.extensions import db
from server.notifications.models import Notification
from server.tips.models import Tip
from server.workflow.escalation import run_escalation
from tests.workflow.helpers import act, events, file_tip, restart_clock, utc


@pytest.fixture
def new_year(app, monkeypatch):
    settings = app.config["GRID"]
    changed = {"holidays": "2026-12-31..2027-01-01", "makeup_workdays": "2027-01-02"}
    monkeypatch.setitem(app.config, "GRID", type(settings)(**{**settings.__dict__, **changed}))


def steps(now) -> dict:
    taken = run_escalation(utc(now))
    return {k: v for k, v in taken.items() if k != "none"}


def inbox_kinds(user) -> list[str]:
    query = select(Notification.kind).where(Notification.user_id == user.id).order_by(Notification.id)
    return list(db.session.scalars(query))


def tip_row(tip_id) -> Tip:
    """The tip as the database has it now (its timestamps come back UTC-aware on both backends)."""
    db.session.expire_all()
    return db.session.get(Tip, tip_id)


def test_the_ladder_from_chief_to_township_to_county(new_year, client, cast, headers, demo_areas):
    tip = file_tip(client, headers["member"], demo_areas["grid"])
    restart_clock(tip, utc("2026-12-30 16:00"))
    row = tip_row(tip)
    assert row.accept_due_at == utc("2027-01-02 16:30") and row.warn_at == utc("2027-01-02 14:30")
    assert row.resolve_due_at == utc("2027-01-14 16:00")

    assert steps("2027-01-02 14:29") == {}
    assert steps("2027-01-02 14:30") == {"early_warning": 1}
    assert steps("2027-01-02 14:30") == {} and steps("2027-01-02 16:29") == {}  # once per step
    assert inbox_kinds(cast["chief"]) == ["dispatched", "early_warning"]
    assert inbox_kinds(cast["deputy"]) == ["dispatched", "early_warning"]

    assert steps("2027-01-02 16:30") == {"escalated": 1}
    row = tip_row(tip)
    assert (row.status, row.queue_kind, row.queue_area_code) == ("escalated", "township", demo_areas["township"])
    assert row.escalation_level == 1 and row.assignee_user_id is None
    assert row.accept_due_at == utc("2027-01-04 17:00") and row.warn_at == utc("2027-01-04 15:00")
    assert row.resolve_due_at == utc("2027-01-14 16:00")  # escalation does not buy time
    assert steps("2027-01-02 16:30") == {}
    assert inbox_kinds(cast["township"]) == ["escalated"] and inbox_kinds(cast["township2"]) == ["escalated"]
    assert inbox_kinds(cast["other_township"]) == []

    assert steps("2027-01-04 15:00") == {"early_warning": 1}
    assert steps("2027-01-04 17:00") == {"escalated": 1}
    row = tip_row(tip)
    assert (row.queue_kind, row.queue_area_code, row.escalation_level) == ("county", demo_areas["county"], 2)
    assert row.accept_due_at == utc("2027-01-05 17:30") and row.warn_at == utc("2027-01-05 15:30")
    assert inbox_kinds(cast["county"]) == ["escalated"]

    assert steps("2027-01-05 15:29") == {}
    assert steps("2027-01-05 15:30") == {"early_warning": 1}
    assert steps("2027-01-05 17:30") == {"accept_overdue": 1}
    assert steps("2027-01-10 09:00") == {} and tip_row(tip).next_check_at is None
    assert inbox_kinds(cast["county"]) == ["escalated", "early_warning", "accept_overdue"]
    assert [e[0] for e in events(tip)] == [
        "dispatch",
        "early_warning",
        "escalate",
        "early_warning",
        "escalate",
        "early_warning",
        "overdue",
    ]
    view = client.get(f"/api/v1/tips/{tip}", headers=headers["county"]).get_json()
    assert view["timeline"][2]["details"]["automatic"] is True and view["timeline"][2]["actor"] is None


def test_a_late_run_escalates_without_a_late_warning(new_year, client, cast, headers, demo_areas):
    tip = file_tip(client, headers["member"], demo_areas["grid"])
    restart_clock(tip, utc("2026-12-30 16:00"))
    assert steps("2027-01-02 17:00") == {"escalated": 1}  # the worker was down through warning and deadline
    assert inbox_kinds(cast["chief"]) == ["dispatched"]
    assert tip_row(tip).accept_due_at == utc("2027-01-04 17:30")  # a fresh window from the escalation


def test_acceptance_stops_the_ladder(new_year, client, cast, headers, demo_areas):
    tip = file_tip(client, headers["member"], demo_areas["grid"])
    restart_clock(tip, utc("2026-12-30 16:00"))
    assert steps("2027-01-02 14:30") == {"early_warning": 1}
    assert act(client, headers["chief"], tip, "accept").status_code == 200
    row = tip_row(tip)
    assert row.next_check_at == utc("2027-01-14 16:00")  # now only the resolve deadline is watched
    assert steps("2027-01-02 16:30") == {} and steps("2027-01-14 15:59") == {}
    assert steps("2027-01-14 16:00") == {"resolve_overdue": 1}
    assert steps("2027-01-20 09:00") == {}
    assert inbox_kinds(cast["chief"])[-1] == "resolve_overdue"


def test_urgent_categories_count_around_the_clock(client, cast, headers, demo_areas):
    tip = file_tip(client, headers["member"], demo_areas["grid"], category="gang.village_bully")
    restart_clock(tip, utc("2026-12-04 20:00"))  # Friday night
    row = tip_row(tip)
    assert row.accept_due_at == utc("2026-12-04 22:00") and row.warn_at == utc("2026-12-04 21:30")
    assert row.resolve_due_at == utc("2026-12-14 20:00")
    assert steps("2026-12-04 21:30") == {"early_warning": 1}
    assert steps("2026-12-04 22:00") == {"escalated": 1}
    assert tip_row(tip).accept_due_at == utc("2026-12-05 00:00")  # Saturday midnight: no weekend for urgent cases
    view = client.get(f"/api/v1/tips/{tip}", headers=headers["township"]).get_json()
    assert view["deadlines"]["clock"] == "urgent_24x7"


def test_a_conflict_tip_climbs_the_discipline_ladder(new_year, client, cast, headers, demo_areas):
    tip = file_tip(client, headers["member"], demo_areas["grid"], implicates_official=True)
    restart_clock(tip, utc("2026-12-30 16:00"))
    assert tip_row(tip).escalation_level == 1  # it starts at the township's discipline queue
    steps("2027-01-02 14:30")
    steps("2027-01-02 16:30")
    row = tip_row(tip)
    assert row.queue_kind == "county_discipline" and row.escalation_level == 2
    for who in ("chief", "deputy"):
        assert inbox_kinds(cast[who]) == []
    assert inbox_kinds(cast["custodian"]) == ["dispatched", "early_warning", "escalated"]
    assert inbox_kinds(cast["county"]) == ["escalated"]


def test_the_cli_takes_a_frozen_now(new_year, app, client, headers, demo_areas):
    tip = file_tip(client, headers["member"], demo_areas["grid"])
    restart_clock(tip, utc("2026-12-30 16:00"))
    runner = app.test_cli_runner()
    result: Result = runner.invoke(args=["tips", "escalate", "--now", "2027-01-02T16:30:00+08:00"])
    assert result.exit_code == 0, result.output
    assert "escalated=1" in result.output
    assert "nothing due" in runner.invoke(args=["tips", "escalate", "--now", "2027-01-02T16:31:00+08:00"]).output
    assert runner.invoke(args=["tips", "escalate", "--now", "2027-01-02T16:31:00"]).exit_code != 0  # no offset
    counts = Counter(db.session.scalars(select(Notification.kind)))
    assert counts["escalated"] == 2  # the two township officers
    assert db.session.scalar(select(func.count()).select_from(Tip).where(Tip.status == "escalated")) == 1
