"""Tests for server.geo.datum (WGS-84 / GCJ-02 / BD-09 conversion)."""

import math

import numpy as np
import pytest
import shapely
from hypothesis import example, given, settings
from hypothesis import strategies as st

from server.geo import datum
from server.geo.datum import DatumError

CM = 0.01
QUZHOU = (118.87, 28.94)

# Amap's published example (restapi.amap.com/v3/assistant/coordinate/convert, coordsys=gps).
AMAP_WGS = (116.481499, 39.990475)
AMAP_GCJ = (116.487585177952, 39.991754014757)
# The same point through the public GCJ-02 algorithm (identical to other public ports, e.g. the C# one).
PUBLIC_GCJ = (116.48758557081051, 39.99175425467313)

china_lon = st.floats(73.0, 135.0)
china_lat = st.floats(18.0, 53.0)
china_points = st.tuples(china_lon, china_lat)


def _valid(p):
    try:
        datum.validate_lonlat(*p)
    except DatumError:
        return False
    return True


world_points = st.tuples(st.floats(-180.0, 180.0), st.floats(-90.0, 90.0)).filter(_valid)
any_points = st.one_of(china_points, world_points)


# --------------------------------------------------------------------------- reference vectors


def test_amap_vector_forward():
    lon, lat = datum.wgs84_to_gcj02(*AMAP_WGS)
    # Exact regression value of the public algorithm.
    assert lon == pytest.approx(PUBLIC_GCJ[0], abs=1e-9)
    assert lat == pytest.approx(PUBLIC_GCJ[1], abs=1e-9)
    # Amap's API quantises to 1/3686400 degree and runs an unpublished variant: a few cm apart, not 1e-9.
    assert datum.distance_m(lon, lat, *AMAP_GCJ) < 5 * CM


def test_amap_vector_inverse():
    lon, lat = datum.gcj02_to_wgs84(*PUBLIC_GCJ)
    assert lon == pytest.approx(AMAP_WGS[0], abs=1e-9)
    assert lat == pytest.approx(AMAP_WGS[1], abs=1e-9)
    assert datum.distance_m(*datum.gcj02_to_wgs84(*AMAP_GCJ), *AMAP_WGS) < 5 * CM


def test_amap_vector_through_public_api():
    assert datum.from_wgs84(*AMAP_WGS, "gcj02") == datum.wgs84_to_gcj02(*AMAP_WGS)
    lon, lat = datum.to_wgs84(*PUBLIC_GCJ, "GCJ-02")
    assert abs(lon - AMAP_WGS[0]) < 1e-9 and abs(lat - AMAP_WGS[1]) < 1e-9


def test_bd09_forward_matches_closed_form_and_inverse_beats_it():
    gcj = (116.404, 39.915)
    bd = datum.gcj02_to_bd09(*gcj)
    x, y = gcj
    z = math.sqrt(x * x + y * y) + 0.00002 * math.sin(y * math.pi * 3000.0 / 180.0)
    theta = math.atan2(y, x) + 0.000003 * math.cos(x * math.pi * 3000.0 / 180.0)
    assert bd == pytest.approx((z * math.cos(theta) + 0.0065, z * math.sin(theta) + 0.006), abs=1e-12)
    back = datum.bd09_to_gcj02(*bd)
    assert abs(back[0] - gcj[0]) < 1e-9 and abs(back[1] - gcj[1]) < 1e-9
    approx = datum._bd09_to_gcj02_approx(*bd)
    assert max(abs(approx[0] - gcj[0]), abs(approx[1] - gcj[1])) > 1e-8  # the iteration is doing real work


# --------------------------------------------------------------------------- offsets


def test_offset_magnitude_near_quzhou():
    gcj_m = datum.distance_m(*QUZHOU, *datum.wgs84_to_gcj02(*QUZHOU))
    bd_m = datum.distance_m(*QUZHOU, *datum.wgs84_to_bd09(*QUZHOU))
    print(f"Quzhou offsets: GCJ-02 {gcj_m:.1f} m, BD-09 {bd_m:.1f} m")
    assert 400 < gcj_m < 700 and 800 < bd_m < 1300  # domain doc: ~580 m and ~1 km
    assert abs(gcj_m - 580.3) < 5  # measured 580.3 m
    assert abs(bd_m - 1142.7) < 5  # measured 1142.7 m


