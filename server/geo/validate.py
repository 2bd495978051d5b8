"""Validation of grid-map GeoJSON files (pure shapely + numpy; no database, no Flask).

A grid map is an RFC 7946 FeatureCollection in WGS-84 lon/lat. Every feature carries the
properties ``code``, ``name``, ``level`` (county, township, village or grid) and ``parent_code``
(null for the county) and a Polygon or MultiPolygon geometry. Codes are digit strings: county 6
(GB/T 2260), township 9, village/community 12, grid 15 digits, each starting with its parent's
code. Extra properties are ignored.

:func:`validate_feature_collection` reports *every* problem it finds (it never stops at the
first) as :class:`Problem` records with a stable ``kind`` slug:

file level (``index`` is None)
    ``not-a-feature-collection``, ``no-county``
properties
    ``not-a-feature``, ``missing-property``, ``unknown-level``, ``bad-code-format``
geometry (checked on the raw input, before any datum ``transform``)
    ``wrong-geometry-type``, ``empty-geometry``, ``invalid-geometry`` (also malformed coordinate
    arrays, rings with fewer than 4 positions and unclosed rings), ``coordinate-out-of-range``,
    ``coordinates-swapped``
hierarchy
    ``duplicate-code``, ``unknown-parent``, ``code-not-under-parent``, ``wrong-parent-level``,
    ``multiple-counties``
geometry against the hierarchy (after ``transform``)
    ``outside-parent``, ``overlap``, ``gap``

Units. Areas are converted from square degrees with a local equal-area approximation:
``m² = deg² × 111_320² × cos(latitude of the geometry's centroid)``. For areas a few tens of
kilometres across this is within a fraction of a percent, which is plenty for tolerance checks.
Distances are measured in a local metric frame ``x = (lon - lon0) × 111_320 × cos(lat0)``,
``y = (lat - lat0) × 111_320`` centred on the area concerned.

How the geometric checks work (a vectorised fast path first, an exact slow path only where needed):

``outside-parent``
    ``shapely.covers(parent, child)`` on prepared parents, for all children of a level at once
    (exact when shared vertices are identical, as in a clean map). For the children that are not
    covered, each parent is buffered once by ``Tolerances.parent_m`` in its local metric frame.
    A child is reported if the buffered parent does not cover it, i.e. some point of the child is
    more than ``parent_m`` metres from the parent. For reported children, the detail gives the
    overhang and the outside area (m²). The overhang is the largest distance from the parent of
    points sampled at most ``parent_m`` apart (at most 2,000 per child) along the boundary of
    ``child - parent``, or the radius of that part's maximum inscribed circle if it is larger.
    The circle catches a child drawn across a hole of its parent.
``overlap``
    Sibling overlaps: first ``shapely.coverage_invalid_edges`` over all usable areas of one level
    (a valid polygonal coverage has no overlaps and exactly matching shared edges). Parents all of
    whose children have no invalid edges are done. For the others, an ``STRtree`` of the siblings
    finds intersecting pairs and ``shapely.intersection`` measures them (vectorised); pairs above
    ``Tolerances.overlap_m2`` are reported with both codes and the area.
``gap``
    For a parent whose children form a valid coverage and are all covered by it the uncovered
    area is exactly ``area(parent) - sum(area(children))``; otherwise (and to locate a gap) it is
    ``parent - union(children)``. Above ``Tolerances.gap_m2`` it is reported with the area and a
    representative point of the largest uncovered piece. A county, township or village without
    any child is reported as a gap covering its whole area. A parent with a child whose geometry
    or level cannot be used is skipped here (its gap could not be measured reliably; the child is
    reported anyway).

Features whose geometry is unusable (invalid, wrong type, out of range...) take no part in the
geometric checks, and the geometry of a feature with a wrong-level parent is not compared to it.
"""

from __future__ import annotations

import re
import sys
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from shapely import GeometryType
from tqdm import tqdm

__all__ = [
    "CHILD_LEVEL",
    "CODE_LENGTH",
    "LEVELS",
    "PARENT_LEVEL",
    "ParsedArea",
    "Problem",
    "Tolerances",
    "ValidationReport",
    "area_m2",
    "validate_feature_collection",
]

LEVELS: tuple[str, ...] = ("county", "township", "village", "grid")
CODE_LENGTH: dict[str, int] = {"county": 6, "township": 9, "village": 12, "grid": 15}
PARENT_LEVEL: dict[str, str | None] = {"county": None, "township": "county", "village": "township", "grid": "village"}
CHILD_LEVEL: dict[str, str | None] = {"county": "township", "township": "village", "village": "grid", "grid": None}

