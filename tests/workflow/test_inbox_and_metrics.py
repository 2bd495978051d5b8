"""The inbox's deadlines and overdue filter, and the case metrics (figures worked out by hand)."""

from __future__ import annotations

from datetime import timedelta

from server.areas.models import utcnow
from tests.areas.helpers import assert_problem
from tests.workflow.helpers import act, file_tip, restart_clock, set_state, utc


def ids(response) -> list[int]:
    return [t["id"] for t in response.get_json()["items"]]


def test_the_inbox_shows_deadlines_and_filters_overdue(client, headers, demo_areas):
    fresh = file_tip(client, headers["member"], demo_areas["grid"])
    late_accept = file_tip(client, headers["member"], demo_areas["grid"])
    late_resolve = file_tip(client, headers["member"], demo_areas["grid"])
    restart_clock(late_accept, utcnow() - timedelta(days=5))
    restart_clock(late_resolve, utcnow() - timedelta(days=30))
    act(client, headers["chief"], late_resolve, "accept")
    page = client.get("/api/v1/tips", headers=headers["chief"]).get_json()
    by_id = {t["id"]: t["deadlines"] for t in page["items"]}
    assert by_id[fresh]["overdue"] is False and by_id[fresh]["accept_due_at"] and by_id[fresh]["resolve_due_at"]
    assert by_id[late_accept]["accept_overdue"] is True and by_id[late_accept]["overdue"] is True
    assert by_id[late_resolve]["accept_overdue"] is False
    assert by_id[late_resolve]["resolve_overdue"] is True and by_id[late_resolve]["accepted_at"]
    assert "timeline" not in page["items"][0] and "allowed_actions" not in page["items"][0]  # detail only
    assert sorted(ids(client.get("/api/v1/tips?overdue=true", headers=headers["chief"]))) == sorted(
        [late_accept, late_resolve]
    )
    assert ids(client.get("/api/v1/tips?overdue=false", headers=headers["chief"])) == [fresh]
    overdue = client.get("/api/v1/tips?overdue=true&status=dispatched", headers=headers["chief"]).get_json()
    assert ids_of(overdue) == [late_accept] and overdue["total"] == 1 and overdue["counts"]["dispatched"] == 2
    soonest = ids(client.get("/api/v1/tips?sort=accept_due_at", headers=headers["chief"]))
    assert soonest[0] == late_resolve and soonest[-1] == fresh
    assert client.get("/api/v1/tips?sort=description", headers=headers["chief"]).status_code == 422


def ids_of(body) -> list[int]:
    return [t["id"] for t in body["items"]]


def test_the_inbox_page_counts_still_add_up(client, headers, demo_areas):
    for _ in range(3):
        file_tip(client, headers["member"], demo_areas["grid"])
    page = client.get("/api/v1/tips?limit=2", headers=headers["township"]).get_json()
    assert page["total"] == 3 == sum(page["counts"].values()) and len(page["items"]) == 2


def setup_metrics(client, headers, demo_areas) -> dict:
    g, member = demo_areas, headers["member"]
    t = {
        name: file_tip(client, member, g[grid])
        for name, grid in [
            ("t1", "grid"),
            ("t2", "grid"),
            ("t3", "sibling_grid"),
            ("t4", "sibling_grid"),
            ("t5", "grid"),
            ("t6", "grid"),
        ]
    }
    t["t7"] = file_tip(client, member, g["grid"], implicates_official=True)
    set_state(
        t["t1"],
        "closed",
        clock_started_at=utc("2026-11-02 09:00"),
        accepted_at=utc("2026-11-02 11:00"),
        resolved_at=utc("2026-11-03 09:00"),
        closed_at=utc("2026-11-03 10:00"),
        resolve_due_at=utc("2026-11-16 09:00"),
    )
    set_state(
        t["t2"],
        "in_progress",
        clock_started_at=utc("2026-11-03 09:00"),
        accepted_at=utc("2026-11-03 13:30"),
        resolve_due_at=utc("2026-11-17 09:00"),
    )
    set_state(
        t["t3"],
        "closed",
        clock_started_at=utc("2026-11-04 09:00"),
        postponements=1,
        resolve_due_at=utc("2026-11-20 09:00"),
        closed_at=utc("2026-11-19 09:00"),
    )
    set_state(
        t["t4"],
        "closed",
        clock_started_at=utc("2026-11-05 09:00"),
        resolve_due_at=utc("2026-11-19 09:00"),
        closed_at=utc("2026-11-25 09:00"),
    )
    set_state(t["t5"], "dismissed", clock_started_at=utc("2026-11-05 09:00"), resolve_due_at=utc("2026-11-19 09:00"))
    set_state(
        t["t6"],
        "closed",
        clock_started_at=utc("2026-10-01 09:00"),
        resolve_due_at=utc("2026-11-10 09:00"),
        closed_at=utc("2026-11-09 09:00"),
    )
    set_state(t["t7"], "dispatched", clock_started_at=utc("2026-11-06 09:00"), resolve_due_at=utc("2026-12-20 09:00"))
    return t


