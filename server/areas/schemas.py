"""Request and response schemas for areas, grids and location. They also generate the OpenAPI."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from server import bounds
from server.accounts.schemas import ResponsibleSchema
from server.geo.datum import DATUMS

LEVEL = ma.fields.String(validate=validate.OneOf(["county", "township", "village", "grid"]))


class AreaQuery(ma.Schema):
    geometry = ma.fields.Boolean(load_default=False, metadata={"description": "Include the MultiPolygon."})
    generation = ma.fields.Integer(
        load_default=None,
        validate=validate.Range(min=1, max=bounds.INT_MAX),
        metadata={"description": "A past map generation id."},
    )


class GenerationQuery(ma.Schema):
    generation = AreaQuery._declared_fields["generation"]


class AreaRefSchema(ma.Schema):
    code = ma.fields.String(metadata={"example": "330899101001001"})
    name = ma.fields.String(metadata={"example": "上方村第1网格"})
    level = LEVEL
    level_zh = ma.fields.String(metadata={"example": "网格"})


class AreaSchema(AreaRefSchema):
    parent_code = ma.fields.String(allow_none=True)
    generation_id = ma.fields.Integer()
    chain = ma.fields.List(ma.fields.Nested(AreaRefSchema), metadata={"description": "Ancestors, nearest first."})
    geometry = ma.fields.Dict(metadata={"description": "GeoJSON MultiPolygon (WGS-84), with ?geometry=true."})


class AreaListSchema(ma.Schema):
    parent = ma.fields.Nested(AreaRefSchema)
    items = ma.fields.List(ma.fields.Nested(AreaSchema))


class LocateQuery(ma.Schema):
    lon = ma.fields.Float(required=True, allow_nan=True, metadata={"example": 118.87, "minimum": -180, "maximum": 180})
    lat = ma.fields.Float(required=True, allow_nan=True, metadata={"example": 28.94, "minimum": -90, "maximum": 90})

    datum = ma.fields.String(
        load_default="wgs84",
        metadata={"enum": list(DATUMS) + ["cgcs2000"], "description": "The datum the point was measured in."},
    )


class PointSchema(ma.Schema):
    lon = ma.fields.Float()
    lat = ma.fields.Float()
    datum = ma.fields.String()


class LocateResultSchema(ma.Schema):
    grid = ma.fields.Nested(AreaRefSchema)
    chain = ma.fields.List(ma.fields.Nested(AreaRefSchema), metadata={"description": "village, township, county"})
    generation_id = ma.fields.Integer()
    snapped = ma.fields.Boolean(metadata={"description": "True when the point was outside every grid but near one."})
    distance_m = ma.fields.Float(metadata={"description": "How far the point was snapped, in metres; 0 if inside."})
    point = ma.fields.Nested(PointSchema, metadata={"description": "The canonical WGS-84 point that was routed."})
    input = ma.fields.Nested(PointSchema, metadata={"description": "The point exactly as sent."})
    responsible = ma.fields.List(
        ma.fields.Nested(ResponsibleSchema),
        metadata={
            "description": "Only with a valid access token: the grid's current chief(s) first, then deputies "
            "(names only; people are private, so anonymous answers have no such field)."
        },
    )


def _parse_bbox(value: str) -> tuple[float, float, float, float]:
    try:
        minx, miny, maxx, maxy = (float(v) for v in value.split(","))
    except ValueError:
        raise ma.ValidationError("bbox must be four numbers: minlon,minlat,maxlon,maxlat.") from None
    if not (-180 <= minx < maxx <= 180 and -90 <= miny < maxy <= 90):
        raise ma.ValidationError("bbox must be minlon,minlat,maxlon,maxlat with min < max, in WGS-84 degrees.")
    return minx, miny, maxx, maxy


class BBoxField(ma.fields.String):
    def _deserialize(self, value, attr, data, **kwargs):
        return _parse_bbox(super()._deserialize(value, attr, data, **kwargs))


class GridsQuery(ma.Schema):
    bbox = BBoxField(
        load_default=None,
        metadata={"example": "118.85,28.88,118.95,28.96", "pattern": r"^-?\d+(\.\d+)?(,-?\d+(\.\d+)?){3}$"},
    )

    within = ma.fields.String(load_default=None, metadata={"description": "An area code: only grids under it."})
    limit = ma.fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))
    offset = bounds.offset()


class FeatureCollectionSchema(ma.Schema):
    type = ma.fields.String(metadata={"example": "FeatureCollection"})
    features = ma.fields.List(ma.fields.Dict())
    numberMatched = ma.fields.Integer()
    numberReturned = ma.fields.Integer()
    links = ma.fields.List(ma.fields.Dict())