METRES_PER_DEGREE = 111_320.0
# Bounding box of China used to recognise swapped lon/lat pairs.
CHINA_LON = (72.004, 137.8347)
CHINA_LAT = (0.8293, 55.8271)

_DIGITS = re.compile(r"[0-9]+")


@dataclass(frozen=True)
class Problem:
    index: int | None  # feature index in the input, None for file-level problems
    code: str | None
    kind: str  # stable slug, see the module docstring
    detail: str  # a sentence a person can act on


@dataclass(frozen=True)
class Tolerances:
    parent_m: float = 1.0  # child may stick out of its parent by at most this many metres
    overlap_m2: float = 1.0  # sibling areas may overlap by at most this area
    gap_m2: float = 1.0  # uncovered area inside a parent above this is an error


@dataclass
class ParsedArea:
    index: int
    code: str
    name: str
    level: str
    parent_code: str | None
    geometry: shapely.MultiPolygon  # always MultiPolygon (Polygon promoted), WGS-84 (after transform)


@dataclass
class ValidationReport:
    areas: list[ParsedArea]
    problems: list[Problem]
    counts: dict[str, int] = field(default_factory=dict)  # features per level

    @property
    def ok(self) -> bool:
        return not self.problems


def area_m2(area_deg2: float | np.ndarray, lat: float | np.ndarray) -> float | np.ndarray:
    """Square degrees (a number or array) at latitude ``lat`` to square metres (local equal-area)."""
    return np.asarray(area_deg2) * METRES_PER_DEGREE**2 * np.cos(np.radians(lat))


def _fmt_m2(value: float) -> str:
    return f"{value:,.1f} m²"


def _num(x: float) -> str:
    return f"{x:.7f}".rstrip("0").rstrip(".")


def _fmt_pt(x: float, y: float) -> str:
    return f"lon {x:.7f}, lat {y:.7f}"


def _label(code: str | None, index: int) -> str:
    return f"'{code}'" if code else f"feature #{index}"


class _Feature:
    """Internal per-feature state."""

    __slots__ = ("index", "code", "name", "level", "parent_code", "geom", "geom_ok", "duplicate")

    def __init__(self, index: int) -> None:
        self.index = index
        self.code: str | None = None
        self.name: str | None = None
        self.level: str | None = None  # only set when known
        self.parent_code: str | None = None
        self.geom: shapely.MultiPolygon | None = None
        self.geom_ok = False
        self.duplicate = False  # a later feature with an already used code: never anyone's parent


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _code_value(value: Any) -> tuple[str | None, str | None]:
    """Return (code string or None, complaint or None) for a code-like property value."""
    if _blank(value):
        return None, None
    if isinstance(value, str):
        return value.strip(), None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value), f"must be a JSON string of digits, got {type(value).__name__} {value!r}"
    text = str(int(value)) if float(value).is_integer() else str(value)
    return text, f"must be a JSON string of digits, got the number {value!r} (leading zeros would be lost)"


def _parse_properties(i: int, feat: Any, rec: _Feature, problems: list[Problem]) -> None:
    props = feat.get("properties")
    if not isinstance(props, dict):
        props = {}
    missing: list[str] = []
    code, complaint = _code_value(props.get("code"))
    if code is None:
        missing.append("code")
    rec.code = code
    name = props.get("name")
    if _blank(name):
        missing.append("name")
    else:
        rec.name = name.strip() if isinstance(name, str) else str(name)
    level = props.get("level")
    level_known = False
    if _blank(level):
        missing.append("level")
    elif level in CODE_LENGTH:
        rec.level = level
        level_known = True
    else:
        problems.append(
            Problem(
                i, code, "unknown-level", f"level {level!r} is not one of county, township, village, grid (lower case)."
            )
        )
    parent, parent_complaint = _code_value(props.get("parent_code"))
    rec.parent_code = parent
    if parent is None and level_known and rec.level != "county":
        missing.append("parent_code")
    if missing:
        problems.append(
            Problem(
                i,
                code,
                "missing-property",
                f"{_label(code, i)} is missing or has empty propert{'y' if len(missing) == 1 else 'ies'} "
                f"{', '.join(missing)}; every feature needs code, name, level and parent_code "
                "(null only for the county).",
            )
        )
    if code is not None:
        expect = CODE_LENGTH.get(rec.level) if level_known else None
        if complaint:
            problems.append(Problem(i, code, "bad-code-format", f"code {complaint}."))
        elif not _DIGITS.fullmatch(code):
            problems.append(
                Problem(
                    i, code, "bad-code-format", f"code '{code}' must contain only the digits 0-9 (no spaces, letters)."
                )
            )
        elif expect is not None and len(code) != expect:
            problems.append(
                Problem(
                    i,
                    code,
                    "bad-code-format",
                    f"a {rec.level} code must have {expect} digits but '{code}' has {len(code)}.",
                )
            )
        elif expect is None and len(code) not in (6, 9, 12, 15):
            problems.append(
                Problem(i, code, "bad-code-format", f"code '{code}' has {len(code)} digits; codes have 6, 9, 12 or 15.")
            )
    if parent_complaint:
        problems.append(Problem(i, code, "bad-code-format", f"parent_code {parent_complaint}."))
    elif parent is not None and not _DIGITS.fullmatch(parent):
        problems.append(
            Problem(i, code, "bad-code-format", f"parent_code '{parent}' must contain only the digits 0-9.")
        )


