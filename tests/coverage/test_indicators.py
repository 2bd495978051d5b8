"""Indicator arithmetic on hand-built rows (tests/coverage/conftest.py: `world`), at a frozen NOW.

Every expected number is derived in the comments from the rows; roll-ups must be sums of counts (a village's link
rate is 4/6, not the mean 0.75 of its grids' 0.5 and 1.0) and medians of all values (not medians of medians).
"""

from __future__ import annotations

from datetime import date

import pytest

from server.coverage import indicators, services
from server.coverage.indicators import Window, median
from server.coverage.indices import index_config
from tests.coverage.conftest import NOW
from tests.coverage.helpers import viewer_for


@pytest.fixture
def county_viewer(make_user, world):
    return viewer_for(make_user("county_staff", world.county))


def _grid_count(cov, village):
    return sum(1 for c in cov.tree.subtree(village) if cov.tree.nodes[c].level == "grid")


def test_grid_indicators(world, county_viewer):
    cov = services.area_coverage(world.village, county_viewer, NOW)
    g1, g2 = cov.row(world.g1), cov.row(world.g2)
    # G1: h1..h4 (h5 created after NOW); primary links h1, h2; visited in 30 days: h1 (5 d), h3 (10 d; again after NOW)
    assert (g1["households"], g1["households_linked"], g1["households_visited"]) == (4, 2, 2)
    assert (g1["link_rate"], g1["visit_rate"]) == (0.5, 0.5)
    # G2: both linked; 29 days ago is inside the window, 31 days is not
    assert (g2["households"], g2["households_linked"], g2["households_visited"]) == (2, 2, 1)
    assert (g2["link_rate"], g2["visit_rate"]) == (1.0, 0.5)
    # Patrols in 7 days: G1 has P1 (1800 s, 1000 m) and P2 (3600 s, 2500 m); P3 is 10 days old
    assert (g1["patrols"], g1["patrol_hours"], g1["patrol_km"]) == (2, 1.5, 3.5)
    assert g1["last_patrol_at"] == (NOW - _days(1)).isoformat()
    assert (g2["patrols"], g2["patrol_hours"], g2["patrol_km"]) == (1, 0.25, 0.5)
    assert (g1["patrolled_grids"], g1["grids"], g1["patrolled_grid_rate"]) == (1, 1, 1.0)


def test_grid_indicators_when_no_visit_is_later_than_now(world, county_viewer):
    # Three days after NOW no household's last visit is later than `now`, so visits are judged from
    # last_visited_at alone (the index-only count), not from the visits table as at NOW.
    later = NOW + 3 * _days(1)
    assert not indicators._visited_after(later) and indicators._visited_after(NOW)
    cov = services.area_coverage(world.village, county_viewer, later)
    g1, g2 = cov.row(world.g1), cov.row(world.g2)
    # G1: h1..h5 (h5 exists by now); primary links h1, h2; window [NOW - 27 d, NOW + 3 d]: h1 (NOW - 5 d) and
    # h3 (last NOW + 1 d) were visited in it, h2 (NOW - 40 d) and h4 (never) were not
    assert (g1["households"], g1["households_linked"], g1["households_visited"]) == (5, 2, 2)
    # G2: visits 29 and 31 days before NOW are both before NOW - 27 d
    assert (g2["households"], g2["households_linked"], g2["households_visited"]) == (2, 2, 0)


def test_grid_tip_indicators(world, county_viewer):
    cov = services.area_coverage(world.village, county_viewer, NOW)
    g1, g2 = cov.row(world.g1), cov.row(world.g2)
    # G1 at NOW: t1..t6 ('late' was submitted after NOW). Open: t3, t4, t5. Overdue: t3 (past resolve deadline while
    # handled), t4 (waiting past its accept deadline). Due: t1, t2, t3 (t6 was dismissed: never a case).
    # Postponed: t3. Closed on time: t1 (closed 2 days before its deadline; t2 closed 2 days late).
    assert g1["tips"] == 6
    assert (g1["tips_open"], g1["tips_overdue"]) == (3, 2)
    assert (g1["tips_due"], g1["tips_postponed"], g1["tips_closed_on_time"]) == (3, 1, 1)
    assert g1["on_time_close_rate"] == 0.5  # 1 / (3 - 1)
    # Accepted: t1 (720 min, on time), t2 (2880 min, late), t3 (144 min), t5 (60 min); median of 4 = (144 + 720) / 2
    assert (g1["tips_accepted"], g1["tips_accepted_on_time"], g1["accepted_on_time_rate"]) == (4, 3, 0.75)
    assert g1["median_accept_minutes"] == 432.0
    assert g1["overdue_free_rate"] == round(1 - 2 / 3, 4)
    # G2: t7 (conflict, visible to county staff) and t9 (accepted in 30 min)
    assert (g2["tips"], g2["tips_open"], g2["tips_overdue"], g2["median_accept_minutes"]) == (2, 2, 0, 30.0)
    assert g2["on_time_close_rate"] is None  # nothing due: no denominator, no rate


