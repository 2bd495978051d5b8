"""Coordinate datum conversion between WGS-84, GCJ-02 and BD-09.

Datums
------
``wgs84``
    GPS / WGS-84.  China's national datum CGCS2000 differs from WGS-84 by centimetres, far below anything that matters
    for grid governance, so ``cgcs2000`` is accepted as an alias of ``wgs84`` (see :func:`normalise_datum`).
``gcj02``
    The "Mars" datum mandated for published maps in mainland China (Amap/Gaode, Tencent, Apple/Google China tiles).
    It is WGS-84 plus a deliberately non-linear offset of a few hundred metres computed on the Krasovsky 1940
    ellipsoid (``a = 6378245.0``, ``ee = 0.00669342162296594323``).
``bd09``
    Baidu's datum: GCJ-02 plus a further small polar (radius and angle) perturbation and a constant shift of
    ``(+0.0065, +0.006)`` degrees.

All functions take and return ``(lon, lat)`` in decimal degrees, longitude first.

Where the offsets apply
-----------------------
GCJ-02 <-> WGS-84 is applied only inside the rough "China box" used by practically every open implementation
(lon 72.004..137.8347, lat 0.8293..55.8271, bounds inclusive); outside it, points pass through unchanged.  The box is
deliberately coarse: it also covers parts of neighbouring countries, exactly as Amap/Tencent clients behave.
BD-09 <-> GCJ-02 is applied *everywhere*, inside or outside the box, because Baidu applies it everywhere in
practice.  So outside China ``bd09`` differs from ``wgs84`` by the BD offset only.  No wrapping or clamping is
done, so a BD-09 coordinate within ~0.007 degrees of lon +/-180 or lat +/-90 can come out slightly beyond the range.

Inverses
--------
Neither forward transform has a closed-form inverse.  Both inverses solve ``f(x) = target`` by fixed-point iteration
``x <- x - (f(x) - target)``.  For GCJ-02 the start is ``target - (f(target) - target)``; for BD-09 it is the
well-known closed-form approximate inverse (accurate to ~1e-6 degrees).  Iteration stops when both components of the
residual ``f(x) - target`` are below ``_TOLERANCE`` (1e-12 degrees, sub-micrometre, comfortably inside the 1e-9
degree / 1 cm requirement) or after ``_MAX_ITERATIONS`` rounds.  The offsets vary slowly (contraction factor around
1e-3..1e-2 per round), so 3-7 rounds suffice.  The GCJ-02 inverse decides "inside China" on the GCJ-02 input and then
iterates the raw offset without re-checking the box, so it cannot oscillate at the box edge.

Sources of the constants
------------------------
The Krasovsky parameters, the polynomial/sinusoid offset (``_gcj_offset``), the China box and the BD-09 constants
(``x_pi = pi * 3000 / 180``, ``2e-5``, ``3e-6``, ``0.0065``, ``0.006``) are those of the public GCJ-02/BD-09
algorithm as reproduced by eviltransform (googollee), coordtransform (wandergis) and PRCoords.  Amap's published
vector WGS-84 (116.481499, 39.990475) comes out here as (116.48758557081051, 39.99175425467313), the value other
public ports print too.  Amap's own converter API answers (116.487585177952, 39.991754014757), about 4 cm away:
Amap's server quantises its output to 1/3686400 degree (both Amap numbers are exact multiples of it) and runs an
unpublished variant of the original algorithm, so no float formula can match Amap's API to 1e-9; expect agreement
to a few centimetres.  :func:`distance_m` uses the IUGG mean Earth radius 6371008.8 m.

Scalar functions use :mod:`math` (they are on a hot path); :func:`to_wgs84_array` is the vectorised numpy twin for
bulk imports (e.g. via ``shapely.transform``) and agrees with the scalar functions to well under 1e-9 degrees.
"""

from __future__ import annotations

import math

import numpy as np

DATUMS: tuple[str, ...] = ("wgs84", "gcj02", "bd09")

_ALIASES = {
    "wgs84": "wgs84",
    "wgs-84": "wgs84",
    "wgs_84": "wgs84",
    "cgcs2000": "wgs84",
    "gcj02": "gcj02",
    "gcj-02": "gcj02",
    "gcj_02": "gcj02",
    "bd09": "bd09",
    "bd-09": "bd09",
    "bd_09": "bd09",
}

