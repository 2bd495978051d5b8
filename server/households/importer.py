"""Bulk import of households from CSV or GeoJSON: validate everything, then write everything (or nothing).

Input
- CSV (UTF-8, header row): address, lon, lat, head_name, size are required; head_phone, tags, ref, accuracy_m
  are optional. `tags` holds several tags separated by `;`, `|` or `、`.
- GeoJSON: a FeatureCollection of Point features whose properties carry the same names (tags may be a list).
- One datum for the whole file (`--datum`, default wgs84); every household stores WGS-84 plus the raw values.

Every problem is reported with its index (0-based data row or feature; CSV rows also give their file line),
a kind and a reason: missing-field, bad-coordinates, unknown-tag, bad-phone, bad-size, duplicate-ref,
outside-all-grids. Any problem rejects the whole file before a row is written. The caller owns the transaction.

Speed (100k households <= 60 s on PostGIS, scripts/bench/bench_households_import.py): the datum conversion is
one vectorised call (datum.to_wgs84_array), routing is one vectorised cell-cover look-up
(CellCover.covering_many) with GridIndex.locate (snapping) only for the misses, and rows are written with
multi-row INSERTs (SQLAlchemy insertmanyvalues) in batches.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import insert, select, text

from server.accounts.phones import is_valid_phone, normalize_phone
from server.areas.index_cache import current_index, index_cache
from server.areas.services import no_map_loaded
from server.extensions import db
from server.geo import datum
from server.households.models import Household, HouseholdTag
from server.households.services import settings, tag_errors

REQUIRED = ("address", "lon", "lat", "head_name", "size")
OPTIONAL = ("head_phone", "tags", "ref", "accuracy_m")
INSERT_BATCH = 5_000
MAX_SIZE = 99
_TAG_SPLIT = re.compile(r"[;|、,，]")


@dataclass(frozen=True)
class ImportProblem:
    index: int | None  # 0-based data row or feature; None for the whole file
    line: int | None  # CSV file line, when the source is CSV
    kind: str
    detail: str

    def as_dict(self) -> dict:
        return {"index": self.index, "line": self.line, "kind": self.kind, "detail": self.detail}


class ImportRejected(Exception):
    def __init__(self, problems: list[ImportProblem]):
        super().__init__(f"{len(problems)} problem(s) in the household file; nothing was imported.")
        self.problems = problems


@dataclass
class ImportReport:
    status: str  # "imported" or "valid" (dry run)
    count: int
    generation_id: int
    snapped: int = 0
    by_grid: dict[str, int] = field(default_factory=dict)


@dataclass
class _Rows:
    """Column-wise records: one list per field, plus the numeric columns as arrays."""

    lines: list[int | None]
    address: list[str]
    head_name: list[str]
    head_phone: list[str | None]
    size: list[int | None]
    tags: list[list[str]]
    ref: list[str | None]
    lon: np.ndarray
    lat: np.ndarray
    accuracy: list[float | None]
    problems: list[ImportProblem] = field(default_factory=list)


def import_households(
    raw: bytes,
    *,
    filename: str,
    source_datum: str = "wgs84",
    created_by: int | None = None,
    dry_run: bool = False,
    progress: bool = False,
) -> ImportReport:
    source_datum = datum.normalise_datum(source_datum)
    index = current_index()
    if index is None or len(index) == 0:
        raise no_map_loaded()
    rows = _read(raw, filename)
    routed = _validate(rows, index, source_datum, progress)
    if rows.problems:
        raise ImportRejected(sorted(rows.problems, key=lambda p: (p.index is not None, p.index or 0, p.kind)))
    codes, snaps, wgs = routed
    by_grid: dict[str, int] = {}
    for code in codes:
        by_grid[code] = by_grid.get(code, 0) + 1
    report = ImportReport("valid", len(codes), index.generation_id, int(np.count_nonzero(snaps > 0)), by_grid)
    if dry_run:
        return report
    _write(rows, codes, snaps, wgs, index.generation_id, source_datum, created_by, progress)
    report.status = "imported"
    return report


# --- reading --------------------------------------------------------------------------------------------------


def _read(raw: bytes, filename: str) -> _Rows:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportRejected([ImportProblem(None, None, "bad-file", "The file is not UTF-8 text.")]) from None
    if filename.lower().endswith((".json", ".geojson")) or text.lstrip().startswith("{"):
        return _read_geojson(text)
    return _read_csv(text)


def _empty() -> _Rows:
    return _Rows([], [], [], [], [], [], [], np.empty(0), np.empty(0), [])


def _read_csv(text: str) -> _Rows:
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
    if missing:
        header = ",".join(REQUIRED + OPTIONAL)
        detail = f"The header lacks the column(s) {', '.join(missing)}. Expected columns: {header}"
        raise ImportRejected([ImportProblem(None, 1, "missing-field", detail)])
    rows, lons, lats = _empty(), [], []
    for i, record in enumerate(reader):
        lon, lat = _add(rows, i, i + 2, record, record.get("lon"), record.get("lat"))
        lons.append(lon)
        lats.append(lat)
    rows.lon, rows.lat = np.array(lons, dtype=np.float64), np.array(lats, dtype=np.float64)
    return rows


def _read_geojson(text: str) -> _Rows:
    try:
        collection = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportRejected([ImportProblem(None, None, "bad-file", f"The file is not valid JSON: {exc}.")]) from None
    features = collection.get("features") if isinstance(collection, dict) else None
    if not isinstance(features, list) or collection.get("type") != "FeatureCollection":
        raise ImportRejected([ImportProblem(None, None, "bad-file", "Expected a GeoJSON FeatureCollection.")])
    rows, lons, lats = _empty(), [], []
    for i, feature in enumerate(features):
        feature = feature if isinstance(feature, dict) else {}
        geometry = feature.get("geometry") if isinstance(feature.get("geometry"), dict) else {}
        props = feature.get("properties") if isinstance(feature.get("properties"), dict) else {}
        coords = geometry.get("coordinates") if geometry.get("type") == "Point" else None
        if isinstance(coords, list) and len(coords) >= 2:
            lon, lat = _add(rows, i, None, props, coords[0], coords[1])
        else:
            lon, lat = _add(rows, i, None, props, None, None, "The geometry must be a GeoJSON Point.")
        lons.append(lon)
        lats.append(lat)
    rows.lon, rows.lat = np.array(lons, dtype=np.float64), np.array(lats, dtype=np.float64)
    return rows


def _text(value) -> str:
    return "" if value is None else str(value).strip()


def _number(value) -> float:
    if isinstance(value, bool):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _add(
    rows: _Rows, i: int, line: int | None, record: dict, raw_lon, raw_lat, bad_geometry: str | None = None
) -> tuple[float, float]:
    """Append one record column-wise, noting per-field problems; returns (lon, lat) as floats (NaN if unusable)."""

    def problem(kind: str, detail: str) -> None:
        rows.problems.append(ImportProblem(i, line, kind, detail))

    rows.lines.append(line)
    for name in ("address", "head_name"):
        value = _text(record.get(name))
        if not value:
            problem("missing-field", f"{name} is empty.")
        elif len(value) > (200 if name == "address" else 60):
            problem("too-long", f"{name} is longer than {200 if name == 'address' else 60} characters.")
        getattr(rows, name).append(value)
    phone = _text(record.get("head_phone"))
    if phone:
        phone = normalize_phone(phone)
        if not is_valid_phone(phone):
            problem("bad-phone", f"head_phone {record.get('head_phone')!r} is not a mainland mobile number.")
    rows.head_phone.append(phone or None)
    size = _text(record.get("size"))
    number = _number(size)
    value = int(number) if math.isfinite(number) and number == int(number) else None
    if value is None or not 1 <= value <= MAX_SIZE:
        kind = "missing-field" if not size else "bad-size"
        problem(kind, f"size must be a whole number 1..{MAX_SIZE}, got {size!r}.")
    rows.size.append(value)
    tags = record.get("tags")
    tags = [t.strip() for t in (tags if isinstance(tags, list) else _TAG_SPLIT.split(_text(tags))) if _text(t)]
    for error in tag_errors(tags, settings().household_tags):
        problem("unknown-tag", error)
    rows.tags.append(tags)
    ref = _text(record.get("ref")) or None
    if ref is not None and len(ref) > 40:
        problem("bad-ref", "ref may be at most 40 characters.")
    rows.ref.append(ref)
    accuracy = _text(record.get("accuracy_m"))
    rows.accuracy.append(_number(accuracy) if accuracy else None)
    if bad_geometry is not None:
        problem("bad-coordinates", bad_geometry)
        return math.nan, math.nan
    if _text(raw_lon) == "" or _text(raw_lat) == "":
        problem("missing-field", "lon and lat are required.")
        return math.nan, math.nan
    lon, lat = _number(raw_lon), _number(raw_lat)
    if math.isnan(lon) or math.isnan(lat):
        problem("bad-coordinates", f"lon/lat must be numbers, got {raw_lon!r}, {raw_lat!r}.")
        return math.nan, math.nan
    return lon, lat


# --- validation -----------------------------------------------------------------------------------------------


def _validate(rows: _Rows, index, source_datum: str, progress: bool):
    """Coordinates, datum conversion and routing, vectorised; duplicate refs. Returns (codes, snaps, wgs)."""
    n = len(rows.lines)
    already_bad = {p.index for p in rows.problems if p.kind in ("bad-coordinates", "missing-field")}
    with np.errstate(invalid="ignore"):
        parsed = np.isfinite(rows.lon) & np.isfinite(rows.lat)
    checked = _check_coordinates(rows, parsed, already_bad)
    usable = parsed & checked
    wgs = np.full((n, 2), np.nan)
    if usable.any():
        wgs[usable] = datum.to_wgs84_array(np.column_stack((rows.lon[usable], rows.lat[usable])), source_datum)
    codes, snaps = _route(rows, index, wgs, usable, progress)
    _check_refs(rows)
    return codes, snaps, wgs


def _check_coordinates(rows: _Rows, parsed: np.ndarray, already_bad: set) -> np.ndarray:
    """Per row: finite, in range, not swapped (datum.validate_lonlat on the rows a numpy pre-check suspects)."""
    ok = parsed.copy()
    lon, lat = rows.lon, rows.lat
    with np.errstate(invalid="ignore"):
        suspect = ~((lon >= 72.004) & (lon <= 137.8347) & (lat >= 0.8293) & (lat <= 55.8271))
    for i in np.flatnonzero(parsed & suspect):
        try:
            datum.validate_lonlat(float(lon[i]), float(lat[i]))
        except datum.DatumError as exc:
            ok[i] = False
            rows.problems.append(ImportProblem(int(i), rows.lines[i], "bad-coordinates", exc.detail))
    for i in np.flatnonzero(~parsed):
        if int(i) not in already_bad:
            rows.problems.append(ImportProblem(int(i), rows.lines[i], "bad-coordinates", "lon/lat must be finite."))
    return ok


def _route(rows: _Rows, index, wgs: np.ndarray, usable: np.ndarray, progress: bool):
    from tqdm import tqdm

    n = len(rows.lines)
    found = np.full(n, -1, dtype=np.int64)
    found[usable] = index.cells.covering_many(wgs[usable, 0], wgs[usable, 1])
    codes: list[str | None] = [index.grid_codes[g] if g >= 0 else None for g in found.tolist()]
    snaps = np.zeros(n)
    misses = np.flatnonzero(usable & (found < 0))
    snap_m = index_cache().snap_metres
    for i in tqdm(misses, desc="snapping misses", unit="row", disable=not progress or not misses.size):
        hit = index.locate(float(wgs[i, 0]), float(wgs[i, 1]), snap_m)
        if hit is None:
            nearest, distance = index.nearest(float(wgs[i, 0]), float(wgs[i, 1]))
            detail = (
                f"The point is {distance:.0f} m from the nearest grid ({index.grid_codes[nearest]}), beyond the "
                f"{snap_m:.0f} m snap distance. Check the datum (a GCJ-02 point read as WGS-84 is ~500 m off)."
            )
            rows.problems.append(ImportProblem(int(i), rows.lines[i], "outside-all-grids", detail))
        else:
            codes[i] = hit.grid.code
            snaps[i] = hit.distance_m
    return codes, snaps


def _check_refs(rows: _Rows) -> None:
    first: dict[str, int] = {}
    for i, ref in enumerate(rows.ref):
        if ref is None:
            continue
        if ref in first:
            rows.problems.append(
                ImportProblem(i, rows.lines[i], "duplicate-ref", f"ref {ref!r} is also on row {first[ref]}.")
            )
        first.setdefault(ref, i)
    refs = list(first)
    for start in range(0, len(refs), 1000):
        chunk = refs[start : start + 1000]
        for ref in db.session.scalars(select(Household.ref).where(Household.ref.in_(chunk))):
            i = first[ref]
            rows.problems.append(
                ImportProblem(i, rows.lines[i], "duplicate-ref", f"A household with ref {ref!r} exists already.")
            )


# --- writing --------------------------------------------------------------------------------------------------


def _write(rows: _Rows, codes, snaps, wgs, generation_id, source_datum, created_by, progress) -> None:
    from tqdm import tqdm

    from server.areas.models import utcnow

    now = utcnow()
    n = len(codes)
    xy, raw_lon, raw_lat, snap = wgs.tolist(), rows.lon.tolist(), rows.lat.tolist(), snaps.tolist()
    records = [
        {
            "ref": rows.ref[i],
            "address": rows.address[i],
            "location": f"SRID=4326;POINT({xy[i][0]!r} {xy[i][1]!r})",
            "source_datum": source_datum,
            "raw_lon": raw_lon[i],
            "raw_lat": raw_lat[i],
            "accuracy_m": rows.accuracy[i],
            "head_name": rows.head_name[i],
            "head_phone": rows.head_phone[i],
            "size": rows.size[i],
            "generation_id": generation_id,
            "grid_code": codes[i],
            "snap_distance_m": snap[i] if snap[i] > 0 else None,
            "created_at": now,
            "created_by": created_by,
        }
        for i in range(n)
    ]
    statement = insert(Household).returning(Household.id, sort_by_parameter_order=True)
    with tqdm(total=n, desc="writing households", unit="household", disable=not progress) as bar:
        for start in range(0, n, INSERT_BATCH):
            batch = records[start : start + INSERT_BATCH]
            ids = db.session.scalars(statement, batch).all()
            tags = [
                {"household_id": hid, "tag": tag}
                for hid, i in zip(ids, range(start, start + len(batch)), strict=True)
                for tag in dict.fromkeys(rows.tags[i])
            ]
            if tags:
                db.session.execute(insert(HouseholdTag), tags)
            bar.update(len(batch))
    # Fresh statistics: with stale ones PostgreSQL scans the whole table for the next import's ref check.
    db.session.execute(text("ANALYZE households"))
    db.session.execute(text("ANALYZE household_tags"))