def test_village_rolls_up_counts_not_percentages(world, county_viewer):
    cov = services.area_coverage(world.village, county_viewer, NOW)
    v = cov.row(world.village)
    assert (v["households"], v["households_linked"], v["households_visited"]) == (6, 4, 3)
    assert v["link_rate"] == round(4 / 6, 4)  # not (0.5 + 1.0) / 2
    assert v["visit_rate"] == 0.5
    # P1 went through G1 and G2: one patrol of the village, not two
    assert (v["patrols"], v["patrol_hours"], v["patrol_km"]) == (2, 1.75, 4.0)
    n_grids = _grid_count(cov, world.village)
    assert (v["grids"], v["patrolled_grids"]) == (n_grids, 2)
    assert v["patrolled_grid_rate"] == round(2 / n_grids, 4)
    assert v["last_patrol_at"] == (NOW - _days(1)).isoformat()
    assert (v["tips"], v["tips_open"], v["tips_overdue"]) == (8, 5, 2)
    assert (v["tips_due"], v["tips_postponed"], v["tips_closed_on_time"], v["on_time_close_rate"]) == (3, 1, 1, 0.5)
    assert (v["tips_accepted"], v["tips_accepted_on_time"], v["accepted_on_time_rate"]) == (5, 4, 0.8)
    # the median of all five accept times [720, 2880, 144, 60, 30] = 144, not the median of medians (432 + 30) / 2
    assert v["median_accept_minutes"] == 144.0
    items = {row: cov.row(row) for row in cov.children()}
    assert set(items) == {c for c in cov.tree.children[world.village]}
    assert sum(r["households"] for r in items.values()) == v["households"]


def test_township_and_county_totals(world, county_viewer):
    township = services.area_coverage(world.township, county_viewer, NOW).row(world.township)
    assert (township["households"], township["households_linked"], township["tips"]) == (6, 4, 8)
    county_cov = services.area_coverage(world.county, county_viewer, NOW)
    county = county_cov.row(world.county)
    # + G3: one household, t8 (open, overdue); + t10 outside every grid (county only): waiting past its deadline
    assert (county["households"], county["households_linked"], county["households_visited"]) == (7, 4, 3)
    assert (county["tips"], county["tips_open"], county["tips_overdue"]) == (10, 7, 4)
    assert county["patrols"] == 2  # P4 in G3 is after NOW
    assert county_cov.row(world.other_township)["tips"] == 1
    children_tips = sum(county_cov.row(c)["tips"] for c in county_cov.children())
    assert children_tips == county["tips"] - 1  # t10 belongs to the county itself, no township


def test_indices_follow_configured_weights(world, county_viewer):
    cov = services.area_coverage(world.township, county_viewer, NOW)
    v = cov.row(world.village)
    config = index_config()
    weights = config.weights["fortress"]
    scores = {
        "link_rate": v["link_rate"],
        "visit_rate": v["visit_rate"],
        "patrolled_grid_rate": v["patrolled_grid_rate"],
        "on_time_close_rate": v["on_time_close_rate"],
        "overdue_free_rate": v["overdue_free_rate"],
    }
    expected = 100 * sum(weights[k] * scores[k] for k in weights) / sum(weights.values())
    assert v["index"] == "fortress" and v["index_zh"] == "堡垒指数"
    assert v["index_value"] == pytest.approx(expected, abs=0.05)
    assert v["index_class"] == config.classify(v["index_value"])
    township = cov.row(world.township)
    assert township["index"] == "service" and township["index_value"] is not None
    assert cov.row(world.g1)["index"] is None  # grids have no index of their own