PERIOD = "since=2026-11-02T00:00:00%2B08:00&until=2026-11-28T00:00:00%2B08:00"


def test_metrics_for_a_township(client, headers, demo_areas):
    setup_metrics(client, headers, demo_areas)
    body = client.get(f"/api/v1/tips/metrics?area={demo_areas['township']}&{PERIOD}", headers=headers["township"])
    assert body.status_code == 200, body.get_json()
    m = body.get_json()
    totals = m["totals"]
    assert (totals["opened"], totals["closed"], totals["closure_rate"]) == (5, 3, 0.6)
    assert (totals["due"], totals["postponed"], totals["closed_on_time"], totals["on_time_rate"]) == (5, 1, 2, 0.5)
    assert totals["avg_accept_hours"] == 2.5 and totals["avg_resolve_hours"] == 7.5
    assert totals["by_status"] == {"closed": 3, "dispatched": 1, "in_progress": 1}
    assert totals["overdue_now"] == 1  # t2: in progress past its resolve deadline
    grids = {r["code"]: r for r in m["grids"]}
    a, b = grids[demo_areas["grid"]], grids[demo_areas["sibling_grid"]]
    assert (a["opened"], a["closed"], a["due"], a["closed_on_time"], a["on_time_rate"]) == (3, 1, 3, 2, 0.6667)
    assert (b["opened"], b["closed"], b["closure_rate"], b["due"], b["postponed"], b["on_time_rate"]) == (
        2,
        2,
        1.0,
        2,
        1,
        0.0,
    )
    assert [r["code"] for r in m["townships"]] == [demo_areas["township"]] and m["townships"][0]["opened"] == 5
    assert m["area"]["level"] == "township" and a["name"]


def test_metrics_for_a_chief_leave_out_what_he_may_not_see(client, headers, demo_areas):
    setup_metrics(client, headers, demo_areas)
    m = client.get(f"/api/v1/tips/metrics?area={demo_areas['grid']}&{PERIOD}", headers=headers["chief"]).get_json()
    totals = m["totals"]
    assert (totals["opened"], totals["closed"], totals["closure_rate"]) == (2, 1, 0.5)  # t7 is a conflict tip
    assert (totals["due"], totals["closed_on_time"], totals["on_time_rate"]) == (3, 2, 0.6667)
    assert [g["code"] for g in m["grids"]] == [demo_areas["grid"]]
    township = client.get(f"/api/v1/tips/metrics?area={demo_areas['township']}", headers=headers["chief"])
    assert_problem(township, 404, "not-found")
    other = client.get(f"/api/v1/tips/metrics?area={demo_areas['township']}", headers=headers["other_township"])
    assert_problem(other, 404, "not-found")
    assert client.get("/api/v1/tips/metrics", headers=headers["chief"]).status_code == 422
    assert client.get(f"/api/v1/tips/metrics?area={demo_areas['grid']}", headers=headers["member"]).status_code == 403


def test_metrics_with_nothing_in_the_period_are_null_rates(client, headers, demo_areas):
    m = client.get(f"/api/v1/tips/metrics?area={demo_areas['county']}", headers=headers["county"]).get_json()
    assert m["totals"]["opened"] == 0 and m["totals"]["closure_rate"] is None and m["totals"]["on_time_rate"] is None