class _Rings:
    """Ragged collection of the rings of all features with parseable coordinates."""

    def __init__(self) -> None:
        self.arrays: list[np.ndarray] = []
        self.ring_feature: list[int] = []
        self.ring_poly: list[int] = []  # polygon number inside its feature
        self.ring_no: list[int] = []  # ring number inside its polygon
        self.poly_nrings: list[int] = []
        self.feature_npolys: dict[int, int] = {}


def _parse_geometry(i: int, code: str | None, geom: Any, rings: _Rings, problems: list[Problem]) -> bool:
    """Parse coordinates into ``rings``; return False (with a problem) when the geometry is unusable."""
    who = _label(code, i)
    if geom is None:
        problems.append(
            Problem(i, code, "empty-geometry", f"{who} has no geometry (geometry is null); draw its outline.")
        )
        return False
    if not isinstance(geom, dict) or geom.get("type") not in ("Polygon", "MultiPolygon"):
        gtype = geom.get("type") if isinstance(geom, dict) else type(geom).__name__
        problems.append(
            Problem(
                i,
                code,
                "wrong-geometry-type",
                f"{who} has geometry type {gtype!r}; areas must be Polygon or MultiPolygon "
                "(export the area outline, not its boundary line or a point).",
            )
        )
        return False
    coords = geom.get("coordinates")
    if not isinstance(coords, list):
        problems.append(Problem(i, code, "invalid-geometry", f"{who}: 'coordinates' is missing or not an array."))
        return False
    polys = [coords] if geom["type"] == "Polygon" else coords
    arrays: list[tuple[int, int, np.ndarray]] = []
    nrings: list[int] = []
    for p, poly in enumerate(polys):
        if not isinstance(poly, list):
            problems.append(Problem(i, code, "invalid-geometry", f"{who}: polygon {p} is not an array of rings."))
            return False
        if not poly:
            continue  # an empty polygon part contributes nothing
        for r, ring in enumerate(poly):
            try:
                arr = np.asarray(ring)
            except (TypeError, ValueError):  # ragged nesting
                arr = None
            if arr is None or arr.dtype.kind not in "iuf" or arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] < 2:
                problems.append(
                    Problem(
                        i,
                        code,
                        "invalid-geometry",
                        f"{who}: ring {r} of polygon {p} is not a list of [longitude, latitude] number pairs.",
                    )
                )
                return False
            if not np.isfinite(arr[:, :2]).all():
                problems.append(
                    Problem(i, code, "invalid-geometry", f"{who}: ring {r} of polygon {p} contains NaN or infinity.")
                )
                return False
            arrays.append((p, r, arr[:, :2].astype(np.float64, copy=False)))
        nrings.append(len(poly))
    if not arrays:
        problems.append(
            Problem(i, code, "empty-geometry", f"{who} has an empty {geom['type']} (no coordinates); draw its outline.")
        )
        return False
    for p, r, arr in arrays:
        rings.arrays.append(arr)
        rings.ring_feature.append(i)
        rings.ring_poly.append(p)
        rings.ring_no.append(r)
    rings.poly_nrings.extend(nrings)
    rings.feature_npolys[i] = len(nrings)
    return True


