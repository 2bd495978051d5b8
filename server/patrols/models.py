"""Volunteer grid patrols (网格志愿巡查): the raw point batches as sent, and the cleaned track once finished.

Track storage (see server/patrols/track.py for the processing):
- `patrol_batches` keep every batch as the phone sent it (the points packed as little-endian float64 rows
  lon, lat, unix_time, accuracy_m with NaN for no accuracy: lossless for JSON numbers, and read back with no
  parsing at finish; the datum; the hash of the JSON as sent), one row per (patrol, seq). They are the source of
  truth and allow re-processing with other filter settings.
- At finish, the kept points become `patrols.track`, a LINESTRING (SRID 4326, WGS-84) with one vertex per kept
  point, in time order; `patrols.point_times` holds the vertices' unix times (seconds, float64 packed), aligned
  one to one with the vertices. `patrols.track_simplified` is the display copy (Douglas-Peucker in a local
  metric frame). A track with fewer than two kept points has no LINESTRING.
- `patrol_grids` hold, per patrol and grid, the seconds and metres spent there and the first and last time
  there: "patrols in the last 7 days per grid: count, distance, hours, last patrol" is one GROUP BY on
  (grid_code, last_at), which is indexed.
"""

from __future__ import annotations

from datetime import datetime

from geoalchemy2 import Geometry
from sqlalchemy import (
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from server.areas.models import utcnow
from server.extensions import db
from server.households.models import UTCDateTime

PATROL_STATUS_ZH = {"open": "进行中", "finished": "已结束"}


class Patrol(db.Model):
    __tablename__ = "patrols"
    __table_args__ = (
        Index("ix_patrols_user_started", "user_id", "started_at"),
        CheckConstraint("status IN ('open', 'finished')", name="ck_patrols_status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    home_area_code: Mapped[str] = mapped_column(String(15), index=True)  # the patroller's area when it started
    status: Mapped[str] = mapped_column(String(10), default="open", index=True)  # open | finished
    note: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)  # when the patrol was opened
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # when it was finished (server time)
    first_point_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # time of the first kept point
    last_point_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)  # time of the last kept point
    distance_m: Mapped[float | None] = mapped_column(Float)
    duration_s: Mapped[float | None] = mapped_column(Float)
    points_received: Mapped[int] = mapped_column(Integer, default=0)
    points_kept: Mapped[int | None] = mapped_column(Integer)
    dropped_inaccurate: Mapped[int | None] = mapped_column(Integer)
    dropped_too_fast: Mapped[int | None] = mapped_column(Integer)
    dropped_duplicate: Mapped[int | None] = mapped_column(Integer)
    generation_id: Mapped[int | None] = mapped_column(ForeignKey("map_generations.id"))
    track = mapped_column(Geometry("LINESTRING", srid=4326, spatial_index=True, nullable=True))
    track_simplified = mapped_column(Geometry("LINESTRING", srid=4326, spatial_index=False, nullable=True))
    point_times: Mapped[bytes | None] = mapped_column(LargeBinary)  # track.pack_times / unpack_times


class PatrolBatch(db.Model):
    """One batch of points as sent. Same seq + same content = a retry (no-op); same seq + other content = 409."""

    __tablename__ = "patrol_batches"
    __table_args__ = (UniqueConstraint("patrol_id", "seq", name="uq_patrol_batches_patrol_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patrol_id: Mapped[int] = mapped_column(ForeignKey("patrols.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    datum: Mapped[str] = mapped_column(String(8))
    content_sha256: Mapped[str] = mapped_column(String(64))
    packed: Mapped[bytes] = mapped_column(LargeBinary)  # server.patrols.track.pack_points / unpack_points
    point_count: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PatrolGrid(db.Model):
    """Time and distance one patrol spent in one grid."""

    __tablename__ = "patrol_grids"
    __table_args__ = (Index("ix_patrol_grids_grid_last", "grid_code", "last_at"),)

    patrol_id: Mapped[int] = mapped_column(ForeignKey("patrols.id", ondelete="CASCADE"), primary_key=True)
    grid_code: Mapped[str] = mapped_column(String(15), primary_key=True)
    seconds: Mapped[float] = mapped_column(Float)
    distance_m: Mapped[float] = mapped_column(Float)
    first_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime)
