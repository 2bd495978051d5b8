"""Intake leaves 'possibly related' links and queue notifications to the worker (server.tips.followups, a
transactional outbox in tip_followups): nothing of it at intake, all of it exactly once afterwards."""

from __future__ import annotations

import math

import pytest
from sqlalchemy import func, or_, select

from server.extensions import db
from server.notifications.models import Notification
from server.tips.followups import run_followups, waiting
from server.tips.models import Tip, TipExclusion, TipFollowup, TipLink
from server.worker import Worker
from tests.tips.helpers import grid_point, payload, post_tip
from tests.workflow.live_db import GRID, fresh_database_url, live_app, seed_people


def east_of(point: tuple[float, float], metres: float) -> tuple[float, float]:
    lon, lat = point
    return lon + metres / (111_320 * math.cos(math.radians(lat))), lat


def file(client, headers, point, *, follow_up=False, **extra) -> int:
    response = post_tip(client, headers, payload(*point, **extra), follow_up=follow_up)
    assert response.status_code == 202, response.get_json()
    return response.get_json()["id"]


def links_of(tip_id: int) -> set[tuple[int, int]]:
    rows = db.session.execute(
        select(TipLink.tip_id, TipLink.related_tip_id).where(
            or_(TipLink.tip_id == tip_id, TipLink.related_tip_id == tip_id)
        )
    )
    return {tuple(r) for r in rows}


def notified(tip_id: int) -> list[int]:
    """The users with an in-app notification about the tip (one entry per row: duplicates show)."""
    return sorted(db.session.scalars(select(Notification.user_id).where(Notification.tip_id == tip_id)))


def has_followup(tip_id: int) -> bool:
    return db.session.get(TipFollowup, tip_id) is not None


@pytest.fixture
def people(make_user, demo_areas):
    member = make_user("member", demo_areas["grid"])
    chief = make_user("grid_chief", demo_areas["village"], grids=[demo_areas["grid"]])
    return member, chief


def test_intake_writes_only_the_followup_and_the_worker_links_and_notifies_once(
    client, people, auth_headers, demo_areas
):
    member, chief = people
    headers = auth_headers(member)
    here = grid_point(demo_areas["grid"])
    earlier = file(client, headers, east_of(here, 60), follow_up=True)  # same category, 60 m away
    far = file(client, headers, east_of(here, 1500), follow_up=True)  # same category, too far
    other_kind = file(client, headers, east_of(here, 30), category="vice.drugs", follow_up=True)
    assert waiting() == 0

    tip_id = file(client, headers, here)

    assert db.session.get(Tip, tip_id) is not None
    assert has_followup(tip_id) and waiting() == 1
    assert links_of(tip_id) == set()
    assert notified(tip_id) == []

    assert run_followups() == 1
    db.session.commit()

    assert links_of(tip_id) == {(tip_id, earlier), (earlier, tip_id)}
    distances = db.session.scalars(
        select(TipLink.distance_m).where(or_(TipLink.tip_id == tip_id, TipLink.related_tip_id == tip_id))
    ).all()
    assert all(55 <= d <= 65 for d in distances), distances
    assert links_of(far) == set() and links_of(other_kind) == set()
    assert notified(tip_id) == [chief.id]
    kinds = db.session.scalars(select(Notification.kind).where(Notification.tip_id == tip_id)).all()
    assert kinds == ["dispatched"]
    assert not has_followup(tip_id) and waiting() == 0

    all_links = db.session.scalar(select(func.count()).select_from(TipLink))
    all_notifications = db.session.scalar(select(func.count()).select_from(Notification))
    assert run_followups() == 0
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(TipLink)) == all_links
    assert db.session.scalar(select(func.count()).select_from(Notification)) == all_notifications
    assert links_of(tip_id) == {(tip_id, earlier), (earlier, tip_id)} and notified(tip_id) == [chief.id]