def _check_raw_coordinates(
    coords: np.ndarray, vertex_feature: np.ndarray, records: list[_Feature], problems: list[Problem]
) -> set[int]:
    """Vectorised range / swap check on the raw input; return the indices of offending features."""
    lon, lat = coords[:, 0], coords[:, 1]
    out_of_range = (np.abs(lon) > 180) | (np.abs(lat) > 90)
    in_china = (lon >= CHINA_LON[0]) & (lon <= CHINA_LON[1]) & (lat >= CHINA_LAT[0]) & (lat <= CHINA_LAT[1])
    swapped_in_china = (lat >= CHINA_LON[0]) & (lat <= CHINA_LON[1]) & (lon >= CHINA_LAT[0]) & (lon <= CHINA_LAT[1])
    swapped = swapped_in_china & ~in_china
    out_only = out_of_range & ~swapped
    n_vertices = np.bincount(vertex_feature, minlength=len(records))
    bad: set[int] = set()
    for mask, kind in ((swapped, "coordinates-swapped"), (out_only, "coordinate-out-of-range")):
        if not mask.any():
            continue
        where = np.flatnonzero(mask)
        feats, first = np.unique(vertex_feature[where], return_index=True)
        counts = np.bincount(vertex_feature[where], minlength=len(records))
        for f, k in zip(feats.tolist(), where[first].tolist(), strict=True):
            x, y = float(coords[k, 0]), float(coords[k, 1])
            rec = records[f]
            n, m = int(counts[f]), int(n_vertices[f])
            if kind == "coordinates-swapped":
                detail = (
                    f"{n} of {m} vertices look like [latitude, longitude], e.g. [{_num(x)}, {_num(y)}] would be "
                    f"lon {_num(y)}, lat {_num(x)} in China; GeoJSON positions are [longitude, latitude] — swap them."
                )
            else:
                detail = (
                    f"{n} of {m} vertices are outside lon -180..180 / lat -90..90, e.g. [{_num(x)}, {_num(y)}]; "
                    "the file must be WGS-84 degrees (is it in a projected CRS such as metres?)."
                )
            problems.append(Problem(f, rec.code, kind, detail))
            bad.add(f)
    return bad


def _build_geometries(records: list[_Feature], rings: _Rings, problems: list[Problem], transform) -> None:
    if not rings.arrays:
        return
    lengths = np.fromiter((len(a) for a in rings.arrays), dtype=np.int64, count=len(rings.arrays))
    coords = np.concatenate(rings.arrays)
    ring_feature = np.asarray(rings.ring_feature, dtype=np.int64)
    vertex_feature = np.repeat(ring_feature, lengths)
    bad = _check_raw_coordinates(coords, vertex_feature, records, problems)

    # Ring structure: at least 4 positions and closed (first position == last position).
    ends = np.cumsum(lengths)
    starts = ends - lengths
    too_short = lengths < 4
    unclosed = ~too_short & np.any(coords[starts] != coords[ends - 1], axis=1)
    reported: set[int] = set()
    for r in np.flatnonzero(too_short | unclosed).tolist():
        f = int(ring_feature[r])
        if f in reported:
            continue
        reported.add(f)
        rec = records[f]
        where = f"ring {rings.ring_no[r]} of polygon {rings.ring_poly[r]}"
        if too_short[r]:
            detail = f"{where} has only {lengths[r]} positions; a closed ring needs at least 4."
        else:
            a, b = coords[starts[r]], coords[ends[r] - 1]
            detail = (
                f"{where} is not closed: it starts at [{a[0]:.7f}, {a[1]:.7f}] but ends at [{b[0]:.7f}, {b[1]:.7f}]; "
                "repeat the first position at the end of the ring."
            )
        problems.append(Problem(f, rec.code, "invalid-geometry", detail))
    bad |= reported

    # Build MultiPolygons of the remaining features in one vectorised call.
    keep_ring = np.fromiter((f not in bad for f in rings.ring_feature), dtype=bool, count=len(rings.ring_feature))
    if not keep_ring.any():
        return
    keep_feats = [f for f in rings.feature_npolys if f not in bad]
    ring_offsets = np.concatenate([[0], np.cumsum(lengths[keep_ring])])
    poly_owner = np.repeat(list(rings.feature_npolys), list(rings.feature_npolys.values()))
    poly_keep = np.fromiter((f not in bad for f in poly_owner.tolist()), dtype=bool, count=len(poly_owner))
    poly_offsets = np.concatenate([[0], np.cumsum(np.asarray(rings.poly_nrings, dtype=np.int64)[poly_keep])])
    geom_offsets = np.concatenate([[0], np.cumsum([rings.feature_npolys[f] for f in keep_feats])])
    geoms = shapely.from_ragged_array(
        GeometryType.MULTIPOLYGON,
        np.ascontiguousarray(coords[np.repeat(keep_ring, lengths)]),
        (ring_offsets, poly_offsets, geom_offsets),
    )
    if transform is not None:
        geoms = _apply_transform(geoms, keep_feats, transform, records, problems)
    valid = shapely.is_valid(geoms)
    empty = shapely.is_empty(geoms)
    reasons = np.full(len(geoms), None, dtype=object)
    if not valid.all():
        reasons[~valid] = shapely.is_valid_reason(geoms[~valid])
    for k, f in enumerate(keep_feats):
        rec = records[f]
        if geoms[k] is None:
            continue  # rejected by the transform
        rec.geom = geoms[k]
        if empty[k]:
            problems.append(Problem(f, rec.code, "empty-geometry", f"{_label(rec.code, f)} has an empty geometry."))
        elif not valid[k]:
            problems.append(
                Problem(
                    f,
                    rec.code,
                    "invalid-geometry",
                    f"{_label(rec.code, f)} has an invalid geometry: {reasons[k]} "
                    "(shapely explain_validity; fix self-crossing edges, spikes or overlapping parts).",
                )
            )
        else:
            rec.geom_ok = True


