"""The one place where area rows become GeoJSON (as pygeoapi's provider does)."""

from __future__ import annotations

import shapely
from geoalchemy2.shape import to_shape

from server.areas.models import LEVEL_LABELS_ZH


def area_properties(area) -> dict:
    return {
        "code": area.code,
        "name": area.name,
        "level": area.level,
        "level_zh": LEVEL_LABELS_ZH[area.level],
        "parent_code": area.parent_code,
        "generation_id": area.generation_id,
    }


def geometry_of(area) -> dict:
    return shapely.geometry.mapping(to_shape(area.geom))


def area_feature(area) -> dict:
    return {"type": "Feature", "id": area.code, "geometry": geometry_of(area), "properties": area_properties(area)}


def feature_collection(features: list[dict], *, total: int, links: list[dict]) -> dict:
    return {
        "type": "FeatureCollection",
        "features": features,
        "numberMatched": total,
        "numberReturned": len(features),
        "links": links,
    }
