"""Notifications: the in-app inbox, the channels (webhooks and group robots) and the transactional outbox."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from server.areas.models import utcnow
from server.extensions import db
from server.notifications.sealing import Sealed
from server.timestamps import UTCDateTime

CHANNEL_KINDS = ("webhook", "dingtalk", "wecom")
AUDIENCES = ("general", "discipline")
# Partial indexes (migration 0005): only the rows that the inbox badge and the outbox's scan look at.
UNREAD = {f"{dialect}_where": text("read_at IS NULL") for dialect in ("postgresql", "sqlite")}
DUE = {f"{dialect}_where": text("status IN ('pending', 'sending')") for dialect in ("postgresql", "sqlite")}


class Notification(db.Model):
    """One in-app notification for one user. Written in the transaction of the change it reports: committed with it,
    delivered by being committed (the inbox and the SSE stream read this table)."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_user_id", "user_id", "id"),
        Index("ix_notifications_user_unread", "user_id", "id", **UNREAD),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    tip_id: Mapped[int | None] = mapped_column(ForeignKey("tips.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(24))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    data: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class NotificationChannel(db.Model):
    """Where an area's (or one user's) notifications also go: a signed webhook, a DingTalk or a WeCom group robot.

    `audience` = discipline marks a channel that only discipline officers read: conflict-of-interest tips are sent
    to discipline channels only, never to a general one (a village's or township's group may hold the very cadre
    the tip is about). `secret` signs webhooks and DingTalk requests; it is never logged or shown. Both `url` and
    `secret` are sealed at rest.
    """

    __tablename__ = "notification_channels"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    area_code: Mapped[str | None] = mapped_column(String(15), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(12))
    audience: Mapped[str] = mapped_column(String(12), default="general")
    url: Mapped[str] = mapped_column(Sealed)  # sealed at rest (server.notifications.sealing): robot URLs hold tokens
    secret: Mapped[str | None] = mapped_column(Sealed)
    label: Mapped[str | None] = mapped_column(String(60))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:  # never the URL (robot URLs carry their token) or the secret
        return f"<NotificationChannel {self.id} {self.kind}>"


class OutboxDelivery(db.Model):
    """One delivery of one notification to one channel. Its id is the delivery id receivers deduplicate on.

    pending -> (claimed: lease_until, lease_token) sending -> sent | pending again (retry, backoff) | dead.
    """

    __tablename__ = "notification_outbox"
    __table_args__ = (Index("ix_notification_outbox_due", "status", "next_attempt_at", **DUE),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("notification_channels.id", ondelete="CASCADE"), index=True)
    tip_id: Mapped[int | None] = mapped_column(ForeignKey("tips.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(24))
    payload: Mapped[dict] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_token: Mapped[str | None] = mapped_column(String(36))
    last_error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class StreamTicket(db.Model):
    """A one-time, short-lived pass to open the notification stream from a browser, whose EventSource cannot send
    an Authorization header (server.notifications.tickets). Only the ticket's SHA-256 is kept."""

    __tablename__ = "stream_tickets"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
