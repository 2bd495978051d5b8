"""tip_status_counts (migration 0010) always sums to the tips there are, per area, conflict flag and status.

Its rows come from triggers on tips, on both databases: an insert, a delete, a change of status, area or conflict
flag by the ORM or by one UPDATE over many rows. The worker folds them (server.tips.counts.compact) without
changing a sum. The inbox badge is summed from it (tests/workflow/test_inbox_and_metrics.py and
tests/tips/test_confidentiality.py check its numbers too).
"""

from __future__ import annotations

from collections import Counter

from sqlalchemy import delete, func, select, update

from server.extensions import db
from server.scope import scope_for
from server.tips.counts import compact
from server.tips.models import Tip, TipExclusion, TipStatusCount
from server.tips.visibility import conflicts_hidden_only_by_exclusions, visible_tips
from server.worker import Worker
from tests.tips.helpers import grid_point, payload, post_tip


def tips_counted() -> Counter:
    query = select(Tip.area_code, Tip.conflict, Tip.status, func.count()).group_by(
        Tip.area_code, Tip.conflict, Tip.status
    )
    return Counter({(a, bool(c), s): n for a, c, s, n in db.session.execute(query)})


def counters() -> Counter:
    key = (TipStatusCount.area_code, TipStatusCount.conflict, TipStatusCount.status)
    query = select(*key, func.sum(TipStatusCount.n)).group_by(*key)
    return Counter({(a, bool(c), s): int(n) for a, c, s, n in db.session.execute(query) if n})


def delete_tip(tip_id: int) -> None:
    """With whatever refers to it (the tables that reference tips, children first)."""
    for table in reversed(db.metadata.sorted_tables):
        for fk in table.foreign_keys:
            if fk.column.table.name == "tips" and table.name != "tips":
                db.session.execute(delete(table).where(fk.parent == tip_id))
    db.session.execute(delete(Tip).where(Tip.id == tip_id))


def test_the_counters_follow_every_change_to_tips_and_survive_folding(client, make_user, auth_headers, demo_areas):
    member = auth_headers(make_user("member", demo_areas["grid"]))
    point = grid_point(demo_areas["grid"])
    ids = [post_tip(client, member, payload(*point)).get_json()["id"] for _ in range(4)]
    ids.append(post_tip(client, member, payload(*point, implicates_official=True)).get_json()["id"])
    assert counters() == tips_counted() and sum(counters().values()) >= 5

    tip = db.session.get(Tip, ids[0])
    tip.status = "accepted"  # the ORM, one row
    db.session.flush()
    assert counters() == tips_counted()

    db.session.execute(update(Tip).where(Tip.id.in_(ids[1:3])).values(status="closed", area_code="330899002"))
    assert counters() == tips_counted()  # one statement, two rows, two keys changed

    db.session.execute(update(Tip).where(Tip.id == ids[3]).values(conflict=True))
    db.session.execute(update(Tip).where(Tip.id == ids[4]).values(description="no key changed"))
    assert counters() == tips_counted()

    delete_tip(ids[3])
    assert counters() == tips_counted()

    before = counters()
    assert compact() > 0
    assert counters() == before == tips_counted()
    keys = db.session.scalar(select(func.count()).select_from(TipStatusCount))
    assert keys == len(before)  # one row per key that has tips
    assert compact() == keys and counters() == before  # folding again changes nothing