def _apply_transform(geoms: np.ndarray, feats: list[int], transform, records: list[_Feature], problems) -> np.ndarray:
    """Apply the datum transform to all geometries at once; if it raises ValueError, find the culprits."""
    try:
        return shapely.transform(geoms, transform)
    except ValueError:
        pass
    out = np.empty(len(geoms), dtype=object)
    for k, f in enumerate(feats):
        try:
            out[k] = shapely.transform(geoms[k], transform)
        except ValueError as exc:
            problems.append(
                Problem(
                    f,
                    records[f].code,
                    "coordinate-out-of-range",
                    f"the datum conversion to WGS-84 rejected the coordinates of {_label(records[f].code, f)}: {exc}",
                )
            )
    return out


def _check_hierarchy(records: list[_Feature], problems: list[Problem]) -> tuple[dict[int, int], set[int]]:
    """Duplicate codes, county count and parent links.

    Return ``{child index: parent index}`` for children whose parent exists with the right level, and
    the indices of parents that have a child of unknown level.
    """
    first: dict[str, int] = {}
    for rec in records:
        if rec.code is None:
            continue
        if rec.code in first:
            j = first[rec.code]
            rec.duplicate = True
            problems.append(
                Problem(
                    rec.index,
                    rec.code,
                    "duplicate-code",
                    f"code '{rec.code}' is already used by feature #{j} ({records[j].name or 'unnamed'}); "
                    "codes must be unique.",
                )
            )
        else:
            first[rec.code] = rec.index
    counties = [rec for rec in records if rec.level == "county"]
    if not counties:
        problems.append(
            Problem(None, None, "no-county", "the file has no feature with level 'county'; it needs exactly one.")
        )
    for rec in counties[1:]:
        problems.append(
            Problem(
                rec.index,
                rec.code,
                "multiple-counties",
                f"a second county '{rec.code}' (feature #{rec.index}); the file already has county "
                f"'{counties[0].code}' (feature #{counties[0].index}). Import one county per file.",
            )
        )
    links: dict[int, int] = {}
    unknown_level_parents: set[int] = set()
    for rec in records:
        if rec.parent_code is None:
            continue
        j = first.get(rec.parent_code)
        if rec.level is None:  # missing or unknown level, reported already
            if j is not None:
                unknown_level_parents.add(j)
                if rec.code is not None and not rec.code.startswith(rec.parent_code):
                    problems.append(_not_under(rec, records[j]))
            continue
        if rec.level == "county":
            if j is None:
                problems.append(
                    Problem(
                        rec.index,
                        rec.code,
                        "unknown-parent",
                        f"the county's parent_code must be null, but it is '{rec.parent_code}' "
                        "which is not in this file.",
                    )
                )
            else:
                problems.append(
                    Problem(
                        rec.index,
                        rec.code,
                        "wrong-parent-level",
                        f"a county has no parent, but parent_code is '{rec.parent_code}' "
                        f"(a {records[j].level or 'feature'}); set it to null.",
                    )
                )
            continue
        if j is None:
            problems.append(
                Problem(
                    rec.index,
                    rec.code,
                    "unknown-parent",
                    f"parent_code '{rec.parent_code}' of {rec.level} {_label(rec.code, rec.index)} is not the code "
                    "of any feature in this file.",
                )
            )
            continue
        parent = records[j]
        if rec.code is not None and not rec.code.startswith(rec.parent_code):
            problems.append(_not_under(rec, parent))
        expected = PARENT_LEVEL[rec.level]
        if parent.level is None:
            unknown_level_parents.add(j)  # not a real parent link; its level problem is reported on it
            continue
        if parent.level != expected:
            problems.append(
                Problem(
                    rec.index,
                    rec.code,
                    "wrong-parent-level",
                    f"the parent of a {rec.level} must be a {expected}, but '{parent.code}' is a {parent.level} "
                    f"(hierarchy: county > township > village > grid).",
                )
            )
            continue
        links[rec.index] = j
    return links, unknown_level_parents