# Krasovsky 1940 ellipsoid, used by the GCJ-02 offset.
_A = 6378245.0
_EE = 0.00669342162296594323
# China bounding box (inclusive) inside which GCJ-02 is applied.
_CHINA_LON = (72.004, 137.8347)
_CHINA_LAT = (0.8293, 55.8271)
# BD-09 constants.
_X_PI = math.pi * 3000.0 / 180.0
_BD_DLON = 0.0065
_BD_DLAT = 0.006

_TOLERANCE = 1e-12
_MAX_ITERATIONS = 30
_EARTH_RADIUS_M = 6371008.8

_PI = math.pi
_DEG = math.pi / 180.0
_sin, _cos, _sqrt, _atan2 = math.sin, math.cos, math.sqrt, math.atan2


class DatumError(ValueError):
    """Raised for bad coordinates or datums. .slug is a stable machine-readable kind, .detail a human sentence.

    Slugs: ``unknown-datum``, ``coordinate-not-finite``, ``coordinate-out-of-range``, ``coordinates-swapped``.
    """

    def __init__(self, slug: str, detail: str):
        super().__init__(detail)
        self.slug = slug
        self.detail = detail


# --------------------------------------------------------------------------- validation


def normalise_datum(name: str) -> str:
    """Return the canonical datum name (one of DATUMS) for *name*.

    Case and surrounding whitespace are ignored.  Aliases: ``cgcs2000``, ``wgs-84``, ``wgs_84`` -> ``wgs84``;
    ``gcj-02``, ``gcj_02`` -> ``gcj02``; ``bd-09``, ``bd_09`` -> ``bd09``.
    """
    key = name.strip().lower() if isinstance(name, str) else None
    if key not in _ALIASES:
        raise DatumError("unknown-datum", f"unknown datum {name!r}; accepted: wgs84 (alias cgcs2000), gcj02, bd09")
    return _ALIASES[key]


def out_of_china(lon: float, lat: float) -> bool:
    """True if the point lies outside the (inclusive) China box where GCJ-02 applies."""
    return not (_CHINA_LON[0] <= lon <= _CHINA_LON[1] and _CHINA_LAT[0] <= lat <= _CHINA_LAT[1])


def validate_lonlat(lon: float, lat: float) -> None:
    """Raise DatumError unless (lon, lat) is a finite, in-range, plausibly ordered coordinate pair.

    Checks, in order:

    1. ``coordinate-not-finite``: either value is NaN or infinite.
    2. ``coordinates-swapped``: the given pair is outside the China box *and* the swapped pair ``(lat, lon)`` is
       inside it.  This is checked before the range check, so it fires both for out-of-range pairs such as
       ``(30.5, 104.0)`` and for in-range ones such as ``(28.94, 118.87)`` read as lon/lat.  Consequence: genuine
       points with lat >= 72.004 and 0.8293 <= lon <= 55.8271 (the Arctic, e.g. Svalbard) are rejected as swapped;
       acceptable for a China-focused service.
    3. ``coordinate-out-of-range``: lon outside [-180, 180] or lat outside [-90, 90].
    """
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise DatumError("coordinate-not-finite", f"coordinates must be finite numbers, got lon={lon!r}, lat={lat!r}")
    if out_of_china(lon, lat) and not out_of_china(lat, lon):
        raise DatumError(
            "coordinates-swapped",
            f"did you send lat,lon? lon={lon!r}, lat={lat!r} is outside China but lon={lat!r}, lat={lon!r} is "
            "inside; send longitude first",
        )
    if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
        raise DatumError(
            "coordinate-out-of-range",
            f"lon must be within [-180, 180] and lat within [-90, 90], got lon={lon!r}, lat={lat!r}",
        )


# --------------------------------------------------------------------------- GCJ-02 (scalar)


def _gcj_offset(lon: float, lat: float) -> tuple[float, float]:
    """Raw GCJ-02 offset (dlon, dlat) in degrees at a WGS-84 point, ignoring the China box."""
    x, y = lon - 105.0, lat - 35.0
    common = (20.0 * _sin(6.0 * x * _PI) + 20.0 * _sin(2.0 * x * _PI)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * _sqrt(abs(x)) + common
    dlat += (20.0 * _sin(y * _PI) + 40.0 * _sin(y / 3.0 * _PI)) * 2.0 / 3.0
    dlat += (160.0 * _sin(y / 12.0 * _PI) + 320.0 * _sin(y * _PI / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * _sqrt(abs(x)) + common
    dlon += (20.0 * _sin(x * _PI) + 40.0 * _sin(x / 3.0 * _PI)) * 2.0 / 3.0
    dlon += (150.0 * _sin(x / 12.0 * _PI) + 300.0 * _sin(x / 30.0 * _PI)) * 2.0 / 3.0
    radlat = lat * _DEG
    magic = 1.0 - _EE * _sin(radlat) ** 2
    sqrtmagic = _sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrtmagic) * _PI)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * _cos(radlat) * _PI)
    return dlon, dlat


