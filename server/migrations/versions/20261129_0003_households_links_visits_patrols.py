"""Households and their tags, party-member links (党员联户), home visits (五上门), volunteer patrols (网格志愿巡查).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29

- households.location is a POINT (SRID 4326) with a spatial index; grid_code is indexed with last_visited_at
  so that coverage queries ("visited in the last 30 days" per grid) use one index.
- household_links: a household has at most one primary member (a partial unique index on both backends).
- patrols.track / track_simplified are LINESTRINGs (SRID 4326); the vertices' unix times are in
  patrols.point_times (JSON). patrol_grids hold seconds and metres per (patrol, grid), indexed by
  (grid_code, last_at).
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import (
    Geometry,
    alembic_helpers,  # noqa: F401 - registers op.drop_geospatial_table
)

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade():
    op.create_table(
        "households",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("ref", sa.String(40)),
        sa.Column("address", sa.String(200), nullable=False),
        sa.Column("location", Geometry("POINT", srid=4326, spatial_index=True, nullable=False)),
        sa.Column("source_datum", sa.String(8), nullable=False),
        sa.Column("raw_lon", sa.Float, nullable=False),
        sa.Column("raw_lat", sa.Float, nullable=False),
        sa.Column("accuracy_m", sa.Float),
        sa.Column("head_name", sa.String(60), nullable=False),
        sa.Column("head_phone", sa.String(11)),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("generation_id", sa.Integer, sa.ForeignKey("map_generations.id"), nullable=False),
        sa.Column("grid_code", sa.String(15), nullable=False),
        sa.Column("snap_distance_m", sa.Float),
        sa.Column("last_visited_at", TZ),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("created_by", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.CheckConstraint("size >= 1", name="ck_households_size"),
    )
    op.create_index("ix_households_grid_visited", "households", ["grid_code", "last_visited_at"])
    op.create_index("uq_households_ref", "households", ["ref"], unique=True)
    op.create_table(
        "household_tags",
        sa.Column("household_id", sa.Integer, sa.ForeignKey("households.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("tag", sa.String(20), primary_key=True, index=True),
    )
    op.create_table(
        "household_links",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "household_id", sa.Integer, sa.ForeignKey("households.id", ondelete="CASCADE"), nullable=False, index=True
        ),
        sa.Column("member_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("is_primary", sa.Boolean, nullable=False),
        sa.Column("linked_at", TZ, nullable=False),
        sa.Column("linked_by", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.UniqueConstraint("household_id", "member_id", name="uq_household_links_household_member"),
    )
    op.create_index(
        "uq_household_links_one_primary",
        "household_links",
        ["household_id"],
        unique=True,
        postgresql_where=sa.text("is_primary"),
        sqlite_where=sa.text("is_primary"),
    )
    op.create_table(
        "household_visits",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("household_id", sa.Integer, sa.ForeignKey("households.id", ondelete="CASCADE"), nullable=False),
        sa.Column("member_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False, index=True),
        sa.Column("grid_code", sa.String(15), nullable=False),
        sa.Column("visited_at", TZ, nullable=False),
        sa.Column("recorded_at", TZ, nullable=False),
        sa.Column("location", Geometry("POINT", srid=4326, spatial_index=False, nullable=False)),
        sa.Column("source_datum", sa.String(8), nullable=False),
        sa.Column("raw_lon", sa.Float, nullable=False),
        sa.Column("raw_lat", sa.Float, nullable=False),
        sa.Column("accuracy_m", sa.Float),
        sa.Column("distance_m", sa.Float, nullable=False),
        sa.Column("far_from_household", sa.Boolean, nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("photo_sha256", sa.String(64)),
        sa.Column("photo_thumb_sha256", sa.String(64)),
        sa.Column("photo_mime", sa.String(20)),
        sa.Column("photo_exif_distance_m", sa.Float),
    )
    op.create_index("ix_household_visits_household_visited", "household_visits", ["household_id", "visited_at"])
    op.create_index("ix_household_visits_grid_visited", "household_visits", ["grid_code", "visited_at"])
    op.create_table(
        "patrols",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("home_area_code", sa.String(15), nullable=False, index=True),
        sa.Column("status", sa.String(10), nullable=False, index=True),
        sa.Column("note", sa.Text),
        sa.Column("started_at", TZ, nullable=False),
        sa.Column("finished_at", TZ),
        sa.Column("first_point_at", TZ),
        sa.Column("last_point_at", TZ, index=True),
        sa.Column("distance_m", sa.Float),
        sa.Column("duration_s", sa.Float),
        sa.Column("points_received", sa.Integer, nullable=False),
        sa.Column("points_kept", sa.Integer),
        sa.Column("dropped_inaccurate", sa.Integer),
        sa.Column("dropped_too_fast", sa.Integer),
        sa.Column("dropped_duplicate", sa.Integer),
        sa.Column("generation_id", sa.Integer, sa.ForeignKey("map_generations.id")),
        sa.Column("track", Geometry("LINESTRING", srid=4326, spatial_index=True, nullable=True)),
        sa.Column("track_simplified", Geometry("LINESTRING", srid=4326, spatial_index=False, nullable=True)),
        sa.Column("point_times", sa.JSON),
        sa.CheckConstraint("status IN ('open', 'finished')", name="ck_patrols_status"),
    )
    op.create_index("ix_patrols_user_started", "patrols", ["user_id", "started_at"])
    op.create_table(
        "patrol_batches",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("patrol_id", sa.Integer, sa.ForeignKey("patrols.id", ondelete="CASCADE"), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("datum", sa.String(8), nullable=False),
        sa.Column("content_sha256", sa.String(64), nullable=False),
        sa.Column("points", sa.JSON, nullable=False),
        sa.Column("received_at", TZ, nullable=False),
        sa.UniqueConstraint("patrol_id", "seq", name="uq_patrol_batches_patrol_seq"),
    )
    op.create_table(
        "patrol_grids",
        sa.Column("patrol_id", sa.Integer, sa.ForeignKey("patrols.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("grid_code", sa.String(15), primary_key=True),
        sa.Column("seconds", sa.Float, nullable=False),
        sa.Column("distance_m", sa.Float, nullable=False),
        sa.Column("first_at", TZ, nullable=False),
        sa.Column("last_at", TZ, nullable=False),
    )
    op.create_index("ix_patrol_grids_grid_last", "patrol_grids", ["grid_code", "last_at"])


def downgrade():
    op.drop_table("patrol_grids")
    op.drop_table("patrol_batches")
    op.drop_geospatial_table("patrols")
    op.drop_geospatial_table("household_visits")
    op.drop_table("household_links")
    op.drop_table("household_tags")
    op.drop_geospatial_table("households")
