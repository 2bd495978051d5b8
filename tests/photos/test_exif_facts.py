"""EXIF facts (GPS and time of taking) are read correctly before stripping, and bad EXIF never crashes."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

import pytest
from PIL import ExifTags, Image
from PIL.TiffImagePlugin import IFDRational

from server.photos import ExifFacts, corroboration_distance_m, process_photo
from server.photos.exif import orientation, read_facts
from tests.photos import helpers as h

SMALL = h.photo_like(96, 64)


def _facts(**exif_kwargs) -> ExifFacts:
    return process_photo(h.save(SMALL, "JPEG", exif=h.exif_bytes(**exif_kwargs))).exif


def test_gps_rationals_become_decimal_degrees():
    facts = _facts()
    assert abs(facts.lat - 31.229352777777778) < 1e-6  # 31 + 13/60 + 45.67/3600
    assert abs(facts.lon - 121.47009444444444) < 1e-6  # 121 + 28/60 + 12.34/3600


@pytest.mark.parametrize(("lat_ref", "lon_ref", "sign_lat", "sign_lon"), [("S", "W", -1, -1), ("N", "W", 1, -1)])
def test_south_and_west_are_negative(lat_ref, lon_ref, sign_lat, sign_lon):
    facts = _facts(gps={1: lat_ref, 2: h.LAT_DMS, 3: lon_ref, 4: h.LON_DMS})
    assert abs(facts.lat - sign_lat * h.LAT) < 1e-6 and abs(facts.lon - sign_lon * h.LON) < 1e-6


def test_decimal_minutes_as_written_by_some_phones():
    gps = {1: "N", 2: (IFDRational(39, 1), IFDRational(543210, 10000), IFDRational(0, 1)), 3: "E"}
    gps[4] = (IFDRational(116, 1), IFDRational(234567, 10000), IFDRational(0, 1))
    facts = _facts(gps=gps)
    assert abs(facts.lat - (39 + 54.321 / 60)) < 1e-6 and abs(facts.lon - (116 + 23.4567 / 60)) < 1e-6


def test_time_with_offset():
    facts = _facts(when="2026:11:28 14:03:05", offset="+08:00", subsec="123")
    assert facts.taken_at == datetime(2026, 11, 28, 14, 3, 5, 123000, tzinfo=timezone(timedelta(hours=8)))
    assert facts.taken_at.utcoffset() == timedelta(hours=8)


def test_time_with_another_offset_is_kept_exact():
    facts = _facts(when="2026:07:01 09:30:00", offset="-05:00")
    assert facts.taken_at.astimezone(UTC) == datetime(2026, 7, 1, 14, 30, tzinfo=UTC)


def test_naive_time_is_china_local_time():
    facts = _facts(when="2026:11:28 14:03:05", offset=None)
    assert facts.taken_at.utcoffset() == timedelta(hours=8)
    assert facts.taken_at.astimezone(UTC) == datetime(2026, 11, 28, 6, 3, 5, tzinfo=UTC)


def test_corroboration_distance_uses_wgs84_haversine():
    facts = _facts()
    assert corroboration_distance_m(facts, h.LON, h.LAT) == pytest.approx(0.0, abs=1e-6)
    # 0.001 degree of latitude on the 6371008.8 m sphere, computed here independently.
    expected = 0.001 * math.pi / 180 * 6371008.8
    assert corroboration_distance_m(facts, h.LON, h.LAT + 0.001) == pytest.approx(expected, rel=1e-6)
    assert corroboration_distance_m(ExifFacts(), h.LON, h.LAT) is None
    assert corroboration_distance_m(ExifFacts(lon=None, lat=h.LAT), h.LON, h.LAT) is None


@pytest.mark.parametrize(
    "gps",
    [
        {2: h.LAT_DMS, 4: h.LON_DMS},  # no hemisphere references
        {1: "N", 2: h.LAT_DMS, 3: "E"},  # no longitude
        {1: "X", 2: h.LAT_DMS, 3: "E", 4: h.LON_DMS},  # unknown reference
        {1: "N", 2: (IFDRational(31, 0), IFDRational(0, 1), IFDRational(0, 1)), 3: "E", 4: h.LON_DMS},  # x/0
        {1: "N", 2: (IFDRational(95, 1), IFDRational(0, 1), IFDRational(0, 1)), 3: "E", 4: h.LON_DMS},  # > 90
        {1: "N", 2: (IFDRational(0, 1),) * 3, 3: "E", 4: (IFDRational(0, 1),) * 3},  # (0, 0): no fix
    ],
)
def test_bad_or_partial_gps_gives_none(gps):
    facts = _facts(gps=gps)
    assert facts.lon is None and facts.lat is None
    assert facts.taken_at is not None  # the rest of the EXIF is still read


@pytest.mark.parametrize(
    "when", ["0000:00:00 00:00:00", "2026:13:45 25:61:00", "yesterday", "    ", "1970:01:01 08:00:00"]
)
def test_bad_time_gives_none(when):
    facts = _facts(when=when)
    assert facts.taken_at is None
    assert facts.lat is not None  # the GPS is still read


def test_bad_offset_falls_back_to_china_time():
    assert _facts(offset="+25:00").taken_at.utcoffset() == timedelta(hours=8)


def test_no_exif_at_all():
    photo = process_photo(h.save(SMALL, "JPEG"))
    assert photo.exif == ExifFacts(lon=None, lat=None, taken_at=None)


def test_truncated_exif_block_does_not_crash():
    block = h.exif_bytes()
    photo = process_photo(h.save(SMALL, "JPEG", exif=block[: len(block) // 2]))
    assert isinstance(photo.exif, ExifFacts) and photo.width == 96


def test_read_facts_and_orientation_tolerate_junk_values():
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = "sideways"
    exif[ExifTags.IFD.GPSInfo] = {1: b"N\x00", 2: (1, 2), 3: None, 4: object()}
    assert orientation(exif) == 1
    assert read_facts(exif) == ExifFacts()
    exif[ExifTags.Base.Orientation] = 9
    assert orientation(exif) == 1 and orientation(None) == 1