def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    """WGS-84 -> GCJ-02; identity outside the China box."""
    if out_of_china(lon, lat):
        return lon, lat
    dlon, dlat = _gcj_offset(lon, lat)
    return lon + dlon, lat + dlat


def gcj02_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    """GCJ-02 -> WGS-84 by fixed-point iteration (see module docstring); identity outside the China box."""
    if out_of_china(lon, lat):
        return lon, lat
    dlon, dlat = _gcj_offset(lon, lat)
    x, y = lon - dlon, lat - dlat
    for _ in range(_MAX_ITERATIONS):
        dlon, dlat = _gcj_offset(x, y)
        rx, ry = x + dlon - lon, y + dlat - lat
        if abs(rx) < _TOLERANCE and abs(ry) < _TOLERANCE:
            break
        x, y = x - rx, y - ry
    return x, y


# --------------------------------------------------------------------------- BD-09 (scalar)


def gcj02_to_bd09(lon: float, lat: float) -> tuple[float, float]:
    """GCJ-02 -> BD-09; applied everywhere (also outside China)."""
    z = _sqrt(lon * lon + lat * lat) + 0.00002 * _sin(lat * _X_PI)
    theta = _atan2(lat, lon) + 0.000003 * _cos(lon * _X_PI)
    return z * _cos(theta) + _BD_DLON, z * _sin(theta) + _BD_DLAT


def _bd09_to_gcj02_approx(lon: float, lat: float) -> tuple[float, float]:
    """The classic closed-form approximate inverse of gcj02_to_bd09 (error ~1e-6 degrees)."""
    x, y = lon - _BD_DLON, lat - _BD_DLAT
    z = _sqrt(x * x + y * y) - 0.00002 * _sin(y * _X_PI)
    theta = _atan2(y, x) - 0.000003 * _cos(x * _X_PI)
    return z * _cos(theta), z * _sin(theta)


def bd09_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    """BD-09 -> GCJ-02: approximate inverse refined by fixed-point iteration to exactness; applied everywhere."""
    x, y = _bd09_to_gcj02_approx(lon, lat)
    for _ in range(_MAX_ITERATIONS):
        bx, by = gcj02_to_bd09(x, y)
        rx, ry = bx - lon, by - lat
        if abs(rx) < _TOLERANCE and abs(ry) < _TOLERANCE:
            break
        x, y = x - rx, y - ry
    return x, y


def wgs84_to_bd09(lon: float, lat: float) -> tuple[float, float]:
    """WGS-84 -> BD-09 (via GCJ-02)."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    """BD-09 -> WGS-84 (via GCJ-02)."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


# --------------------------------------------------------------------------- validated entry points

_TO_WGS84 = {"wgs84": lambda lon, lat: (lon, lat), "gcj02": gcj02_to_wgs84, "bd09": bd09_to_wgs84}
_FROM_WGS84 = {"wgs84": lambda lon, lat: (lon, lat), "gcj02": wgs84_to_gcj02, "bd09": wgs84_to_bd09}


def to_wgs84(lon: float, lat: float, datum: str) -> tuple[float, float]:
    """Validate (lon, lat) and *datum*, then convert the point from *datum* to WGS-84."""
    fn = _TO_WGS84[normalise_datum(datum)]
    validate_lonlat(lon, lat)
    return fn(float(lon), float(lat))


def from_wgs84(lon: float, lat: float, datum: str) -> tuple[float, float]:
    """Validate (lon, lat) and *datum*, then convert the WGS-84 point to *datum*."""
    fn = _FROM_WGS84[normalise_datum(datum)]
    validate_lonlat(lon, lat)
    return fn(float(lon), float(lat))


# --------------------------------------------------------------------------- vectorised (numpy)


