"""Tips, their reporters (kept apart), photos, links, messages, timeline and reveal requests; idempotency keys;
and the seeded category catalogue.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import (
    Geometry,
    alembic_helpers,  # noqa: F401 - registers op.drop_geospatial_table
)

from server.tips.catalogue import DEFAULT_CATEGORIES

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def _fk(table: str, ondelete: str | None = None):
    return sa.ForeignKey(f"{table}.id", ondelete=ondelete)


def upgrade():
    categories = op.create_table(
        "tip_categories",
        sa.Column("code", sa.String(40), primary_key=True),
        sa.Column("parent_code", sa.String(40)),
        sa.Column("label_zh", sa.String(60), nullable=False),
        sa.Column("label_en", sa.String(80), nullable=False),
        sa.Column("accept_hours", sa.Integer, nullable=False),
        sa.Column("resolve_days", sa.Integer, nullable=False),
        sa.Column("urgent", sa.Boolean, nullable=False),
        sa.Column("conflict", sa.Boolean, nullable=False),
        sa.Column("sort_order", sa.Integer, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
    )
    op.bulk_insert(categories, [c.as_row() | {"active": True} for c in DEFAULT_CATEGORIES])
    op.create_table(
        "tips",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("category_code", sa.String(40), sa.ForeignKey("tip_categories.code"), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("status", sa.String(20), nullable=False, index=True),
        sa.Column("occurred_at", TS),
        sa.Column("submitted_at", TS, nullable=False),
        sa.Column("dispatched_at", TS),
        sa.Column("location", Geometry("POINT", srid=4326, spatial_index=True, nullable=False)),
        sa.Column("source_datum", sa.String(8), nullable=False),
        sa.Column("raw_lon", sa.Float, nullable=False),
        sa.Column("raw_lat", sa.Float, nullable=False),
        sa.Column("accuracy_m", sa.Float),
        sa.Column("generation_id", sa.Integer, _fk("map_generations")),
        sa.Column("grid_code", sa.String(15), index=True),
        sa.Column("area_code", sa.String(15), nullable=False, index=True),
        sa.Column("snap_distance_m", sa.Float),
        sa.Column("outside_grids", sa.Boolean, nullable=False),
        sa.Column("conflict", sa.Boolean, nullable=False, index=True),
        sa.Column("implicates_official", sa.Boolean, nullable=False),
        sa.Column("queue_kind", sa.String(24), nullable=False),
        sa.Column("queue_area_code", sa.String(15), nullable=False),
        sa.Column("assignee_user_id", sa.Integer, _fk("users"), index=True),
        sa.Column("assignee_kind", sa.String(8)),
        sa.Column("reporter_role", sa.String(20), nullable=False),
        sa.Column("anonymous", sa.Boolean, nullable=False),
        sa.Column("app_version", sa.String(40)),
        sa.Column("feedback", sa.Text),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_index("ix_tips_area_status", "tips", ["area_code", "status"])
    op.create_index("ix_tips_category_submitted", "tips", ["category_code", "submitted_at"])
    op.create_table(
        "tip_reporters",
        sa.Column("tip_id", sa.Integer, _fk("tips", "CASCADE"), primary_key=True),
        sa.Column("user_id", sa.Integer, _fk("users"), index=True),
        sa.Column("receipt_code", sa.String(16), unique=True),
        sa.Column("secret_hash", sa.String(64)),
        sa.Column("device_hash", sa.String(128)),
    )
    op.create_table(
        "tip_exclusions",
        sa.Column("tip_id", sa.Integer, _fk("tips", "CASCADE"), primary_key=True),
        sa.Column("user_id", sa.Integer, _fk("users"), primary_key=True, index=True),
    )
    op.create_table(
        "tip_photos",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("tip_id", sa.Integer, _fk("tips", "CASCADE"), nullable=False, index=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("thumb_sha256", sa.String(64), nullable=False),
        sa.Column("mime", sa.String(20), nullable=False),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("exif_distance_m", sa.Float),
        sa.Column("exif_taken_at", TS),
        sa.Column("added_at", TS, nullable=False),
        sa.UniqueConstraint("tip_id", "sha256", name="uq_tip_photos_tip_sha"),
    )
    op.create_table(
        "tip_links",
        sa.Column("tip_id", sa.Integer, _fk("tips", "CASCADE"), primary_key=True),
        sa.Column("related_tip_id", sa.Integer, _fk("tips", "CASCADE"), primary_key=True),
        sa.Column("distance_m", sa.Float, nullable=False),
    )
    op.create_table(
        "tip_messages",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("tip_id", sa.Integer, _fk("tips", "CASCADE"), nullable=False, index=True),
        sa.Column("direction", sa.String(14), nullable=False),
        sa.Column("author_user_id", sa.Integer, _fk("users")),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "reveal_requests",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("tip_id", sa.Integer, _fk("tips", "CASCADE"), nullable=False, index=True),
        sa.Column("requested_by", sa.Integer, _fk("users"), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("decided_by", sa.Integer, _fk("users")),
        sa.Column("decided_at", TS),
        sa.Column("decision_note", sa.Text),
        sa.Column("requested_at", TS, nullable=False),
    )
    op.create_table(
        "tip_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("tip_id", sa.Integer, _fk("tips", "CASCADE"), nullable=False, index=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor_user_id", sa.Integer, _fk("users")),
        sa.Column("action", sa.String(24), nullable=False),
        sa.Column("from_status", sa.String(20)),
        sa.Column("to_status", sa.String(20)),
        sa.Column("note", sa.Text),
        sa.Column("details", sa.JSON),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("caller", sa.String(100), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("status_code", sa.Integer),
        sa.Column("response", sa.JSON),
        sa.Column("resource_id", sa.Integer),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("caller", "key", name="uq_idempotency_caller_key"),
    )


def downgrade():
    op.drop_table("idempotency_keys")
    for table in (
        "tip_events",
        "reveal_requests",
        "tip_messages",
        "tip_links",
        "tip_photos",
        "tip_exclusions",
        "tip_reporters",
    ):
        op.drop_table(table)
    op.drop_geospatial_table("tips")
    op.drop_table("tip_categories")