def test_two_tips_waiting_together_link_to_each_other_exactly_once(client, people, auth_headers, demo_areas):
    member, chief = people
    here = grid_point(demo_areas["grid"])
    first = file(client, auth_headers(member), here)
    second = file(client, auth_headers(member), east_of(here, 20))
    assert has_followup(first) and has_followup(second) and links_of(first) == set()

    assert run_followups() == 2  # one transaction, both tips: no duplicate key
    db.session.commit()

    assert links_of(first) == links_of(second) == {(first, second), (second, first)}
    assert notified(first) == notified(second) == [chief.id]
    assert run_followups() == 0
    db.session.commit()
    assert links_of(first) == {(first, second), (second, first)}
    assert notified(first) == notified(second) == [chief.id]


def test_followups_of_a_batch_are_taken_in_order_and_the_rest_wait(client, people, auth_headers, demo_areas):
    member, _ = people
    here = grid_point(demo_areas["grid"])
    ids = [file(client, auth_headers(member), east_of(here, 10 * i)) for i in range(3)]
    assert run_followups(limit=2) == 2
    db.session.commit()
    assert [has_followup(i) for i in ids] == [False, False, True]
    assert links_of(ids[1]) == {(ids[1], ids[0]), (ids[0], ids[1])}  # ids[2] not followed up yet: no link to it
    assert run_followups(limit=2) == 1
    db.session.commit()
    assert links_of(ids[2]) == {(ids[2], ids[0]), (ids[0], ids[2]), (ids[2], ids[1]), (ids[1], ids[2])}


def test_a_conflict_tip_never_notifies_the_excluded_chief(client, make_user, auth_headers, demo_areas):
    member = make_user("member", demo_areas["grid"])
    # The grid's chief also holds a township post, so the township's discipline queue would otherwise reach him.
    chief = make_user(
        "grid_chief", demo_areas["township"], roles=["grid_chief", "township_staff"], grids=[demo_areas["grid"]]
    )
    officer = make_user("township_staff", demo_areas["township"])
    custodian = make_user("custodian", demo_areas["township"])

    # control: an ordinary tip in a grid without a chief goes to the township queue, and reaches him there
    ordinary = file(client, auth_headers(member), grid_point(demo_areas["sibling_grid"]))
    assert db.session.get(Tip, ordinary).queue_kind == "township"
    assert run_followups() == 1
    db.session.commit()
    assert chief.id in notified(ordinary) and officer.id in notified(ordinary)

    tip_id = file(client, auth_headers(member), grid_point(demo_areas["grid"]), implicates_official=True)
    tip = db.session.get(Tip, tip_id)
    assert tip.conflict and tip.assignee_user_id is None and tip.queue_area_code == demo_areas["township"]
    assert db.session.get(TipExclusion, (tip_id, chief.id)) is not None
    assert notified(tip_id) == []

    assert run_followups() == 1
    db.session.commit()
    assert chief.id not in notified(tip_id)
    assert officer.id in notified(tip_id) and custodian.id in notified(tip_id)
    assert not has_followup(tip_id)


# --- the worker itself, on a database of its own (it opens its own app contexts and commits for real) ---------


@pytest.fixture(scope="module")
def live(database_url, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("followups_live")
    app = live_app(fresh_database_url(database_url, tmp, "followups"), tmp)
    return app, seed_people(app)


def test_the_worker_tick_follows_up_new_tips(live):
    app, people = live
    client = app.test_client()
    headers = {"Authorization": f"Bearer {people['member']['token']}"}
    with app.app_context():
        here = grid_point(GRID)
    first = file(client, headers, here)
    second = file(client, headers, east_of(here, 40))
    with app.app_context():
        assert has_followup(first) and has_followup(second)
        assert notified(second) == [] and links_of(second) == set()

    worker = Worker(app, escalate=False)
    assert worker.tick() is True

    with app.app_context():
        assert waiting() == 0
        assert links_of(second) == {(second, first), (first, second)}
        assert people["chief"]["id"] in notified(first) and people["chief"]["id"] in notified(second)
        before = db.session.scalar(select(func.count()).select_from(Notification))
    assert worker.tick() is False  # nothing left to do
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Notification)) == before
