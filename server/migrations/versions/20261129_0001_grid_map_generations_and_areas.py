"""Grid map generations and areas (county > township > village > grid), with a spatial index.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import (
    Geometry,
    alembic_helpers,  # noqa: F401 - registers op.drop_geospatial_table
)

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "map_generations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("county_code", sa.String(6), nullable=False, index=True),
        sa.Column("source_name", sa.String(255), nullable=False),
        sa.Column("source_sha256", sa.String(64), nullable=False, index=True),
        sa.Column("source_datum", sa.String(8), nullable=False),
        sa.Column("imported_by", sa.String(120), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("counts", sa.JSON, nullable=False),
        sa.Column("is_current", sa.Boolean, nullable=False, index=True),
    )
    # At most one current generation, enforced by the database on both backends.
    op.create_index(
        "uq_map_generations_one_current",
        "map_generations",
        ["is_current"],
        unique=True,
        postgresql_where=sa.text("is_current"),
        sqlite_where=sa.text("is_current"),
    )
    op.create_table(
        "areas",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("generation_id", sa.Integer, sa.ForeignKey("map_generations.id", ondelete="CASCADE"), nullable=False),
        sa.Column("code", sa.String(15), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("level", sa.String(8), nullable=False),
        sa.Column("parent_code", sa.String(15)),
        sa.Column("geom", Geometry("MULTIPOLYGON", srid=4326, spatial_index=True, nullable=False)),
        sa.UniqueConstraint("generation_id", "code", name="uq_areas_generation_code"),
    )
    op.create_index("ix_areas_generation_level", "areas", ["generation_id", "level"])
    op.create_index("ix_areas_generation_parent", "areas", ["generation_id", "parent_code"])


def downgrade():
    op.drop_geospatial_table("areas")
    op.drop_table("map_generations")
