"""The case workflow (deadlines, escalation, results) and notifications (in-app inbox, channels, outbox).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29

- tips gain their clocks (accept/resolve deadlines, early-warning time, the job's next check), the escalation level
  and what the workflow records (accepted/resolved/closed times, result, referral, duplicate, postponements).
- ix_tips_next_check (partial: only rows the escalation job must look at) keeps the job's scan proportional to the
  tips that are due, not to the open ones; ix_tips_submitted_at, ix_tips_accept_due_at and ix_tips_resolve_due_at
  serve the inbox's orders; on PostgreSQL ix_tips_area_pattern (area_code varchar_pattern_ops, conflict, status)
  lets the scope filter's `area_code LIKE '330899001%'` use an index, and the inbox count its per-status badge
  (and a status-filtered total) from that index alone (an index-only scan).
- notifications: the in-app inbox (one row per recipient); notification_channels: webhooks and robots per area or
  per user; notification_outbox: one row per delivery to one channel, written in the transaction of the change.
- Open tips that exist already get their deadlines from the configured calendar.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
TIP_COLUMNS = (
    sa.Column("clock_started_at", TS),
    sa.Column("accept_due_at", TS),
    sa.Column("resolve_due_at", TS),
    sa.Column("warn_at", TS),
    sa.Column("next_check_at", TS),
    sa.Column("escalation_level", sa.Integer, nullable=False, server_default="0"),
    sa.Column("warned_level", sa.Integer),
    sa.Column("overdue_notified", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("accepted_at", TS),
    sa.Column("resolved_at", TS),
    sa.Column("closed_at", TS),
    sa.Column("result", sa.Text),
    sa.Column("referred_to", sa.String(12)),
    sa.Column("duplicate_of_id", sa.Integer),
    sa.Column("postpone_request", sa.JSON),
    sa.Column("postponements", sa.Integer, nullable=False, server_default="0"),
)


def upgrade():
    postgres = op.get_bind().dialect.name == "postgresql"
    for column in TIP_COLUMNS:
        op.add_column("tips", column)
    if postgres:
        op.create_foreign_key("fk_tips_duplicate_of", "tips", "tips", ["duplicate_of_id"], ["id"])
        op.execute("CREATE INDEX ix_tips_area_pattern ON tips (area_code varchar_pattern_ops, conflict, status)")
    op.create_index(
        "ix_tips_next_check",
        "tips",
        ["next_check_at"],
        postgresql_where=sa.text("next_check_at IS NOT NULL"),
        sqlite_where=sa.text("next_check_at IS NOT NULL"),
    )
    op.create_index("ix_tips_submitted_at", "tips", ["submitted_at"])
    op.create_index("ix_tips_accept_due_at", "tips", ["accept_due_at"])
    op.create_index("ix_tips_resolve_due_at", "tips", ["resolve_due_at"])
    op.create_index("ix_tips_tip_events_order", "tip_events", ["tip_id", "at"])
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("tip_id", sa.Integer, sa.ForeignKey("tips.id", ondelete="CASCADE")),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("data", sa.JSON),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("read_at", TS),
    )
    op.create_index("ix_notifications_user_id", "notifications", ["user_id", "id"])
    op.create_index(
        "ix_notifications_user_unread",
        "notifications",
        ["user_id", "id"],
        postgresql_where=sa.text("read_at IS NULL"),
        sqlite_where=sa.text("read_at IS NULL"),
    )
    op.create_table(
        "notification_channels",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("area_code", sa.String(15), index=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), index=True),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("audience", sa.String(12), nullable=False),
        sa.Column("url", sa.String(1000), nullable=False),
        sa.Column("secret", sa.String(200)),
        sa.Column("label", sa.String(60)),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint("kind IN ('webhook', 'dingtalk', 'wecom')", name="ck_notification_channels_kind"),
        sa.CheckConstraint("audience IN ('general', 'discipline')", name="ck_notification_channels_audience"),
        sa.CheckConstraint("(area_code IS NULL) <> (user_id IS NULL)", name="ck_notification_channels_area_or_user"),
    )
    op.create_table(
        "notification_outbox",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "channel_id",
            sa.Integer,
            sa.ForeignKey("notification_channels.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("tip_id", sa.Integer, sa.ForeignKey("tips.id", ondelete="CASCADE")),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", TS, nullable=False),
        sa.Column("lease_until", TS),
        sa.Column("lease_token", sa.String(36)),
        sa.Column("last_error", sa.String(300)),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("sent_at", TS),
        sa.CheckConstraint("status IN ('pending', 'sending', 'sent', 'dead')", name="ck_notification_outbox_status"),
    )
    op.create_index(
        "ix_notification_outbox_due",
        "notification_outbox",
        ["status", "next_attempt_at"],
        postgresql_where=sa.text("status IN ('pending', 'sending')"),
        sqlite_where=sa.text("status IN ('pending', 'sending')"),
    )
    _backfill_open_tips()


def _backfill_open_tips():
    """Deadlines for tips filed before this migration, from the configured calendar (none on a fresh database)."""
    from datetime import UTC

    from flask import current_app

    from server.workflow.deadlines import initial_clock

    bind = op.get_bind()
    tips = sa.table(
        "tips",
        sa.column("id", sa.Integer),
        sa.column("status", sa.String),
        sa.column("category_code", sa.String),
        sa.column("queue_kind", sa.String),
        sa.column("dispatched_at", TS),
        sa.column("submitted_at", TS),
        *(sa.column(c.name, c.type) for c in TIP_COLUMNS),
    )
    categories = sa.table(
        "tip_categories",
        sa.column("code", sa.String),
        sa.column("accept_hours", sa.Integer),
        sa.column("resolve_days", sa.Integer),
        sa.column("urgent", sa.Boolean),
    )
    limits = {row.code: row for row in bind.execute(sa.select(categories))}
    settings = current_app.config["GRID"]
    query = sa.select(
        tips.c.id, tips.c.status, tips.c.category_code, tips.c.queue_kind, tips.c.dispatched_at, tips.c.submitted_at
    )
    for row in bind.execute(query).all():
        start = row.dispatched_at or row.submitted_at
        start = start.replace(tzinfo=UTC) if start.tzinfo is None else start
        values = initial_clock(settings, limits[row.category_code], row.queue_kind, row.status, start)
        bind.execute(sa.update(tips).where(tips.c.id == row.id).values(**values))


def downgrade():
    op.drop_index("ix_notification_outbox_due", table_name="notification_outbox")
    op.drop_table("notification_outbox")
    op.drop_table("notification_channels")
    op.drop_index("ix_notifications_user_unread", table_name="notifications")
    op.drop_index("ix_notifications_user_id", table_name="notifications")
    op.drop_table("notifications")
    op.drop_index("ix_tips_tip_events_order", table_name="tip_events")
    op.drop_index("ix_tips_resolve_due_at", table_name="tips")
    op.drop_index("ix_tips_accept_due_at", table_name="tips")
    op.drop_index("ix_tips_submitted_at", table_name="tips")
    op.drop_index("ix_tips_next_check", table_name="tips")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_tips_area_pattern")
        op.drop_constraint("fk_tips_duplicate_of", "tips", type_="foreignkey")
    for column in reversed(TIP_COLUMNS):  # SQLite >= 3.35 drops columns in place (no table copy, geometry kept)
        op.drop_column("tips", column.name)
