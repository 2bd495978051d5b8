"""patrol_batches.packed and point_count become NOT NULL, as the model has them: migration 0007 added them nullable
to fill them from the JSON points, and left them so. Every batch is written with both, so no row is NULL.

Found by tests/test_schema_parity.py, which compares the migrated database with the models.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    _set_nullable(False)


def downgrade() -> None:
    _set_nullable(True)


def _set_nullable(nullable: bool) -> None:
    with op.batch_alter_table("patrol_batches") as batch:  # an ALTER on PostgreSQL; a copy of the table on SQLite
        batch.alter_column("packed", existing_type=sa.LargeBinary, nullable=nullable)
        batch.alter_column("point_count", existing_type=sa.Integer, nullable=nullable)
