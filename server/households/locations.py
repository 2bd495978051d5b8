"""A location as phones send it ({lon, lat, datum, accuracy_m}) -> canonical WGS-84 plus the raw values."""

from __future__ import annotations

from dataclasses import dataclass

import shapely
from geoalchemy2.shape import to_shape

from server.geo import datum


@dataclass(frozen=True)
class PointInput:
    lon: float  # WGS-84
    lat: float
    datum: str  # canonical name of the source datum
    raw_lon: float
    raw_lat: float
    accuracy_m: float | None

    @property
    def ewkt(self) -> str:
        return f"SRID=4326;POINT({self.lon!r} {self.lat!r})"


def point_input(location: dict) -> PointInput:
    """Validate and convert; a DatumError becomes a 422 problem (server.errors)."""
    name = datum.normalise_datum(location.get("datum", "wgs84"))
    lon, lat = float(location["lon"]), float(location["lat"])
    wgs_lon, wgs_lat = datum.to_wgs84(lon, lat, name)
    return PointInput(wgs_lon, wgs_lat, name, lon, lat, location.get("accuracy_m"))


def lonlat(geometry) -> tuple[float, float]:
    """(lon, lat) of a POINT column's value: as loaded (WKB), or as just assigned (an EWKT string)."""
    if isinstance(geometry, str):
        return tuple(shapely.get_coordinates(shapely.from_wkt(geometry.split(";", 1)[-1]))[0].tolist())
    point = to_shape(geometry)
    return point.x, point.y
