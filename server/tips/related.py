"""'Possibly related' tips: the same category within GRID_RELATED_RADIUS_M (200 m) and GRID_RELATED_HOURS (72 h).

A bounding box in SQL narrows the candidates (the category + time index does most of the work); the exact
distance is then measured here, on the canonical WGS-84 points.
"""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from sqlalchemy import func, select

from server.extensions import db
from server.geo.datum import distance_m
from server.geo.metric import METRES_PER_DEGREE, degrees_for_metres
from server.tips.models import Tip, TipLink

# A burst of duplicates (twenty people reporting one gambling den) must not link every tip to every other one:
# each new tip links to its nearest few.
MAX_LINKS = 10


def link_related(tip: Tip, lon: float, lat: float) -> list[TipLink]:
    settings = current_app.config["GRID"]
    radius = settings.related_radius_m
    dlon, dlat = degrees_for_metres(radius, lat), radius / METRES_PER_DEGREE
    since = tip.submitted_at - timedelta(hours=settings.related_hours)
    rows = db.session.execute(
        select(Tip.id, func.ST_X(Tip.location), func.ST_Y(Tip.location)).where(
            Tip.category_code == tip.category_code,
            Tip.submitted_at >= since,
            Tip.id < tip.id,  # earlier tips only: each pair is linked once, by the later tip
            func.ST_X(Tip.location).between(lon - dlon, lon + dlon),
            func.ST_Y(Tip.location).between(lat - dlat, lat + dlat),
        )
    ).all()
    near = sorted((distance_m(lon, lat, x, y), other_id) for other_id, x, y in rows)
    links = []
    for metres, other_id in [n for n in near if n[0] <= radius][:MAX_LINKS]:
        links += [
            TipLink(tip_id=tip.id, related_tip_id=other_id, distance_m=round(metres, 1)),
            TipLink(tip_id=other_id, related_tip_id=tip.id, distance_m=round(metres, 1)),
        ]

    db.session.add_all(links)
    return links


def related_of(tip_id: int) -> list[TipLink]:
    return list(db.session.scalars(select(TipLink).where(TipLink.tip_id == tip_id).order_by(TipLink.distance_m)))
