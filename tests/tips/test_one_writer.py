"""JSON intake (accepted into the intake journal, written by the worker) and multipart intake (photos, written at
once) share one writer (server.tips.writer): the same tip filed both ways leaves the same rows."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import func, select

from server.extensions import db
from server.tips import intake
from server.tips.models import Tip, TipCategory, TipEvent, TipExclusion, TipFollowup, TipPhoto, TipReporter
from server.workflow.deadlines import initial_clock
from tests.tips.helpers import grid_point, jpeg_bytes, payload, post_tip

# Columns that legitimately differ between two filings of the same tip.
TIP_OWN = {"id", "submitted_at", "dispatched_at", "clock_started_at", "accept_due_at", "resolve_due_at", "warn_at"}
TIP_OWN |= {"next_check_at"}
REPORTER_OWN = {"tip_id", "receipt_code", "secret_hash"}
EVENT_OWN = {"id", "tip_id", "at"}


def tip_row(tip_id: int) -> dict:
    table = Tip.__table__
    columns = [c for c in table.c if c.name != "location"]
    row = db.session.execute(
        select(*columns, func.ST_X(table.c.location).label("lon"), func.ST_Y(table.c.location).label("lat")).where(
            table.c.id == tip_id
        )
    ).one()
    return dict(row._mapping)


def rows(model, tip_id: int) -> list[dict]:
    table = model.__table__
    query = select(table).where(table.c.tip_id == tip_id).order_by(*table.primary_key.columns)
    return [dict(r._mapping) for r in db.session.execute(query)]


def without(row: dict, keys: set[str]) -> dict:
    return {k: v for k, v in row.items() if k not in keys}


def file_both_ways(client, headers, body, path="/api/v1/tips") -> tuple[int, int]:
    as_json = post_tip(client, headers, body, path=path, follow_up=False)
    as_multipart = post_tip(client, headers, body, path=path, photos=[("IMG_1.jpg", jpeg_bytes())], follow_up=False)
    assert (as_json.status_code, as_multipart.status_code) == (202, 201), (as_json.get_json(), as_multipart.get_json())
    first, second = as_json.get_json(), as_multipart.get_json()
    assert first["id"] != second["id"]
    assert len(second["photos"]) == 1 and not first.get("photos")
    return first["id"], second["id"]


@pytest.fixture
def people(make_user, demo_areas):
    return (
        make_user("member", demo_areas["grid"]),
        make_user("grid_chief", demo_areas["village"], grids=[demo_areas["grid"]]),
        make_user("grid_chief", demo_areas["village"], grids=[demo_areas["grid"]], kind="deputy"),
    )


@pytest.mark.parametrize(
    "variant",
    ["signed in", "signed in, gcj02, anonymous to handlers", "signed in, implicates an official", "anonymous channel"],
)
def test_json_and_multipart_write_the_same_rows(app, client, people, auth_headers, demo_areas, variant):
    member, chief, deputy = people
    lon, lat = grid_point(demo_areas["grid"])
    headers, path, body = auth_headers(member), "/api/v1/tips", payload(lon, lat)
    if variant == "signed in, gcj02, anonymous to handlers":
        body = payload(lon, lat, datum_name="gcj02", anonymous=True)
    elif variant == "signed in, implicates an official":
        body = payload(lon, lat, implicates_official=True)
    elif variant == "anonymous channel":
        headers, path = {}, "/api/v1/tips/anonymous"

    json_id, multipart_id = file_both_ways(client, headers, body, path)
    settings, category = app.config["GRID"], db.session.get(TipCategory, body["category"])

    a, b = tip_row(json_id), tip_row(multipart_id)
    assert without(a, TIP_OWN) == without(b, TIP_OWN)
    for row in (a, b):  # each tip's own clock, started when it came in
        clock = initial_clock(settings, category, row["queue_kind"], "dispatched", row["submitted_at"])
        assert {k: row[k] for k in clock} == clock
        assert row["dispatched_at"] == row["submitted_at"]

    reporters = rows(TipReporter, json_id), rows(TipReporter, multipart_id)
    assert len(reporters[0]) == len(reporters[1]) == 1
    assert without(reporters[0][0], REPORTER_OWN) == without(reporters[1][0], REPORTER_OWN)
    events = rows(TipEvent, json_id), rows(TipEvent, multipart_id)
    assert [without(e, EVENT_OWN) for e in events[0]] == [without(e, EVENT_OWN) for e in events[1]]
    assert len(events[0]) == 1 and events[0][0]["action"] == "dispatch"
    exclusions = rows(TipExclusion, json_id), rows(TipExclusion, multipart_id)
    assert [e["user_id"] for e in exclusions[0]] == [e["user_id"] for e in exclusions[1]]
    assert db.session.get(TipFollowup, json_id) is not None and db.session.get(TipFollowup, multipart_id) is not None
    assert rows(TipPhoto, json_id) == [] and len(rows(TipPhoto, multipart_id)) == 1

    # and the variant is what it says (so that the comparison above compared something)
    tip = db.session.get(Tip, json_id)
    reporter = reporters[0][0]
    if variant == "signed in":
        assert tip.assignee_user_id == chief.id and not tip.anonymous and reporter["user_id"] == member.id
    elif variant == "signed in, gcj02, anonymous to handlers":
        assert tip.source_datum == "gcj02" and tip.anonymous and reporter["user_id"] is None
        assert reporter["receipt_code"] and reporters[1][0]["receipt_code"] != reporter["receipt_code"]
    elif variant == "signed in, implicates an official":
        assert tip.conflict and tip.assignee_user_id is None
        assert sorted(e["user_id"] for e in exclusions[0]) == sorted([chief.id, deputy.id])
    else:
        assert tip.anonymous and tip.reporter_role == "public" and reporter["user_id"] is None
        assert reporter["device_hash"] == body["client"]["device_hash"]


def test_a_key_taken_between_read_and_write_replays(client, make_user, auth_headers, demo_areas, monkeypatch):
    """PostgreSQL reads outside any lock: a request with the same key can commit between intake's read and its
    write. The insert of the key then fails as not unique, and the caller gets the winner's answer, not a 500 and
    not a second tip. (Forced here by hiding the winner from the read.)"""
    member = make_user("member", demo_areas["grid"])
    body = payload(*grid_point(demo_areas["grid"]))
    first = post_tip(client, auth_headers(member), body, key="race-key")
    assert first.status_code == 202
    tips_before = db.session.scalar(select(func.count(Tip.id)))
    real_read = intake.read_intake
    monkeypatch.setattr(intake, "read_intake", lambda *a, **k: dataclasses.replace(real_read(*a, **k), earlier=None))
    second = post_tip(client, auth_headers(member), body, key="race-key")
    assert second.status_code == 202 and second.get_json() == first.get_json()
    assert db.session.scalar(select(func.count(Tip.id))) == tips_before
    changed = post_tip(client, auth_headers(member), body | {"description": "another"}, key="race-key")
    assert changed.status_code == 422 and changed.get_json()["type"] == "/problems/idempotency-key-reused"
