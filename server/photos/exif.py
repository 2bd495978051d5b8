"""Facts read from a photo's EXIF before it is stripped: where (GPS) and when (DateTimeOriginal) it was taken.

The facts are for corroborating a tip (was the photo taken near the reported place, around the reported time?) and
are kept privately by the caller; the stored photo never carries them.

GPS
    GPSInfo IFD tags 1-4 (LatitudeRef, Latitude, LongitudeRef, Longitude). Each coordinate is three rationals
    (degrees, minutes, seconds) and becomes ``deg + min/60 + sec/3600``, negative for S and W. Phone EXIF GPS is
    WGS-84. A missing or unknown hemisphere reference, a zero denominator, a value out of range or the exact
    point (0, 0) (written by phones that had no fix) all give ``lon = lat = None``: both or neither.
Time
    DateTimeOriginal (0x9003, Exif IFD; IFD0 as a fallback for writers that put it there) with
    SubSecTimeOriginal (0x9291) and OffsetTimeOriginal (0x9011, "+08:00") when present. Without an offset the
    naive time is taken as Asia/Shanghai local time (the phones this serves are set to China time), so
    ``taken_at`` is always timezone-aware. Placeholders such as "0000:00:00 00:00:00" and dates before 1990 (a
    phone whose clock was reset) give ``None``.

Nothing here raises on bad EXIF: whatever cannot be read becomes ``None``.
"""

from __future__ import annotations

import math
import re
import struct
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from PIL import ExifTags, Image

try:
    CHINA_TZ: tzinfo = ZoneInfo("Asia/Shanghai")
except ZoneInfoNotFoundError:  # no tzdata on the machine: China has been UTC+8 without DST since 1991
    CHINA_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")

ORIENTATION = 0x0112
_GPS_LAT_REF, _GPS_LAT, _GPS_LON_REF, _GPS_LON = 1, 2, 3, 4
_DATETIME_ORIGINAL, _OFFSET_TIME_ORIGINAL, _SUBSEC_TIME_ORIGINAL = 0x9003, 0x9011, 0x9291
_OFFSET = re.compile(r"^([+-])(\d{2}):?(\d{2})$")
# Errors Pillow's EXIF parser and our own conversions can raise on hostile or broken EXIF blocks.
EXIF_ERRORS = (ValueError, TypeError, KeyError, IndexError, AttributeError, ZeroDivisionError, OSError, SyntaxError)
EXIF_ERRORS += (struct.error, OverflowError, UnicodeDecodeError)


@dataclass(frozen=True)
class ExifFacts:
    """Read BEFORE stripping; kept privately by the caller. ``lon``/``lat`` are WGS-84 decimal degrees."""

    lon: float | None = None
    lat: float | None = None
    taken_at: datetime | None = None


NO_FACTS = ExifFacts()


def read_exif(img: Image.Image) -> Image.Exif | None:
    """The image's EXIF, or None when there is none or it cannot be parsed."""
    try:
        exif = img.getexif()
    except EXIF_ERRORS:
        return None
    return exif if len(exif) else None


def read_facts(exif: Image.Exif | None) -> ExifFacts:
    if exif is None:
        return NO_FACTS
    lon, lat = _gps(exif)
    return ExifFacts(lon=lon, lat=lat, taken_at=_taken_at(exif))


def orientation(exif: Image.Exif | None) -> int:
    """EXIF Orientation 1..8; anything missing or malformed counts as 1 (no transform)."""
    if exif is None:
        return 1
    try:
        value = int(exif.get(ORIENTATION, 1))
    except EXIF_ERRORS:
        return 1
    return value if 1 <= value <= 8 else 1


def _gps(exif: Image.Exif) -> tuple[float | None, float | None]:
    try:
        gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
        lat = _coordinate(gps.get(_GPS_LAT), gps.get(_GPS_LAT_REF), "N", "S", 90.0)
        lon = _coordinate(gps.get(_GPS_LON), gps.get(_GPS_LON_REF), "E", "W", 180.0)
    except EXIF_ERRORS:
        return None, None
    if lat is None or lon is None or (lat == 0.0 and lon == 0.0):
        return None, None
    return lon, lat


def _coordinate(value, ref, positive: str, negative: str, limit: float) -> float | None:
    hemisphere = _text(ref).upper()[:1]
    if value is None or hemisphere not in (positive, negative):
        return None
    parts = list(value) if isinstance(value, tuple | list) else [value]
    if not 1 <= len(parts) <= 3:
        return None
    degrees = 0.0
    for part, scale in zip(parts, (1.0, 60.0, 3600.0), strict=False):
        number = float(part)  # IFDRational with a zero denominator is nan
        if not math.isfinite(number) or number < 0:
            return None
        degrees += number / scale
    if degrees > limit:
        return None
    return -degrees if hemisphere == negative else degrees


def _taken_at(exif: Image.Exif) -> datetime | None:
    try:
        sub = exif.get_ifd(ExifTags.IFD.Exif)
        raw = _text(sub.get(_DATETIME_ORIGINAL) or exif.get(_DATETIME_ORIGINAL))
        if not raw:
            return None
        naive = _parse_datetime(raw)
        if naive is None:
            return None
        fraction = re.sub(r"\D", "", _text(sub.get(_SUBSEC_TIME_ORIGINAL)))[:6]
        if fraction:
            naive = naive.replace(microsecond=int(fraction.ljust(6, "0")))
        offset = _offset(_text(sub.get(_OFFSET_TIME_ORIGINAL)))
    except EXIF_ERRORS:
        return None
    return naive.replace(tzinfo=offset or CHINA_TZ)


def _parse_datetime(raw: str) -> datetime | None:
    # "YYYY:MM:DD HH:MM:SS" per the standard; some writers use "-" in the date or "T" as the separator.
    match = re.match(r"^(\d{4})[:-](\d{2})[:-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})", raw)
    if not match:
        return None
    try:
        value = datetime(*(int(g) for g in match.groups()))  # noqa: DTZ001 - zone attached by the caller
    except ValueError:  # 0000:00:00 placeholders, month 13, ...
        return None
    return value if value.year >= 1990 else None


def _offset(raw: str) -> timezone | None:
    match = _OFFSET.match(raw)
    if not match:
        return None
    sign, hours, minutes = match.groups()
    delta = timedelta(hours=int(hours), minutes=int(minutes))
    if delta > timedelta(hours=14) or int(minutes) >= 60:
        return None
    return timezone(-delta if sign == "-" else delta)


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    return str(value).replace("\x00", "").strip()
