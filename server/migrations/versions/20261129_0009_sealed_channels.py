"""Notification channels' URLs (robot URLs carry their access token) and signing secrets are sealed at rest.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29

Existing rows are sealed with the app's key (GRID_CHANNEL_KEYS, or the key derived from GRID_SECRET_KEY: see
server.notifications.sealing), so run it with the production environment. On PostgreSQL the columns become TEXT
(a sealed value is about 4/3 of the clear one plus 76 characters); SQLite does not enforce lengths. Downgrade opens
them again.
"""

import sqlalchemy as sa
from alembic import op

from server.notifications.sealing import seal, unseal

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("notification_channels", "url", type_=sa.Text, existing_type=sa.String(1000))
        op.alter_column("notification_channels", "secret", type_=sa.Text, existing_type=sa.String(200))
    _rewrite(seal)


def downgrade() -> None:
    _rewrite(unseal)
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("notification_channels", "url", type_=sa.String(1000), existing_type=sa.Text)
        op.alter_column("notification_channels", "secret", type_=sa.String(200), existing_type=sa.Text)


def _rewrite(transform) -> None:
    bind = op.get_bind()
    update = sa.text("UPDATE notification_channels SET url = :url, secret = :secret WHERE id = :id")
    for channel_id, url, secret in bind.execute(sa.text("SELECT id, url, secret FROM notification_channels")).all():
        values = {"id": channel_id, "url": transform(url), "secret": None if secret is None else transform(secret)}
        bind.execute(update, values)
