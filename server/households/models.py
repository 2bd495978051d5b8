"""Households (住户), their tags, party-member links (党员联户) and home visits (五上门). Models never commit.

Coverage-friendly on purpose (another feature counts these per grid):
- `households.grid_code` (indexed with `last_visited_at`) says where a household is; `last_visited_at` is kept
  by every visit, so "visited in the last 30 days" per grid is one indexed COUNT;
- `household_links.is_primary` marks THE member of a household (at most one: a partial unique index);
  `households.linked` says whether it has one, kept by triggers on household_links (migration 0012), so the
  county's coverage counts households, linked and visited per grid from one covering index
  (`ix_households_coverage`) instead of joining 300,000 households to their links;
- `household_visits` keep the household's `grid_code` as it was at the visit, with `visited_at`.

Times are stored in UTC (`UTCDateTime`): SQLite keeps no offset, so every value is converted to UTC on the
way in and read back as UTC-aware, which makes SQL comparisons agree on both backends.
"""

from __future__ import annotations

from datetime import datetime

from geoalchemy2 import Geometry
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.areas.models import utcnow
from server.extensions import db
from server.timestamps import UTCDateTime


class Household(db.Model):
    __tablename__ = "households"
    __table_args__ = (
        Index("ix_households_grid_visited", "grid_code", "last_visited_at"),
        Index("ix_households_coverage", "grid_code", "created_at", "linked", "last_visited_at"),
        Index("ix_households_last_visited", "last_visited_at"),
        Index("uq_households_ref", "ref", unique=True),
        CheckConstraint("size >= 1", name="ck_households_size"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # An optional stable reference from the source register (户籍/台账 number): re-imports and the demo use it.
    ref: Mapped[str | None] = mapped_column(String(40))
    address: Mapped[str] = mapped_column(String(200))
    # Where: canonical WGS-84 point, plus exactly what was sent.
    location = mapped_column(Geometry("POINT", srid=4326, spatial_index=True, nullable=False))
    source_datum: Mapped[str] = mapped_column(String(8))
    raw_lon: Mapped[float] = mapped_column(Float)
    raw_lat: Mapped[float] = mapped_column(Float)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    # Personal data: shown in full only to those who may see it (server.households.privacy).
    head_name: Mapped[str] = mapped_column(String(60))
    head_phone: Mapped[str | None] = mapped_column(String(11))
    size: Mapped[int] = mapped_column(Integer)
    # Routing, from the location (the map generation is kept: grids are redrawn, see reassign_households).
    generation_id: Mapped[int] = mapped_column(ForeignKey("map_generations.id"))
    grid_code: Mapped[str] = mapped_column(String(15))
    snap_distance_m: Mapped[float | None] = mapped_column(Float)
    last_visited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Has a primary member link. Written only by the triggers on household_links (migration 0012): never set it.
    linked: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    tag_rows = relationship("HouseholdTag", cascade="all, delete-orphan", lazy="selectin", order_by="HouseholdTag.tag")

    @property
    def tags(self) -> list[str]:
        return [t.tag for t in self.tag_rows]


class HouseholdTag(db.Model):
    """One tag of a household (a row per tag, so that counting households by tag and grid is plain SQL)."""

    __tablename__ = "household_tags"

    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(20), primary_key=True, index=True)


class HouseholdLink(db.Model):
    """A party member linked to a household (党员联户). A household has at most one primary member."""

    __tablename__ = "household_links"
    __table_args__ = (
        UniqueConstraint("household_id", "member_id", name="uq_household_links_household_member"),
        Index(
            "uq_household_links_one_primary",
            "household_id",
            unique=True,
            postgresql_where=text("is_primary"),
            sqlite_where=text("is_primary"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    is_primary: Mapped[bool] = mapped_column(Boolean, default=True)
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    linked_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class Visit(db.Model):
    """A home visit (五上门) logged by a member, with where the member was and how far that was from the household."""

    __tablename__ = "household_visits"
    __table_args__ = (
        Index("ix_household_visits_household_visited", "household_id", "visited_at"),
        Index("ix_household_visits_grid_visited", "grid_code", "visited_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    grid_code: Mapped[str] = mapped_column(String(15))  # the household's grid at the time of the visit
    visited_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    location = mapped_column(Geometry("POINT", srid=4326, spatial_index=False, nullable=False))
    source_datum: Mapped[str] = mapped_column(String(8))
    raw_lon: Mapped[float] = mapped_column(Float)
    raw_lat: Mapped[float] = mapped_column(Float)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    distance_m: Mapped[float] = mapped_column(Float)
    far_from_household: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str | None] = mapped_column(Text)
    photo_sha256: Mapped[str | None] = mapped_column(String(64))
    photo_thumb_sha256: Mapped[str | None] = mapped_column(String(64))
    photo_mime: Mapped[str | None] = mapped_column(String(20))
    # Private corroboration: metres between the photo's EXIF GPS fix and the household (None without a fix).
    photo_exif_distance_m: Mapped[float | None] = mapped_column(Float)
