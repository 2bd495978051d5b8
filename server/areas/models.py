"""Grid-map generations and the areas they hold (county > township > village > grid)."""

from __future__ import annotations

from datetime import datetime

from geoalchemy2 import Geometry
from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.extensions import db
from server.timestamps import UTCDateTime, utcnow  # noqa: F401 - utcnow is imported from here too

LEVELS = ("county", "township", "village", "grid")
LEVEL_LABELS_ZH = {"county": "县", "township": "乡镇/街道", "village": "村/社区", "grid": "网格"}
PARENT_LEVEL = {"township": "county", "village": "township", "grid": "village"}


class MapGeneration(db.Model):
    """One import of a whole county grid map. Exactly one generation is current; the rest stay queryable."""

    __tablename__ = "map_generations"
    __table_args__ = (
        Index(
            "uq_map_generations_one_current",
            "is_current",
            unique=True,
            postgresql_where=text("is_current"),
            sqlite_where=text("is_current"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    county_code: Mapped[str] = mapped_column(String(6), index=True)
    source_name: Mapped[str] = mapped_column(String(255))
    source_sha256: Mapped[str] = mapped_column(String(64), index=True)
    source_datum: Mapped[str] = mapped_column(String(8))
    imported_by: Mapped[str] = mapped_column(String(120))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    counts: Mapped[dict] = mapped_column(JSON)
    is_current: Mapped[bool] = mapped_column(Boolean, default=False, index=True)

    areas = relationship("Area", back_populates="generation", lazy="raise")


class Area(db.Model):
    """A county, township, village/community or grid, as drawn in one generation. Codes are strings."""

    __tablename__ = "areas"
    __table_args__ = (
        UniqueConstraint("generation_id", "code", name="uq_areas_generation_code"),
        Index("ix_areas_generation_level", "generation_id", "level"),
        Index("ix_areas_generation_parent", "generation_id", "parent_code"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    generation_id: Mapped[int] = mapped_column(ForeignKey("map_generations.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(15))
    name: Mapped[str] = mapped_column(String(120))
    level: Mapped[str] = mapped_column(String(8))
    parent_code: Mapped[str | None] = mapped_column(String(15))
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=True, nullable=False))

    generation = relationship("MapGeneration", back_populates="areas", lazy="raise")
