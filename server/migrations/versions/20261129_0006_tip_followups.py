"""Intake's follow-up work (related-tip links, queue notifications) moves to the worker: tip_followups.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29

A row is written with the tip, in the same transaction, and deleted by the worker when it has linked the possibly
related tips and notified the queue. Tips that exist already were followed up at intake, so nothing is backfilled.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tip_followups",
        sa.Column("tip_id", sa.Integer, sa.ForeignKey("tips.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("tip_followups")
