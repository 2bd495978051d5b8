"""`flask households import`: CSV and GeoJSON, all or nothing, every problem with its index and reason; datums."""

from __future__ import annotations

import csv
import io
import json

import pytest
from sqlalchemy import func, select

from server.areas.index_cache import current_index
from server.geo import datum
from server.households.importer import ImportRejected, import_households
from server.households.models import Household, HouseholdTag
from tests.areas.helpers import grid_shapes
from tests.households.helpers import grid_geom, inside, shared_edge_midpoint

HEADER = ["ref", "address", "lon", "lat", "head_name", "head_phone", "size", "tags"]


def to_csv(rows: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=HEADER)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def good_rows(grids, n: int = 4) -> list[dict]:
    rows = []
    for k in range(n):
        lon, lat = inside(grids[k % 2], k)
        rows.append(
            {
                "ref": f"R{k}",
                "address": f"新村路{k}号",
                "lon": repr(lon),
                "lat": repr(lat),
                "head_name": f"户主{k}",
                "head_phone": f"1380000{k:04d}",
                "size": str(k + 1),
                "tags": "困难户;留守老人" if k % 2 else "",
            }
        )
    return rows


def count(db_session) -> int:
    return db_session.scalar(select(func.count()).select_from(Household))


@pytest.fixture
def cli(app, db_session, tmp_path):
    runner = app.test_cli_runner()

    def invoke(data: bytes, name: str, *args):
        path = tmp_path / name
        path.write_bytes(data)
        return runner.invoke(args=["households", "import", str(path), "--quiet", *args])

    return invoke


def test_csv_import_writes_every_household_with_its_grid_and_tags(db_session, grids):
    rows = good_rows(grids)
    report = import_households(to_csv(rows), filename="h.csv")
    assert report.status == "imported" and report.count == 4
    assert report.by_grid == {grids[0]: 2, grids[1]: 2}
    stored = db_session.scalars(select(Household).order_by(Household.ref)).all()
    assert [h.grid_code for h in stored] == [grids[0], grids[1], grids[0], grids[1]]
    assert stored[1].tags == ["困难户", "留守老人"] and stored[0].tags == []
    assert stored[3].head_phone == "13800000003" and stored[3].size == 4


def test_geojson_import_in_gcj02_converts_and_keeps_raw_values(db_session, grids):
    lon, lat = inside(grids[0])
    gcj = datum.wgs84_to_gcj02(lon, lat)
    collection = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": list(gcj)},
                "properties": {"address": "溪边巷1号", "head_name": "赵六", "size": 2, "tags": ["独居老人"]},
            }
        ],
    }
    report = import_households(json.dumps(collection).encode(), filename="h.geojson", source_datum="gcj02")
    assert report.count == 1 and report.by_grid == {grids[0]: 1}
    row = db_session.scalar(select(Household))
    x, y = db_session.execute(select(func.ST_X(Household.location), func.ST_Y(Household.location))).one()
    assert abs(x - lon) < 1e-9 and abs(y - lat) < 1e-9
    assert (row.raw_lon, row.raw_lat, row.source_datum) == (gcj[0], gcj[1], "gcj02")
    assert row.tags == ["独居老人"]


def test_gcj02_file_read_as_wgs84_lands_elsewhere(db_session, grids):
    """The control for the test above: a GCJ-02 point read as WGS-84 is ~500 m off, enough to change grid."""
    index = current_index()
    home = index.grid_codes.index(grids[0])
    minx, miny, maxx, maxy = grid_geom(grids[0]).bounds
    candidates = ((minx + (maxx - minx) * i / 20, miny + (maxy - miny) * j / 20) for i in range(21) for j in range(21))
    lon, lat = next(
        p for p in candidates if index.covering(*p) == home and index.covering(*datum.wgs84_to_gcj02(*p)) != home
    )
    rows = good_rows(grids, 1)
    rows[0]["lon"], rows[0]["lat"] = (repr(v) for v in datum.wgs84_to_gcj02(lon, lat))
    wrong = import_households(to_csv(rows), filename="h.csv", dry_run=True)
    right = import_households(to_csv(rows), filename="h.csv", source_datum="gcj02", dry_run=True)
    assert right.by_grid == {grids[0]: 1} and wrong.by_grid != right.by_grid


