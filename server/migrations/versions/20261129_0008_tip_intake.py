"""The intake journal: JSON tips accepted from phones, waiting for the worker to route and write them.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29

A row is written by intake with the tip's idempotency record and deleted by the worker in the transaction that
writes the tip. Nothing existing is backfilled: every tip so far was written at intake.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tip_intake",
        sa.Column("tip_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submission", sa.JSON, nullable=False),
        sa.Column("reporter", sa.JSON, nullable=False),
    )


def downgrade() -> None:
    waiting = op.get_bind().execute(sa.text("SELECT count(*) FROM tip_intake")).scalar()
    if waiting:
        raise RuntimeError(
            f"{waiting} accepted tips are still waiting in tip_intake; run `flask worker --once` until none are "
            "left, then downgrade. Dropping the table would lose them."
        )
    op.drop_table("tip_intake")