def test_index_config_is_data_driven():
    config = index_config('{"fortress": {"visit_rate": 3, "link_rate": 1}}', '{"red": 90, "yellow": 50}')
    # weights are normalised; undefined scores drop out of both sums
    assert config.compute("fortress", {"visit_rate": 0.5, "link_rate": 1.0}) == 62.5
    assert config.compute("fortress", {"visit_rate": None, "link_rate": 1.0}) == 100.0
    assert config.compute("fortress", {"visit_rate": None, "link_rate": None}) is None
    assert [config.classify(v) for v in (95, 90, 60, 49.9, None)] == ["red", "red", "yellow", "grey", "none"]
    assert config.weights["service"] == index_config().weights["service"]  # untouched indices keep the defaults


@pytest.mark.parametrize(
    "weights, thresholds",
    [
        ("{bad", "85,60"),
        ('{"fortress": {"nope": 1}}', "85,60"),
        ('{"fortress": {"visit_rate": 0}}', "85,60"),
        ("", "60,85"),
        ("", "abc"),
        ("/no/such/file.json", "85,60"),
    ],
)
def test_bad_index_configuration_is_refused(weights, thresholds):
    from server.config import ConfigError, load_settings

    with pytest.raises(ConfigError):
        load_settings({"index_weights": weights, "index_thresholds": thresholds})


def test_weights_from_a_file(tmp_path):
    path = tmp_path / "weights.json"
    path.write_text('{"vanguard": {"visit_rate": 1}}', encoding="utf-8")
    assert index_config(str(path)).weights["vanguard"] == {"visit_rate": 1.0}


def test_date_range_replaces_the_windows(world, county_viewer):
    # 2026-11-18 .. 2026-11-19 (Asia/Shanghai): P1 (NOW - 2 d = 11-18 18:00 local) and P2 (11-19 18:00) are in it;
    # visits: only h1 (NOW - 5 d) is outside, h3's visit at NOW + 1 d too: nobody in G1 was visited in the range
    cov = services.area_coverage(world.village, county_viewer, NOW, date(2026, 11, 18), date(2026, 11, 19))
    g1 = cov.row(world.g1)
    assert g1["patrols"] == 2 and g1["households_visited"] == 0
    # tips submitted in the range: t4 (NOW - 1 d = 11-19 18:00 local); t5 is 11-18 18:00 local: also in
    assert g1["tips"] == 2
    window = cov.window
    assert window.now.isoformat() == "2026-11-19T16:00:00+00:00"  # the end of 11-19 in Shanghai, before NOW


def test_window_defaults():
    w = Window.build(NOW)
    assert (NOW - w.visits_from).days == 30 and (NOW - w.patrols_from).days == 7
    assert w.tips_from is None and w.tips_to is None


def test_median():
    assert median([]) is None
    assert median([3.0]) == 3.0
    assert median([4.0, 1.0, 3.0, 2.0]) == 2.5


def test_members_vanguard_index(world, make_user):
    viewer = viewer_for(make_user("county_staff", world.county))
    node, window, rows = services.member_rows(world.village, viewer, NOW)
    by_name = {r["name"]: r for r in rows}
    first = by_name["联户党员甲"]
    # 2 primary links (h1, h2), of which h1 was visited by this member in 30 days; P1 + P2 = 1.5 h + 0.75 h
    assert (first["households_linked"], first["households_visited"], first["visit_rate"]) == (2, 1, 0.5)
    assert (first["patrols"], first["patrol_hours"]) == (2, 1.75)
    assert first["link_load_rate"] == round(2 / 11, 4)
    assert first["patrol_rate"] == 0.875  # 1.75 h of the 2 h target
    weights = index_config().weights["vanguard"]
    expected = 100 * (weights["link_load_rate"] * 2 / 11 + weights["visit_rate"] * 0.5 + weights["patrol_rate"] * 0.875)
    assert first["index_value"] == pytest.approx(expected / sum(weights.values()), abs=0.05)
    assert "举报人丙" in by_name  # a member like any other: but nothing about tips filed
    assert not any(k.startswith("tips") for k in first)


def _days(n):
    from datetime import timedelta

    return timedelta(days=n)