BAD = {
    "missing-field": lambda r: r | {"head_name": ""},
    "bad-coordinates": lambda r: r | {"lon": "abc"},
    "coordinates-swapped": lambda r: r | {"lon": r["lat"], "lat": r["lon"]},
    "out-of-range": lambda r: r | {"lat": "95.0"},
    "unknown-tag": lambda r: r | {"tags": "困难户;黑户"},
    "bad-phone": lambda r: r | {"head_phone": "010-1234"},
    "bad-size": lambda r: r | {"size": "0"},
    "outside-all-grids": lambda r: r | {"lon": "118.2", "lat": "28.2"},
    "duplicate-ref": lambda r: r | {"ref": "R0"},
}
KIND = {"coordinates-swapped": "bad-coordinates", "out-of-range": "bad-coordinates"}


@pytest.mark.parametrize("problem", BAD)
def test_each_kind_of_bad_row_rejects_the_whole_file(db_session, grids, problem):
    rows = good_rows(grids)
    rows[2] = BAD[problem](rows[2])
    before = count(db_session)
    with pytest.raises(ImportRejected) as rejected:
        import_households(to_csv(rows), filename="h.csv")
    [reported] = rejected.value.problems
    assert (reported.index, reported.line, reported.kind) == (2, 4, KIND.get(problem, problem))
    assert reported.detail
    assert count(db_session) == before
    assert db_session.scalar(select(func.count()).select_from(HouseholdTag)) == 0


def test_every_problem_is_reported_not_just_the_first(db_session, grids):
    rows = good_rows(grids, 6)
    rows[1]["tags"] = "黑户"
    rows[3]["head_phone"] = "999"
    rows[3]["size"] = "many"
    rows[5]["lon"] = ""
    with pytest.raises(ImportRejected) as rejected:
        import_households(to_csv(rows), filename="h.csv")
    assert [(p.index, p.kind) for p in rejected.value.problems] == [
        (1, "unknown-tag"),
        (3, "bad-phone"),
        (3, "bad-size"),
        (5, "missing-field"),
    ]


def test_a_ref_that_exists_already_is_a_duplicate(db_session, grids):
    import_households(to_csv(good_rows(grids, 1)), filename="h.csv")
    with pytest.raises(ImportRejected) as rejected:
        import_households(to_csv(good_rows(grids, 2)), filename="h.csv")
    assert [(p.index, p.kind) for p in rejected.value.problems] == [(0, "duplicate-ref")]


def test_geojson_feature_problems_carry_the_feature_index(db_session, grids):
    lon, lat = inside(grids[0])
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": {"address": "a", "head_name": "b", "size": 1},
        },
        {
            "type": "Feature",
            "geometry": {"type": "LineString", "coordinates": [[lon, lat], [lon, lat]]},
            "properties": {"address": "a", "head_name": "b", "size": 1},
        },
    ]
    data = json.dumps({"type": "FeatureCollection", "features": features}).encode()
    with pytest.raises(ImportRejected) as rejected:
        import_households(data, filename="h.geojson")
    assert [(p.index, p.line, p.kind) for p in rejected.value.problems] == [(1, None, "bad-coordinates")]


def test_dry_run_writes_nothing(db_session, grids):
    before = count(db_session)
    report = import_households(to_csv(good_rows(grids)), filename="h.csv", dry_run=True)
    assert report.status == "valid" and report.count == 4 and count(db_session) == before


def test_cli_reports_problems_with_row_line_and_reason(cli, db_session, grids):
    rows = good_rows(grids)
    rows[1]["tags"] = "黑户"
    result = cli(to_csv(rows), "h.csv")
    assert result.exit_code == 1
    assert "Rejected: 1 problem(s); nothing was imported." in result.output
    assert "row 1 (line 3): [unknown-tag]" in result.output
    assert count(db_session) == 0


def test_cli_dry_run_and_import(cli, db_session, grids):
    data = to_csv(good_rows(grids))
    dry = cli(data, "h.csv", "--dry-run")
    assert dry.exit_code == 0 and "Dry run" in dry.output and count(db_session) == 0
    done = cli(data, "h.csv")
    assert done.exit_code == 0, done.output
    assert "Imported 4 household(s)" in done.output and count(db_session) == 4


def test_cli_rejects_an_unknown_datum(cli, grids):
    result = cli(to_csv(good_rows(grids)), "h.csv", "--datum", "mars")
    assert result.exit_code != 0 and "datum" in result.output.lower()


def test_an_imported_household_on_a_shared_edge_goes_to_the_smallest_code(db_session, grids):
    (lon, lat), owners = shared_edge_midpoint(grid_shapes())
    rows = good_rows(grids, 1)
    rows[0]["lon"], rows[0]["lat"] = repr(float(lon)), repr(float(lat))
    assert import_households(to_csv(rows), filename="h.csv").by_grid == {owners[0]: 1}