def _gcj_offset_np(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised _gcj_offset (same formula, same operation order)."""
    pi = np.pi
    x, y = lon - 105.0, lat - 35.0
    common = (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x)) + common
    dlat += (20.0 * np.sin(y * pi) + 40.0 * np.sin(y / 3.0 * pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * pi) + 320.0 * np.sin(y * pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x)) + common
    dlon += (20.0 * np.sin(x * pi) + 40.0 * np.sin(x / 3.0 * pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * pi) + 300.0 * np.sin(x / 30.0 * pi)) * 2.0 / 3.0
    radlat = lat * _DEG
    magic = 1.0 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrtmagic) * pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * np.cos(radlat) * pi)
    return dlon, dlat


def _gcj02_to_bd09_np(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    z = np.sqrt(lon * lon + lat * lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    return z * np.cos(theta) + _BD_DLON, z * np.sin(theta) + _BD_DLAT


def _solve_np(forward, x: np.ndarray, y: np.ndarray, tx: np.ndarray, ty: np.ndarray):
    """Fixed-point solve forward(x, y) == (tx, ty) from the start (x, y), until every residual < _TOLERANCE."""
    for _ in range(_MAX_ITERATIONS):
        fx, fy = forward(x, y)
        rx, ry = fx - tx, fy - ty
        if not x.size or max(np.abs(rx).max(), np.abs(ry).max()) < _TOLERANCE:
            break
        x, y = x - rx, y - ry
    return x, y


def _gcj02_to_wgs84_np(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    inside = (lon >= _CHINA_LON[0]) & (lon <= _CHINA_LON[1]) & (lat >= _CHINA_LAT[0]) & (lat <= _CHINA_LAT[1])
    out_lon, out_lat = lon.copy(), lat.copy()
    tx, ty = lon[inside], lat[inside]
    dlon, dlat = _gcj_offset_np(tx, ty)

    def forward(x, y):
        ox, oy = _gcj_offset_np(x, y)
        return x + ox, y + oy

    out_lon[inside], out_lat[inside] = _solve_np(forward, tx - dlon, ty - dlat, tx, ty)
    return out_lon, out_lat


def _bd09_to_gcj02_np(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = lon - _BD_DLON, lat - _BD_DLAT
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return _solve_np(_gcj02_to_bd09_np, z * np.cos(theta), z * np.sin(theta), lon, lat)


def _check_array(lon: np.ndarray, lat: np.ndarray) -> None:
    """Vectorised validate_lonlat: re-raise the first bad row's error with its row index.

    The numpy mask only pre-selects suspect rows; validate_lonlat on each suspect row stays the single source of truth.
    """
    with np.errstate(invalid="ignore"):
        finite = np.isfinite(lon) & np.isfinite(lat)
        in_range = (np.abs(lon) <= 180.0) & (np.abs(lat) <= 90.0)
        given_in = (lon >= _CHINA_LON[0]) & (lon <= _CHINA_LON[1]) & (lat >= _CHINA_LAT[0]) & (lat <= _CHINA_LAT[1])
        swap_in = (lat >= _CHINA_LON[0]) & (lat <= _CHINA_LON[1]) & (lon >= _CHINA_LAT[0]) & (lon <= _CHINA_LAT[1])
    for i in np.flatnonzero(~finite | ~in_range | (~given_in & swap_in)):
        try:
            validate_lonlat(float(lon[i]), float(lat[i]))
        except DatumError as exc:
            raise DatumError(exc.slug, f"row {i}: {exc.detail}") from None


def to_wgs84_array(coords: np.ndarray, datum: str) -> np.ndarray:
    """Convert an (N, 2) lon/lat array from *datum* to WGS-84; returns a new float64 (N, 2) array.

    Validates like to_wgs84 (the first offending row is reported, with its index, in the DatumError detail).  Suitable
    as the callback of ``shapely.transform(geom, lambda c: to_wgs84_array(c, datum))``.
    """
    name = normalise_datum(datum)
    arr = np.array(coords, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"coords must be an (N, 2) lon/lat array, got shape {arr.shape}")
    lon, lat = arr[:, 0], arr[:, 1]
    _check_array(lon, lat)
    if name == "bd09":
        lon, lat = _bd09_to_gcj02_np(lon, lat)
    if name in ("gcj02", "bd09"):
        lon, lat = _gcj02_to_wgs84_np(lon, lat)
    return np.column_stack((lon, lat))


# --------------------------------------------------------------------------- distance


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle (haversine) distance in metres on a sphere of radius 6371008.8 m."""
    p1, p2 = lat1 * _DEG, lat2 * _DEG
    h = _sin((p2 - p1) / 2.0) ** 2 + _cos(p1) * _cos(p2) * _sin((lon2 - lon1) * _DEG / 2.0) ** 2
    return 2.0 * _EARTH_RADIUS_M * math.asin(min(1.0, _sqrt(h)))
