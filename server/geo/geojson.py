"""The one place where area rows become GeoJSON (as pygeoapi's provider does)."""

from __future__ import annotations

import shapely
from flask import request, url_for
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


PAGE_TITLES = {"self": "This page", "next": "Next page", "prev": "Previous page"}


def page_links(endpoint: str, *, limit: int, offset: int, total: int, external: bool = False, **path) -> list[dict]:
    """self / next / prev links of a paged GeoJSON list, keeping the request's other query parameters."""
    query = {k: v for k, v in request.args.items() if k not in ("limit", "offset")}

    def link(rel: str, at: int) -> dict:
        href = url_for(endpoint, _external=external, **path, **query, limit=limit, offset=at)
        return {"href": href, "rel": rel, "type": "application/geo+json", "title": PAGE_TITLES[rel]}

    links = [link("self", offset)]
    if offset + limit < total:
        links.append(link("next", offset + limit))
    if offset > 0:
        links.append(link("prev", max(offset - limit, 0)))
    return links