@pytest.mark.parametrize(
    "lon,lat",
    [(-0.1276, 51.5072), (-74.006, 40.7128), (151.2093, -33.8688), (72.0, 30.0), (137.9, 35.0), (100.0, 55.9)],
)
def test_outside_china_passes_through_gcj_exactly(lon, lat):
    assert datum.out_of_china(lon, lat)
    assert datum.wgs84_to_gcj02(lon, lat) == (lon, lat)
    assert datum.gcj02_to_wgs84(lon, lat) == (lon, lat)
    assert datum.to_wgs84(lon, lat, "gcj02") == (lon, lat)
    # BD-09 applies everywhere, so outside China it differs from WGS-84 by the BD offset only.
    assert datum.wgs84_to_bd09(lon, lat) == datum.gcj02_to_bd09(lon, lat) != (lon, lat)
    assert datum.distance_m(*datum.bd09_to_wgs84(*datum.wgs84_to_bd09(lon, lat)), lon, lat) < 1e-6


def test_china_box_is_inclusive():
    assert not datum.out_of_china(72.004, 0.8293)
    assert not datum.out_of_china(137.8347, 55.8271)
    assert datum.out_of_china(72.0039, 30.0)
    assert datum.out_of_china(100.0, 55.8272)


# --------------------------------------------------------------------------- round trips (hypothesis)


@settings(max_examples=300, deadline=None)
@given(china_points)
def test_roundtrip_gcj02_under_1cm(p):
    gcj = datum.wgs84_to_gcj02(*p)
    # the offset really is applied (it varies across China: ~580 m at Quzhou, 44 m at 97E 37N)
    assert datum.distance_m(*p, *gcj) > 0.01
    assert datum.distance_m(*p, *datum.gcj02_to_wgs84(*gcj)) < CM


@settings(max_examples=300, deadline=None)
@given(china_points)
def test_roundtrip_bd09_under_1cm(p):
    bd = datum.wgs84_to_bd09(*p)
    assert datum.distance_m(*p, *datum.bd09_to_wgs84(*bd)) < CM
    assert datum.distance_m(*p, *datum.to_wgs84(*datum.from_wgs84(*p, "bd09"), "bd09")) < CM


@settings(max_examples=200, deadline=None)
@given(world_points)
def test_roundtrip_bd09_gcj02_anywhere(p):
    back = datum.bd09_to_gcj02(*datum.gcj02_to_bd09(*p))
    assert abs(back[0] - p[0]) < 1e-9 and abs(back[1] - p[1]) < 1e-9


@settings(max_examples=100, deadline=None)
@given(st.lists(any_points, min_size=1, max_size=40), st.sampled_from(["wgs84", "gcj02", "bd09"]))
def test_array_matches_scalar(points, name):
    coords = np.array(points, dtype=np.float64)
    out = datum.to_wgs84_array(coords, name)
    expected = np.array([datum.to_wgs84(lon, lat, name) for lon, lat in points])
    assert out.shape == coords.shape
    assert np.abs(out - expected).max() < 1e-9
    np.testing.assert_array_equal(coords, np.array(points))  # input not modified


# --------------------------------------------------------------------------- array specifics


def test_array_empty_copy_shape_and_shapely():
    assert datum.to_wgs84_array(np.empty((0, 2)), "bd09").shape == (0, 2)
    coords = np.array([[118.87, 28.94]])
    out = datum.to_wgs84_array(coords, "wgs84")
    assert out is not coords and np.array_equal(out, coords)
    with pytest.raises(ValueError):
        datum.to_wgs84_array(np.zeros((3, 3)), "gcj02")
    line = shapely.LineString([datum.wgs84_to_gcj02(118.87, 28.94), datum.wgs84_to_gcj02(118.88, 28.95)])
    back = shapely.transform(line, lambda c: datum.to_wgs84_array(c, "gcj02"))
    assert np.abs(shapely.get_coordinates(back) - [[118.87, 28.94], [118.88, 28.95]]).max() < 1e-9


@pytest.mark.parametrize(
    "row,slug",
    [
        ((math.nan, 30.0), "coordinate-not-finite"),
        ((181.0, 30.0), "coordinate-out-of-range"),
        ((28.94, 118.87), "coordinates-swapped"),
        ((28.94, 88.0), "coordinates-swapped"),  # both in range, but only the swapped pair is in China
    ],
)
def test_array_validation_reports_row(row, slug):
    coords = np.array([[118.87, 28.94], [-74.0, 40.7], row])
    with pytest.raises(DatumError) as exc:
        datum.to_wgs84_array(coords, "gcj02")
    assert exc.value.slug == slug
    assert exc.value.detail.startswith("row 2: ")


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.floats(-200.0, 200.0), st.sampled_from([math.nan, math.inf, -math.inf])), st.floats(-100.0, 100.0))
@example(180.0, 90.0)
@example(-180.0, -90.0)
@example(55.8271, 72.004)  # swapped pair exactly on the box corner
@example(0.8293, 137.8347)
@example(0.8292, 80.0)
def test_array_validation_agrees_with_scalar(lon, lat):
    try:
        datum.validate_lonlat(lon, lat)
        expected = None
    except DatumError as exc:
        expected = exc.slug
    try:
        datum.to_wgs84_array(np.array([[lon, lat]]), "wgs84")
        got = None
    except DatumError as exc:
        got = exc.slug
    assert got == expected


