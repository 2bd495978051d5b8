"""tip_photos.upload_digest: a keyed digest of the bytes a phone sent, so that a re-sent photo is recognised as the
one already attached even when the cleaned bytes differ (GRID_PHOTO_MAX_STORED_PX or the encoder changed between
the two sends), and is not cleaned again. Rows written before have none and are matched by their cleaned sha256.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("tip_photos", sa.Column("upload_digest", sa.String(64), nullable=True))
    op.create_index("uq_tip_photos_tip_upload", "tip_photos", ["tip_id", "upload_digest"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_tip_photos_tip_upload", table_name="tip_photos")
    op.drop_column("tip_photos", "upload_digest")  # SQLite >= 3.35 drops it in place, as in migration 0012
