"""The coverage map page in headless Chromium (pip playwright driving Debian's /usr/bin/chromium), on a live server.

It logs in, draws the county's townships, changes the indicator and checks that every polygon's colour is the
legend's colour for its value's class, drills down township -> village -> grid, shows a grid's numbers, outlines
overdue tips, exports a CSV, and saves screenshots under test-artifacts/ (look at them).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
import shapely

from server.accounts.models import User
from server.extensions import db
from tests.conftest import ROOT, TEST_PASSWORD, _test_password_hash
from tests.coverage import factories as f
from tests.live import fresh_database_url, live_app, serving

pytestmark = [pytest.mark.browser, pytest.mark.db]

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "test-artifacts"
PHONE = "13700000801"
TOWNSHIP, VILLAGE = "330899001", "330899001001"
GRID = "330899001001001"
RATE_COLOURS = ["#edf8e9", "#bae4b3", "#74c476", "#31a354", "#006d2c"]


def _seed() -> None:
    """Households in a few grids of two townships with different link rates; an overdue tip in GRID."""
    user = User(
        phone=PHONE,
        name="县级干部测试",
        home_area_code="330899",
        active=True,
        token_version=1,
        password_hash=_test_password_hash(),
    )
    user.set_roles(["county_staff"])
    member = User(
        phone="13700000802",
        name="联户党员",
        home_area_code=GRID,
        active=True,
        token_version=1,
        password_hash=_test_password_hash(),
    )
    member.set_roles(["member"])
    db.session.add_all([user, member])
    db.session.flush()
    now = datetime.now(UTC)
    plan = {GRID: (3, 3), "330899001001002": (4, 1), "330899001002001": (5, 2), "330899002001001": (2, 0)}
    for grid, (households, linked) in plan.items():
        for i in range(households):
            home = f.household(grid, created_at=now - timedelta(days=60))
            if i < linked:
                f.link(member, home)
                f.visit(member, home, now - timedelta(days=3))
    f.tip(GRID, "dispatched", start=now - timedelta(days=2), accept_due=now - timedelta(days=1))
    db.session.commit()


@pytest.fixture(scope="module")
def live(database_url, tmp_path_factory):
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing (make test installs Debian's chromium)")
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium")
    tmp = tmp_path_factory.mktemp("map_live")
    app = live_app(fresh_database_url(database_url, tmp), str(tmp / "photos"))
    with app.app_context():
        _seed()
    with serving(app) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            args=ARGS,
            accept_downloads=True,
            viewport={"width": 1366, "height": 820},
            locale="zh-CN",
        )
        try:
            yield context
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)


def _api(live: str, path: str) -> dict:
    token = requests.post(
        f"{live}/api/v1/auth/login", json={"phone": PHONE, "password": TEST_PASSWORD}, timeout=10
    ).json()["access_token"]
    return requests.get(f"{live}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=10).json()


def _click_area(page, feature: dict) -> None:
    """A real mouse click on a point inside the area (its representative point, via Leaflet's projection)."""
    point = shapely.geometry.shape(feature["geometry"]).representative_point()
    x, y = page.evaluate(
        "([lat, lon]) => { const m = window.coverageMap.map; const p = m.latLngToContainerPoint([lat, lon]);"
        " const r = m.getContainer().getBoundingClientRect(); return [r.left + p.x, r.top + p.y]; }",
        [point.y, point.x],
    )
    page.mouse.click(x, y)


def _login(page, live: str) -> None:
    page.goto(f"{live}/map")
    page.fill("input[name=phone]", PHONE)
    page.fill("input[name=password]", TEST_PASSWORD)
    page.click("#login button[type=submit]")
    page.wait_for_selector(f"path.area-{TOWNSHIP}", timeout=15_000)


def _fill(page, code: str) -> str:
    return page.get_attribute(f"path.area-{code}", "fill")


def test_map_page_end_to_end(live, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    _login(page, live)
    assert "县级干部测试" in page.inner_text("#who")
    county = _api(live, "/api/v1/coverage/330899?format=geojson")
    assert page.locator("path.area").count() == len(county["features"]) == 9

    # the legend shows the chosen indicator's classes, and every polygon has its class's legend colour
    page.select_option("#indicator", "link_rate")
    labels = page.locator(".legend li[data-class]").all_inner_texts()
    assert labels == ["0%–20%", "20%–40%", "40%–60%", "60%–80%", "≥ 80%"]
    assert page.inner_text(".legend h3") == "联户率"
    legend = page.eval_on_selector_all(".legend li[data-class]", "items => items.map(i => i.dataset.color)")
    assert legend == RATE_COLOURS
    for feature in county["features"]:
        rate = feature["properties"]["link_rate"]
        expected = "#d9d9d9" if rate is None else legend[min(int(rate * 5), 4)]
        assert _fill(page, feature["id"]) == expected, feature["id"]
    assert _fill(page, TOWNSHIP) != "#d9d9d9"  # 8 of 12 households linked: a real class
    page.screenshot(path=str(ARTIFACTS / "map-county.png"))

    # drill down township -> village -> grid, by clicking inside the polygons; each level zooms in to fit
    zoom = page.evaluate("window.coverageMap.map.getZoom()")
    _click_area(page, next(x for x in county["features"] if x["id"] == TOWNSHIP))
    page.wait_for_selector(f"path.area-{VILLAGE}")
    assert page.evaluate("window.coverageMap.map.getZoom()") > zoom
    zoom = page.evaluate("window.coverageMap.map.getZoom()")
    assert page.get_attribute("body", "data-level") == "township"
    township = _api(live, f"/api/v1/coverage/{TOWNSHIP}?format=geojson")
    _click_area(page, next(x for x in township["features"] if x["id"] == VILLAGE))
    page.wait_for_selector(f"path.area-{GRID}")
    assert page.evaluate("window.coverageMap.map.getZoom()") > zoom
    crumbs = page.locator("#crumbs button").all_inner_texts()
    assert len(crumbs) == 3 and crumbs[0] == "衢州示范县"

    # overdue tips: a dashed red outline and a badge on the grid
    assert "overdue" in page.get_attribute(f"path.area-{GRID}", "class")
    assert page.locator(".badge").all_inner_texts() == ["超期 1"]

    village = _api(live, f"/api/v1/coverage/{VILLAGE}?format=geojson")
    _click_area(page, next(x for x in village["features"] if x["id"] == GRID))
    page.wait_for_selector(f"#details[data-code='{GRID}']")
    assert page.inner_text("#details-title").startswith(
        next(x for x in village["features"] if x["id"] == GRID)["properties"]["name"]
    )
    assert page.inner_text("#details tr[data-field=households] td") == "3"
    assert page.inner_text("#details tr[data-field=link_rate] td") == "100.0%"
    assert page.inner_text("#details tr[data-field=tips_overdue] td") == "1"
    page.screenshot(path=str(ARTIFACTS / "map-village-grid.png"))

    # the 红黄灰 index legend follows the configured thresholds
    page.select_option("#indicator", "index_value")
    labels = page.locator(".legend li[data-class]").all_inner_texts()
    assert labels == ["灰（< 60）", "黄（60–85）", "红（≥ 85）"]

    # export the current level as CSV (UTF-8 with BOM)
    with page.expect_download() as download_info:
        page.click("#export-csv")
    download = download_info.value
    assert download.suggested_filename.endswith(f"{VILLAGE}.csv")
    assert Path(download.path()).read_bytes().startswith(b"\xef\xbb\xbf")

    # back up through the breadcrumbs
    page.click("#crumbs button >> nth=0")
    page.wait_for_selector(f"path.area-{TOWNSHIP}")
    assert errors == []


def test_map_page_on_a_tablet(live, browser):
    page = browser.new_page()
    page.set_viewport_size({"width": 768, "height": 1024})
    _login(page, live)
    map_box, panel_box = page.locator("#map").bounding_box(), page.locator("#panel").bounding_box()
    assert map_box["width"] >= 700 and panel_box["y"] >= map_box["y"] + map_box["height"] - 1  # panel below the map
    page.screenshot(path=str(ARTIFACTS / "map-tablet.png"), full_page=True)


def test_wrong_password_shows_an_error(live, browser):
    page = browser.new_page()
    page.goto(f"{live}/map")
    page.fill("input[name=phone]", PHONE)
    page.fill("input[name=password]", "not-the-password")
    page.click("#login button[type=submit]")
    page.wait_for_function("document.getElementById('login-error').textContent.length > 0")
    assert page.inner_text("#login-error") == "手机号或密码不正确"
    assert page.is_hidden("#controls")