def test_the_inbox_badge_is_what_counting_the_visible_tips_gives(client, make_user, auth_headers, demo_areas):
    member = auth_headers(make_user("member", demo_areas["grid"]))
    point = grid_point(demo_areas["grid"])
    ids = [post_tip(client, member, payload(*point)).get_json()["id"] for _ in range(3)]
    post_tip(client, member, payload(*point, implicates_official=True))  # conflict: counted apart, from tips
    db.session.execute(update(Tip).where(Tip.id == ids[0]).values(status="closed"))
    db.session.commit()
    viewers = {
        "county": make_user("county_staff", demo_areas["grid"][:6]),
        "township": make_user("township_staff", demo_areas["grid"][:9]),
        "chief": make_user("grid_chief", demo_areas["grid"][:12], grids=[demo_areas["grid"]]),
        "another township": make_user("township_staff", "330899009"),
    }
    for name, user in viewers.items():
        visible = visible_tips(user, scope_for(user))
        truth = dict(db.session.execute(select(Tip.status, func.count()).where(visible).group_by(Tip.status)).all())
        body = client.get("/api/v1/tips?limit=1", headers=auth_headers(user)).get_json()
        assert body["counts"] == truth, name
        assert body["total"] == sum(truth.values()), name
        for status in ("dispatched", "closed"):  # a status filter alone: the total is the badge's number
            filtered = client.get(f"/api/v1/tips?limit=1&status={status}", headers=auth_headers(user)).get_json()
            assert filtered["total"] == truth.get(status, 0), (name, status)
    assert sum(truth.values()) == 0  # (the last: a township with no tips)


def test_conflict_tips_in_the_badge_are_the_counters_less_the_viewers_exclusions(
    client, make_user, auth_headers, demo_areas
):
    """A county-level viewer with no grid of its own sees every conflict tip in scope but those it was excluded
    from: its badge takes them from the counters less its exclusions. Anyone else's are counted from tips. Either
    way the badge is what counting the visible tips gives."""
    member = auth_headers(make_user("member", demo_areas["grid"]))
    point = grid_point(demo_areas["grid"])
    conflicts = [post_tip(client, member, payload(*point, implicates_official=True)).get_json()["id"] for _ in range(3)]
    post_tip(client, member, payload(*point))
    db.session.execute(update(Tip).where(Tip.id == conflicts[0]).values(status="closed"))
    county = demo_areas["grid"][:6]
    viewers = {
        "county, excluded from one": make_user("county_staff", county),
        "county, excluded from none": make_user("county_staff", county),
        "county, who also chiefs the grid": make_user(
            "county_staff", county, roles=["county_staff", "grid_chief"], grids=[demo_areas["grid"]]
        ),
        "township": make_user("township_staff", demo_areas["grid"][:9]),
    }
    db.session.add(TipExclusion(tip_id=conflicts[1], user_id=viewers["county, excluded from one"].id))
    db.session.commit()
    by_counters = {name: conflicts_hidden_only_by_exclusions(u, scope_for(u)) for name, u in viewers.items()}
    assert by_counters == {
        "county, excluded from one": True,
        "county, excluded from none": True,
        "county, who also chiefs the grid": False,
        "township": False,
    }
    seen = {}
    for name, user in viewers.items():
        visible = visible_tips(user, scope_for(user))
        truth = dict(db.session.execute(select(Tip.status, func.count()).where(visible).group_by(Tip.status)).all())
        body = client.get("/api/v1/tips?limit=1", headers=auth_headers(user)).get_json()
        assert body["counts"] == truth and body["total"] == sum(truth.values()), name
        seen[name] = sum(truth.values())
    assert seen["county, excluded from none"] - seen["county, excluded from one"] == 1
    assert seen["county, excluded from none"] - seen["county, who also chiefs the grid"] == 3  # none of that grid's


def test_the_worker_folds_the_counters_once_a_minute_even_without_escalation(
    app, client, make_user, auth_headers, demo_areas
):
    member = auth_headers(make_user("member", demo_areas["grid"]))
    for _ in range(3):
        post_tip(client, member, payload(*grid_point(demo_areas["grid"])))
    rows = db.session.scalar(select(func.count()).select_from(TipStatusCount))
    before = counters()
    assert rows > len(before)  # one row per tip so far
    Worker(app, escalate=False).tick()  # the first round folds (then once per GRID_ESCALATION_INTERVAL_SECONDS)
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(TipStatusCount)) == len(before)
    assert counters() == before == tips_counted()
