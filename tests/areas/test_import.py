"""`flask grids import/export`: all or nothing, a report a person can act on, datums, generations, refresh."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import shapely
from sqlalchemy import func, select

from server.areas.index_cache import IndexCache, current_generation_id
from server.areas.models import Area, MapGeneration
from server.extensions import db
from server.geo import datum
from tests.conftest import DEMO_MAP

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "grid_maps"
BAD_FILES = sorted(p for p in FIXTURES.glob("*.geojson") if not p.name.startswith("valid"))


@pytest.fixture
def cli(app, db_session):
    runner = app.test_cli_runner(mix_stderr=False) if _supports_mix_stderr(app) else app.test_cli_runner()
    return lambda *args: runner.invoke(args=["grids", *map(str, args)])


def _supports_mix_stderr(app) -> bool:
    import inspect

    from click.testing import CliRunner

    return "mix_stderr" in inspect.signature(CliRunner.__init__).parameters


def _counts():
    return db.session.scalar(select(func.count(MapGeneration.id))), db.session.scalar(select(func.count(Area.id)))


def test_there_is_a_fixture_for_every_failure_kind():
    assert len(BAD_FILES) >= 10


@pytest.mark.parametrize("path", BAD_FILES, ids=lambda p: p.stem)
def test_a_bad_file_is_rejected_whole_with_index_and_reason(cli, path):
    before = _counts()
    result = cli("import", path, "--quiet")
    assert result.exit_code == 1
    assert "nothing was imported" in result.stderr
    assert "feature " in result.stderr or "file:" in result.stderr
    assert "[" in result.stderr and "]" in result.stderr
    assert _counts() == before


def test_dry_run_writes_nothing(cli, tmp_path):
    before = _counts()
    result = cli("import", FIXTURES / "valid_small.geojson", "--dry-run", "--quiet")
    assert result.exit_code == 0, result.output
    assert "Dry run" in result.stdout and _counts() == before


def test_reimporting_the_current_file_is_a_noop(cli):
    before = _counts()
    result = cli("import", DEMO_MAP, "--quiet")
    assert result.exit_code == 0 and result.stdout.startswith("Unchanged")
    assert _counts() == before


def test_a_new_import_becomes_current_and_old_generations_stay_queryable(cli, client):
    old = current_generation_id()
    result = cli("import", FIXTURES / "valid_small.geojson", "--quiet", "--by", "operator 7")
    assert result.exit_code == 0 and "Imported" in result.stdout, result.output
    new = current_generation_id()
    assert new != old
    generation = db.session.get(MapGeneration, new)
    assert generation.imported_by == "operator 7" and generation.counts["grid"] == 2
    demo_only = "330899001001001"
    assert client.get(f"/api/v1/areas/{demo_only}").status_code == 404
    assert client.get(f"/api/v1/areas/{demo_only}?generation={old}").status_code == 200


def test_gcj02_map_is_converted_on_the_way_in(cli, tmp_path):
    original = json.loads((FIXTURES / "valid_small.geojson").read_text())
    shifted = json.loads(json.dumps(original))
    for feature in shifted["features"]:
        geom = shapely.geometry.shape(feature["geometry"])
        moved = shapely.transform(geom, lambda xy: _gcj_of(xy))
        feature["geometry"] = shapely.geometry.mapping(moved)
    path = tmp_path / "gcj.geojson"
    path.write_text(json.dumps(shifted))
    assert cli("import", path, "--datum", "gcj02", "--quiet").exit_code == 0
    stored = {a.code: a for a in db.session.scalars(select(Area).where(Area.generation_id == current_generation_id()))}
    for feature in original["features"]:
        expected = shapely.geometry.shape(feature["geometry"])
        got = shapely.from_wkb(bytes(db.session.scalar(stored[feature["properties"]["code"]].geom.ST_AsBinary())))
        assert shapely.hausdorff_distance(expected, got) < 1e-7  # about 1 cm


def _gcj_of(xy):
    import numpy as np

    return np.array([datum.wgs84_to_gcj02(x, y) for x, y in xy])


def test_unknown_datum_option_is_a_usage_error(cli):
    result = cli("import", DEMO_MAP, "--datum", "wgs85")
    assert result.exit_code == 2 and "wgs84" in result.output + (result.stderr or "")


def test_export_round_trips_the_current_generation(cli, tmp_path):
    out = tmp_path / "export.geojson"
    assert cli("export", "--out", out).exit_code == 0
    exported = json.loads(out.read_text())
    source = json.loads(DEMO_MAP.read_text())
    assert [f["properties"] for f in exported["features"]] == sorted(
        ({k: f["properties"][k] for k in ("code", "name", "level", "parent_code")} for f in source["features"]),
        key=lambda p: p["code"],
    )
    by_code = {f["properties"]["code"]: shapely.geometry.shape(f["geometry"]) for f in source["features"]}
    for feature in exported["features"][:50]:
        assert shapely.hausdorff_distance(shapely.geometry.shape(feature["geometry"]), by_code[feature["id"]]) < 1e-9


def test_another_worker_sees_a_new_generation_after_its_check_interval(cli, monkeypatch):
    """Each worker has its own IndexCache; it asks the database which generation is current every N seconds."""
    clock = [1000.0]
    monkeypatch.setattr("server.areas.index_cache.time.monotonic", lambda: clock[0])
    other_worker = IndexCache(check_seconds=5)
    before = other_worker.get().generation_id
    assert cli("import", FIXTURES / "valid_small.geojson", "--quiet").exit_code == 0
    clock[0] += 1
    assert other_worker.get().generation_id == before
    clock[0] += 5
    assert other_worker.get().generation_id == current_generation_id() != before