def _not_under(rec: _Feature, parent: _Feature) -> Problem:
    return Problem(
        rec.index,
        rec.code,
        "code-not-under-parent",
        f"code '{rec.code}' does not start with its parent's code '{parent.code}'; a child's code is its "
        "parent's code followed by 3 digits.",
    )


def _frame(origin: np.ndarray) -> np.ndarray:
    """Metres per degree (lon, lat) for local frames centred on ``origin`` (n, 2)."""
    return np.column_stack(
        [METRES_PER_DEGREE * np.cos(np.radians(origin[:, 1])), np.full(len(origin), METRES_PER_DEGREE)]
    )


def _to_metres(geoms: np.ndarray, origin: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Express geometry k in metres east/north of ``origin[k]`` (vectorised over all coordinates)."""
    xy, idx = shapely.get_coordinates(geoms, return_index=True)
    return shapely.set_coordinates(geoms.copy(), (xy - origin[idx]) * scale[idx])


def _beyond_tolerance(children: np.ndarray, parent_ids: np.ndarray, geoms: np.ndarray, tol_m: float) -> np.ndarray:
    """Vectorised exact test: is the child NOT inside its parent grown by ``tol_m`` metres?

    Each parent is buffered once, in metres around its centroid, and the children are expressed
    in the same frame. (quad_segs=32: the buffer's arcs are within 0.12 % of ``tol_m``.)
    """
    uniq, inv = np.unique(parent_ids, return_inverse=True)
    pg = geoms[uniq]
    origin = shapely.get_coordinates(shapely.centroid(pg))
    scale = _frame(origin)
    grown = shapely.buffer(_to_metres(pg, origin, scale), tol_m, quad_segs=32)
    shapely.prepare(grown)
    return ~shapely.covers(grown[inv], _to_metres(children, origin[inv], scale[inv]))


def _overhangs(
    children: np.ndarray, parents: np.ndarray, tol_m: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Vectorised: how far each child sticks out of its parent.

    Returns (max overhang m, outside area m², lon, lat of the farthest point) per pair. The overhang
    is the largest distance from the parent of points sampled at most ``tol_m`` apart (at most
    2,000 per child) along the boundary of ``child - parent``, or the radius of that part's maximum
    inscribed circle when larger.
    """
    origin = shapely.get_coordinates(shapely.centroid(children))
    scale = _frame(origin)
    c, p = _to_metres(children, origin, scale), _to_metres(parents, origin, scale)
    outside = shapely.difference(c, p)
    area = shapely.area(outside)
    n = len(children)
    best = np.zeros(n)
    where = np.zeros((n, 2))
    has = ~shapely.is_empty(outside)
    if has.any():
        step = np.maximum(tol_m, shapely.length(outside) / 2000.0)
        pts, idx = shapely.get_coordinates(
            shapely.segmentize(shapely.boundary(outside[has]), step[has]), return_index=True
        )
        rows = np.flatnonzero(has)[idx]
        dist = shapely.distance(p[rows], shapely.points(pts))
        order = np.lexsort((-dist, rows))  # per child, farthest point first
        first = order[np.r_[True, rows[order][1:] != rows[order][:-1]]]
        best[rows[first]] = dist[first]
        where[rows[first]] = pts[first]
        mic = shapely.maximum_inscribed_circle(outside[has], tolerance=step[has])
        ends = shapely.get_coordinates(mic).reshape(-1, 2, 2)
        radius = np.hypot(*(ends[:, 0] - ends[:, 1]).T)
        k = np.flatnonzero(has)
        larger = radius > best[k]
        best[k[larger]] = radius[larger]
        where[k[larger]] = ends[larger, 0]
    lonlat = where / scale + origin
    return best, area, lonlat[:, 0], lonlat[:, 1]


def _gap_location(gap: shapely.Geometry) -> tuple[int, float, float]:
    parts = shapely.get_parts(gap)
    parts = parts[shapely.area(parts) > 0] if len(parts) else parts
    if not len(parts):
        return 0, float("nan"), float("nan")
    largest = parts[int(np.argmax(shapely.area(parts)))]
    x, y = shapely.get_coordinates(shapely.point_on_surface(largest))[0]
    return len(parts), float(x), float(y)


def _check_level(
    level: str,
    records: list[_Feature],
    geoms: np.ndarray,
    links: dict[int, int],
    unknown_level_parents: set[int],
    tol: Tolerances,
    problems: list[Problem],
    bar: tqdm,
) -> None:
    """Geometric checks between the areas of ``level`` and their children (the level below)."""
    child_level = CHILD_LEVEL[level]
    parents = [rec for rec in records if rec.level == level and rec.geom_ok and not rec.duplicate]
    # Parents with a child whose geometry or level can't be used: their gap can't be measured.
    incomplete = {j for j in unknown_level_parents if records[j].level == level}
    kids: dict[int, list[int]] = defaultdict(list)
    for c, j in links.items():
        if records[j].level != level:
            continue
        if records[c].geom_ok:
            kids[j].append(c)
        else:
            incomplete.add(j)

    # All usable children of this level with their (possibly unusable) parents.
    child_idx = np.array([c for p in sorted(kids) for c in kids[p]], dtype=np.int64)
    parent_idx = np.array([p for p in sorted(kids) for _ in kids[p]], dtype=np.int64)
    # outside-parent
    covered = np.ones(len(child_idx), dtype=bool)
    if len(child_idx):
        usable_parent = np.array([records[p].geom_ok for p in parent_idx.tolist()], dtype=bool)
        pg = geoms[parent_idx[usable_parent]]
        shapely.prepare(pg)
        covered[usable_parent] = shapely.covers(pg, geoms[child_idx[usable_parent]])
        bad = np.flatnonzero(~covered)
        if len(bad):
            bad = bad[_beyond_tolerance(geoms[child_idx[bad]], parent_idx[bad], geoms, tol.parent_m)]
        if len(bad):
            metres, out_area, lon, lat = _overhangs(geoms[child_idx[bad]], geoms[parent_idx[bad]], tol.parent_m)
            for k in range(len(bad)):
                c, p = records[int(child_idx[bad[k]])], records[int(parent_idx[bad[k]])]
                by = f"up to {metres[k]:,.1f} m" if metres[k] > tol.parent_m else f"more than {tol.parent_m:g} m"
                problems.append(
                    Problem(
                        c.index,
                        c.code,
                        "outside-parent",
                        f"{c.level} {_label(c.code, c.index)} sticks out of its parent {p.level} "
                        f"{_label(p.code, p.index)} by {by} (outside area {_fmt_m2(out_area[k])}), "
                        f"farthest near {_fmt_pt(lon[k], lat[k])}; tolerance {tol.parent_m:g} m.",
                    )
                )
        bar.update(len(child_idx) // 2)

    # overlap: exact coverage check over the whole level, pairwise only where it fails
    slow: set[int] = set()
    if len(child_idx):
        invalid_edges = shapely.coverage_invalid_edges(geoms[child_idx])
        bad = ~shapely.is_empty(invalid_edges)
        slow = set(parent_idx[bad].tolist())
    for p in sorted(slow):
        members = np.array(kids[p], dtype=np.int64)
        g = geoms[members]
        tree = shapely.STRtree(g)
        a, b = tree.query(g, predicate="intersects")
        keep = a < b
        a, b = a[keep], b[keep]
        if not len(a):
            continue
        inter = shapely.intersection(g[a], g[b])
        lat = shapely.get_coordinates(shapely.centroid(inter))[:, 1] if len(inter) else np.empty(0)
        areas = area_m2(shapely.area(inter), lat)
        for k in np.flatnonzero(areas > tol.overlap_m2).tolist():
            x, y = shapely.get_coordinates(shapely.point_on_surface(inter[k]))[0]
            first, second = records[int(members[a[k]])], records[int(members[b[k]])]
            if second.index < first.index:
                first, second = second, first
            problems.append(
                Problem(
                    first.index,
                    first.code,
                    "overlap",
                    f"{child_level} {_label(first.code, first.index)} and {_label(second.code, second.index)} "
                    f"(feature #{second.index}) in {level} '{records[p].code}' overlap by {_fmt_m2(float(areas[k]))} "
                    f"near {_fmt_pt(x, y)}; tolerance {_fmt_m2(tol.overlap_m2)}.",
                )
            )

    # gap
    child_area = np.zeros(len(records))
    if len(child_idx):
        np.add.at(child_area, parent_idx, shapely.area(geoms[child_idx]))
    not_covered_parents = set(parent_idx[~covered].tolist())
    usable = [p for p in parents if p.index not in incomplete]
    if usable:
        pg = geoms[[p.index for p in usable]]
        lat = shapely.get_coordinates(shapely.centroid(pg))[:, 1]
        parent_area = shapely.area(pg)
        for k, p in enumerate(usable):
            members = kids.get(p.index, [])
            if not members:
                total = float(area_m2(parent_area[k], lat[k]))
                if total > tol.gap_m2:
                    x, y = shapely.get_coordinates(shapely.point_on_surface(p.geom))[0]
                    problems.append(
                        Problem(
                            p.index,
                            p.code,
                            "gap",
                            f"{level} {_label(p.code, p.index)} has no {child_level} at all, so its whole area "
                            f"{_fmt_m2(total)} is uncovered (e.g. near {_fmt_pt(x, y)}); "
                            f"divide it into {child_level}s.",
                        )
                    )
                continue
            exact = p.index not in slow and p.index not in not_covered_parents
            if exact:
                gap = float(area_m2(parent_area[k] - child_area[p.index], lat[k]))
                if gap <= tol.gap_m2:
                    continue
                union = shapely.coverage_union_all(geoms[members])
            else:
                union = shapely.union_all(geoms[members])
            uncovered = shapely.difference(p.geom, union)
            gap = float(area_m2(shapely.area(uncovered), lat[k]))
            if gap <= tol.gap_m2:
                continue
            n, x, y = _gap_location(uncovered)
            problems.append(
                Problem(
                    p.index,
                    p.code,
                    "gap",
                    f"{_fmt_m2(gap)} of {level} {_label(p.code, p.index)} is not covered by any of its "
                    f"{child_level}s ({n} piece{'s' if n != 1 else ''}; the largest near {_fmt_pt(x, y)}); "
                    f"tolerance {_fmt_m2(tol.gap_m2)}.",
                )
            )
    bar.update(len(child_idx) - len(child_idx) // 2)


def validate_feature_collection(
    fc: dict,
    *,
    transform: Callable[[np.ndarray], np.ndarray] | None = None,
    tolerances: Tolerances = Tolerances(),
    progress: bool = False,
) -> ValidationReport:
    """Validate a grid-map FeatureCollection (already parsed from JSON) and report every problem.

    ``transform``, if given, maps an (N, 2) array of lon/lat to WGS-84 (e.g. GCJ-02 -> WGS-84); it
    is applied with ``shapely.transform`` after the raw coordinate checks and before the geometric
    checks. ``report.areas`` holds the features with code, level and a buildable geometry (always a
    MultiPolygon in WGS-84), in input order; rely on it only when ``report.ok``.
    """
    tol = tolerances
    counts = dict.fromkeys(LEVELS, 0)
    if not isinstance(fc, dict) or fc.get("type") != "FeatureCollection" or not isinstance(fc.get("features"), list):
        what = fc.get("type") if isinstance(fc, dict) else type(fc).__name__
        return ValidationReport(
            [],
            [
                Problem(
                    None,
                    None,
                    "not-a-feature-collection",
                    f"expected a GeoJSON FeatureCollection with a 'features' array, got {what!r}.",
                )
            ],
            counts,
        )
    features = fc["features"]
    problems: list[Problem] = []
    records = [_Feature(i) for i in range(len(features))]
    rings = _Rings()
    bar = tqdm(total=2 * len(features), unit="feature", disable=not progress, file=sys.stderr, desc="validate")
    for i, feat in enumerate(features):
        if i % 4096 == 4095:
            bar.update(4096)
        if not isinstance(feat, dict) or feat.get("type") != "Feature":
            what = feat.get("type") if isinstance(feat, dict) else type(feat).__name__
            problems.append(
                Problem(i, None, "not-a-feature", f"feature #{i} is not a GeoJSON Feature (type {what!r}).")
            )
            continue
        rec = records[i]
        _parse_properties(i, feat, rec, problems)
        _parse_geometry(i, rec.code, feat.get("geometry"), rings, problems)
    _build_geometries(records, rings, problems, transform)
    bar.update(len(features) - bar.n)
    for rec in records:
        if rec.level is not None:
            counts[rec.level] += 1
    links, unknown_level_parents = _check_hierarchy(records, problems)
    geoms = np.empty(len(records), dtype=object)
    geoms[:] = [rec.geom for rec in records]
    for level in ("village", "township", "county"):
        _check_level(level, records, geoms, links, unknown_level_parents, tol, problems, bar)
    bar.update(bar.total - bar.n)
    bar.close()

    areas = [
        ParsedArea(rec.index, rec.code, rec.name or "", rec.level, rec.parent_code, rec.geom)
        for rec in records
        if rec.code is not None and rec.level is not None and rec.geom is not None
    ]
    problems.sort(key=lambda p: -1 if p.index is None else p.index)
    return ValidationReport(areas, problems, counts)