# --------------------------------------------------------------------------- validation and errors


@pytest.mark.parametrize(
    "lon,lat,slug",
    [
        (math.nan, 30.0, "coordinate-not-finite"),
        (118.0, math.nan, "coordinate-not-finite"),
        (math.inf, 30.0, "coordinate-not-finite"),
        (118.0, -math.inf, "coordinate-not-finite"),
        (181.0, 30.0, "coordinate-out-of-range"),
        (-181.0, 30.0, "coordinate-out-of-range"),
        (118.0, -91.0, "coordinate-out-of-range"),
        (0.0, 91.0, "coordinate-out-of-range"),
        (28.94, 118.87, "coordinates-swapped"),  # Quzhou sent as lat,lon
        (30.5, 104.0, "coordinates-swapped"),  # Chengdu sent as lat,lon
        (28.94, 88.0, "coordinates-swapped"),  # in range, but only the swapped pair (Tibet) is in China
    ],
)
def test_validate_errors(lon, lat, slug):
    with pytest.raises(DatumError) as exc:
        datum.validate_lonlat(lon, lat)
    assert exc.value.slug == slug
    assert isinstance(exc.value, ValueError) and exc.value.detail
    with pytest.raises(DatumError):
        datum.to_wgs84(lon, lat, "wgs84")
    with pytest.raises(DatumError):
        datum.from_wgs84(lon, lat, "bd09")


def test_swapped_detail_mentions_lat_lon():
    with pytest.raises(DatumError) as exc:
        datum.validate_lonlat(28.94, 118.87)
    assert "did you send lat,lon?" in exc.value.detail


@pytest.mark.parametrize("lon,lat", [QUZHOU, (-180.0, -90.0), (180.0, 90.0), (-74.006, 40.7128), (0.0, 0.0)])
def test_validate_accepts(lon, lat):
    datum.validate_lonlat(lon, lat)


def test_unknown_datum():
    with pytest.raises(DatumError) as exc:
        datum.normalise_datum("wgs-85")
    assert exc.value.slug == "unknown-datum"
    assert all(name in exc.value.detail for name in datum.DATUMS)
    for bad in ("", "mercator", None):
        with pytest.raises(DatumError):
            datum.normalise_datum(bad)
    with pytest.raises(DatumError):
        datum.to_wgs84(*QUZHOU, "wgs-85")
    with pytest.raises(DatumError):
        datum.to_wgs84_array(np.array([QUZHOU]), "wgs-85")


@pytest.mark.parametrize(
    "alias,canonical",
    [
        ("cgcs2000", "wgs84"),
        ("CGCS2000", "wgs84"),
        ("WGS-84", "wgs84"),
        ("wgs_84", "wgs84"),
        (" wgs84 ", "wgs84"),
        ("GCJ-02", "gcj02"),
        ("gcj02", "gcj02"),
        ("BD-09", "bd09"),
        ("bd09", "bd09"),
    ],
)
def test_aliases(alias, canonical):
    assert datum.normalise_datum(alias) == canonical
    assert datum.to_wgs84(*QUZHOU, alias) == datum.to_wgs84(*QUZHOU, canonical)


def test_datums_constant():
    assert datum.DATUMS == ("wgs84", "gcj02", "bd09")


def test_distance_m():
    assert datum.distance_m(0.0, 0.0, 0.0, 0.0) == 0.0
    one_degree = 6371008.8 * math.pi / 180.0
    assert datum.distance_m(0.0, 0.0, 1.0, 0.0) == pytest.approx(one_degree, rel=1e-12)
    assert datum.distance_m(10.0, 0.0, 10.0, 1.0) == pytest.approx(one_degree, rel=1e-12)
    assert datum.distance_m(0.0, 0.0, 180.0, 0.0) == pytest.approx(math.pi * 6371008.8, rel=1e-12)
