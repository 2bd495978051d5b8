"""Coverage as CSV (UTF-8 with a BOM, so that Excel opens the Chinese correctly) and as a choropleth-ready GeoJSON
FeatureCollection. Rows become GeoJSON through server.geo.geojson only."""

from __future__ import annotations

import csv
import io
from urllib.parse import quote

from sqlalchemy import select

from server.areas.models import Area
from server.coverage.fields import ALL_FIELDS
from server.extensions import db
from server.geo.geojson import geometry_of

BOM = "\ufeff"


def _cell(field, value):
    if value is None:
        return ""
    if field.kind == "rate":
        return f"{value * 100:.1f}"
    return value


def csv_text(rows: list[dict], total: dict) -> str:
    """Header: '中文 (english)'; rates in per cent; the last row is the area's total (合计)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([f"{f.zh}(%) {f.name}_pct" if f.kind == "rate" else f"{f.zh} {f.name}" for f in ALL_FIELDS])
    for row in rows:
        writer.writerow([_cell(f, row.get(f.name)) for f in ALL_FIELDS])
    total = dict(total, name=f"合计 {total['name']}")
    writer.writerow([_cell(f, total.get(f.name)) for f in ALL_FIELDS])
    return BOM + out.getvalue()


def attachment(filename: str) -> str:
    """A Content-Disposition value with an ASCII fallback and the UTF-8 name (RFC 6266 / 5987)."""
    ascii_name = filename.encode("ascii", "ignore").decode() or "coverage"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


def geometries(generation_id: int, codes: list[str]) -> dict[str, dict]:
    if not codes:
        return {}
    areas = db.session.scalars(select(Area).where(Area.generation_id == generation_id, Area.code.in_(codes)))
    return {a.code: geometry_of(a) for a in areas}


def feature_collection(rows: list[dict], shapes: dict[str, dict], **members) -> dict:
    features = [
        {"type": "Feature", "id": row["code"], "geometry": shapes.get(row["code"]), "properties": row} for row in rows
    ]
    return {"type": "FeatureCollection", "features": features, **members}
