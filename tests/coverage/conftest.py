"""Fixtures for the coverage tests: a clean coverage cache per test, and a small world with known numbers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from tests.coverage import factories as f

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
D = timedelta(days=1)
H = timedelta(hours=1)
M = timedelta(minutes=1)


@pytest.fixture(autouse=True)
def _fresh_coverage_cache(request):
    """Counts cached by one test (whose rows were rolled back) must never answer the next one."""
    if "app" not in request.fixturenames:
        yield
        return
    app = request.getfixturevalue("app")
    app.extensions.pop("coverage", None)
    yield
    app.extensions.pop("coverage", None)


@dataclass
class World:
    county: str
    township: str
    village: str
    g1: str
    g2: str
    g3: str
    other_township: str
    member: object
    tips: dict


@pytest.fixture
def world(db_session, demo_areas, make_user) -> World:
    """Known numbers in three grids (see test_indicators.py for every expected value and why)."""
    g1, g2, g3 = demo_areas["grid"], demo_areas["sibling_grid"], demo_areas["other_grid"]
    member = make_user("member", g1, name="联户党员甲")
    other = make_user("member", g2, name="联户党员乙")
    reporter = make_user("member", g1, name="举报人丙", phone="13911112222")
    # G1: 4 households (a 5th is created after NOW): linked h1, h2 (h4 has only a secondary link); visited h1 and h3
    h1 = f.household(g1, created_at=NOW - 100 * D)
    h2 = f.household(g1, created_at=NOW - 100 * D)
    h3 = f.household(g1, created_at=NOW - 100 * D)
    h4 = f.household(g1, created_at=NOW - 100 * D)
    f.household(g1, created_at=NOW + H)
    f.link(member, h1)
    f.link(member, h2)
    f.link(other, h4, primary=False)
    f.visit(member, h1, NOW - 5 * D)
    f.visit(member, h2, NOW - 40 * D)
    f.visit(other, h3, NOW - 10 * D)
    f.visit(other, h3, NOW + D)  # after NOW: last_visited_at is later than NOW, the visit 10 days ago still counts
    # G2: 2 households, both linked; one visited 29 days ago (inside the 30-day window), one 31 days ago
    h5 = f.household(g2, created_at=NOW - 100 * D)
    h6 = f.household(g2, created_at=NOW - 100 * D)
    f.link(other, h5)
    f.link(other, h6)
    f.visit(other, h5, NOW - 29 * D)
    f.visit(other, h6, NOW - 31 * D)
    # G3 (another township): one household, unlinked, never visited
    f.household(g3, created_at=NOW - 100 * D)
    # Patrols: P1 through G1 and G2, P2 in G1 only, P3 in G1 ten days ago (outside 7 days), P4 in G3 after NOW
    f.patrol(member, [(g1, 1800, 1000, NOW - 2 * D), (g2, 900, 500, NOW - 2 * D)])
    f.patrol(member, [(g1, 3600, 2500, NOW - D)])
    f.patrol(other, [(g1, 600, 300, NOW - 10 * D)])
    f.patrol(other, [(g3, 600, 300, NOW + H)])
    s = NOW - 20 * D
    tips = {
        "t1": f.tip(
            g1,
            "closed",
            start=s,
            accept_due=s + D,
            accepted=s + 720 * M,
            resolve_due=NOW - 10 * D,
            closed=NOW - 12 * D,
            reporter=reporter,
        ),
        "t2": f.tip(
            g1, "closed", start=s, accept_due=s + D, accepted=s + 2880 * M, resolve_due=NOW - 10 * D, closed=NOW - 8 * D
        ),
        "t3": f.tip(
            g1,
            "in_progress",
            start=NOW - 15 * D,
            accept_due=NOW - 14 * D,
            accepted=NOW - 15 * D + 144 * M,
            resolve_due=NOW - D,
            postponements=1,
        ),
        "t4": f.tip(g1, "dispatched", start=NOW - D, accept_due=NOW - 2 * H, resolve_due=NOW + 9 * D),
        "t5": f.tip(
            g1,
            "accepted",
            start=NOW - 2 * D,
            accept_due=NOW - 2 * D + 8 * H,
            accepted=NOW - 2 * D + 60 * M,
            resolve_due=NOW + 8 * D,
        ),
        "t6": f.tip(g1, "dismissed", start=NOW - 20 * D, resolve_due=NOW - 5 * D),
        "t7": f.tip(g2, "dispatched", start=NOW - D, accept_due=NOW + H, conflict=True),
        "t9": f.tip(
            g2,
            "accepted",
            start=NOW - 3 * D,
            accept_due=NOW - 3 * D + 8 * H,
            accepted=NOW - 3 * D + 30 * M,
            resolve_due=NOW + 7 * D,
        ),
        "t8": f.tip(g3, "in_progress", start=NOW - 12 * D, accepted=NOW - 12 * D + 10 * M, resolve_due=NOW - D),
        "t10": f.tip(None, "submitted", area_code=demo_areas["county"], start=NOW - 3 * H, accept_due=NOW - H),
        "late": f.tip(g1, "dispatched", start=NOW + H),  # submitted after NOW: not counted at NOW
    }
    db_session.commit()
    return World(
        county=demo_areas["county"],
        township=demo_areas["township"],
        village=demo_areas["village"],
        g1=g1,
        g2=g2,
        g3=g3,
        other_township=demo_areas["other_township"],
        member=member,
        tips=tips,
    )
