"""Tips (线索) and what hangs off them. Identity is kept apart from content: the reporter lives in
tip_reporters, which only the reporter-identity service reads (and audits)."""

from __future__ import annotations

from datetime import datetime

from geoalchemy2 import Geometry
from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from server.areas.models import utcnow
from server.extensions import db
from server.timestamps import UTCDateTime


class TipCategory(db.Model):
    __tablename__ = "tip_categories"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    parent_code: Mapped[str | None] = mapped_column(String(40))
    label_zh: Mapped[str] = mapped_column(String(60))
    label_en: Mapped[str] = mapped_column(String(80))
    accept_hours: Mapped[int] = mapped_column(Integer)
    resolve_days: Mapped[int] = mapped_column(Integer)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    conflict: Mapped[bool] = mapped_column(Boolean, default=False)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


NEXT_CHECK = {f"{dialect}_where": text("next_check_at IS NOT NULL") for dialect in ("postgresql", "sqlite")}


class Tip(db.Model):
    __tablename__ = "tips"
    __table_args__ = (
        Index("ix_tips_area_status", "area_code", "status"),
        Index("ix_tips_category_submitted", "category_code", "submitted_at"),
        # Migration 0005: the escalation job's scan (only rows it must look at), and the inbox's orders.
        Index("ix_tips_next_check", "next_check_at", **NEXT_CHECK),
        Index("ix_tips_submitted_at", "submitted_at"),
        Index("ix_tips_accept_due_at", "accept_due_at"),
        Index("ix_tips_resolve_due_at", "resolve_due_at"),
        # PostgreSQL only: the scope filter's area_code LIKE 'prefix%' through an index, whatever the collation.
        Index(
            "ix_tips_area_pattern",
            "area_code",
            "conflict",
            "status",
            postgresql_ops={"area_code": "varchar_pattern_ops"},
        ).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    category_code: Mapped[str] = mapped_column(ForeignKey("tip_categories.code"))
    description: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), index=True)
    occurred_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Where: canonical WGS-84 point, plus exactly what the phone sent.
    location = mapped_column(Geometry("POINT", srid=4326, spatial_index=True, nullable=False))
    source_datum: Mapped[str] = mapped_column(String(8))
    raw_lon: Mapped[float] = mapped_column(Float)
    raw_lat: Mapped[float] = mapped_column(Float)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    # Routing, as decided at intake (the map generation is kept: grids are redrawn).
    generation_id: Mapped[int | None] = mapped_column(ForeignKey("map_generations.id"))
    grid_code: Mapped[str | None] = mapped_column(String(15), index=True)
    area_code: Mapped[str] = mapped_column(String(15), index=True)  # what scope filters on
    snap_distance_m: Mapped[float | None] = mapped_column(Float)
    outside_grids: Mapped[bool] = mapped_column(Boolean, default=False)
    conflict: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    implicates_official: Mapped[bool] = mapped_column(Boolean, default=False)
    queue_kind: Mapped[str] = mapped_column(String(24))
    queue_area_code: Mapped[str] = mapped_column(String(15))
    assignee_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    assignee_kind: Mapped[str | None] = mapped_column(String(8))
    reporter_role: Mapped[str] = mapped_column(String(20))
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    app_version: Mapped[str | None] = mapped_column(String(40))
    feedback: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # The workflow (server/workflow, migration 0005). `dispatched_at` is the latest (re)dispatch, which starts the
    # accept clock; `clock_started_at` is the first dispatch, which starts the resolve clock and the metrics.
    clock_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    accept_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolve_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    warn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the escalation job must look at the tip next (early warning, accept deadline, resolve deadline); NULL: never.
    next_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)  # the queue's level: 0 grid, 1 township, 2 county
    warned_level: Mapped[int | None] = mapped_column(Integer)  # the level whose early warning went out
    overdue_notified: Mapped[bool] = mapped_column(Boolean, default=False)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    result: Mapped[str | None] = mapped_column(Text)
    referred_to: Mapped[str | None] = mapped_column(String(12))
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("tips.id"))
    postpone_request: Mapped[dict | None] = mapped_column(JSON)
    postponements: Mapped[int] = mapped_column(Integer, default=0)


class TipReporter(db.Model):
    """Who filed a tip. Read only through server.tips.identity, and every read is audited."""

    __tablename__ = "tip_reporters"

    tip_id: Mapped[int] = mapped_column(ForeignKey("tips.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    receipt_code: Mapped[str | None] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str | None] = mapped_column(String(64))
    device_hash: Mapped[str | None] = mapped_column(String(128))


class TipExclusion(db.Model):
    """Officials who must never see a tip (the chief and deputies of the grid a conflict tip came from)."""

    __tablename__ = "tip_exclusions"

    tip_id: Mapped[int] = mapped_column(ForeignKey("tips.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)


class TipPhoto(db.Model):
    __tablename__ = "tip_photos"
    __table_args__ = (
        UniqueConstraint("tip_id", "sha256", name="uq_tip_photos_tip_sha"),
        Index("uq_tip_photos_tip_upload", "tip_id", "upload_digest", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tip_id: Mapped[int] = mapped_column(ForeignKey("tips.id", ondelete="CASCADE"), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    thumb_sha256: Mapped[str] = mapped_column(String(64))
    # HMAC-SHA256 of the bytes as sent (server.tips.photos.upload_digest): a re-sent photo is known without cleaning
    # it again. Keyed, so that the original file cannot be matched to a tip from the database alone. None before 0013.
    upload_digest: Mapped[str | None] = mapped_column(String(64))
    mime: Mapped[str] = mapped_column(String(20))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    # Private corroboration, never shown to chiefs: how far the photo's EXIF position was from the tip.
    exif_distance_m: Mapped[float | None] = mapped_column(Float)
    exif_taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TipLink(db.Model):
    """'Possibly related': same category within 200 m and 72 h. Shown to triagers, never to the reporter."""

    __tablename__ = "tip_links"

    tip_id: Mapped[int] = mapped_column(ForeignKey("tips.id", ondelete="CASCADE"), primary_key=True)
    related_tip_id: Mapped[int] = mapped_column(ForeignKey("tips.id", ondelete="CASCADE"), primary_key=True)
    distance_m: Mapped[float] = mapped_column(Float)


class TipMessage(db.Model):
    """The two-way channel between handlers and the (possibly anonymous) reporter."""

    __tablename__ = "tip_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tip_id: Mapped[int] = mapped_column(ForeignKey("tips.id", ondelete="CASCADE"), index=True)
    direction: Mapped[str] = mapped_column(String(14))  # to_reporter | from_reporter
    author_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RevealRequest(db.Model):
    """A request to learn who reported a tip. Only a custodian may approve it; every step is audited."""

    __tablename__ = "reveal_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tip_id: Mapped[int] = mapped_column(ForeignKey("tips.id", ondelete="CASCADE"), index=True)
    requested_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending | approved | denied
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str | None] = mapped_column(Text)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TipEvent(db.Model):
    """The timeline: who did what to a tip, when, with what note."""

    __tablename__ = "tip_events"
    __table_args__ = (Index("ix_tips_tip_events_order", "tip_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tip_id: Mapped[int] = mapped_column(ForeignKey("tips.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(24))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str | None] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict | None] = mapped_column(JSON)


class TipFollowup(db.Model):
    """Work that intake leaves to the worker, in the same transaction as the tip (a transactional outbox): link the
    'possibly related' tips and notify the queue. Intake stays a handful of inserts; nothing is lost if the worker
    is down, and a burst of twenty reports of one gambling den does not slow the phones down."""

    __tablename__ = "tip_followups"

    tip_id: Mapped[int] = mapped_column(ForeignKey("tips.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TipIntake(db.Model):
    """A JSON tip accepted from a phone but not yet routed: the intake journal (issue 4's hot path).

    Intake checks the token, the body, the datum and the grid (in memory), stores this row with its idempotency
    record in one short transaction, and answers 202. The worker (server.tips.materialise) then routes it and
    writes the tip, its reporter, exclusions, timeline and follow-up in one transaction, and deletes this row:
    writing a tip touches a dozen indexes and the spatial index, which costs far more per request than per batch.

    `tip_id` is the id the tip will take (taken from the tips' own sequence), so the answer can name it. The
    reporter's identity is carried here only until the tip exists; nothing but the materialiser reads this table,
    and no endpoint serves it.
    """

    __tablename__ = "tip_intake"

    tip_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    submission: Mapped[dict] = mapped_column(JSON)  # the validated body, the WGS-84 point and the place
    reporter: Mapped[dict] = mapped_column(JSON)  # the tip_reporters row to write, and the reporter's role


class TipStatusCount(db.Model):
    """How many tips there are per area, conflict flag and status, kept by the database itself (triggers on tips,
    migration 0010) as rows of +n and -n: insert-only, so that two transactions never wait on the same counter. The
    inbox badge sums them over the viewer's scope instead of counting ~100,000 tips of a county on every page; the
    worker folds them into one row per key now and then (server.tips.counts.compact). Sums are exact at any time.
    """

    __tablename__ = "tip_status_counts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    area_code: Mapped[str] = mapped_column(String(15))
    conflict: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(20))
    n: Mapped[int] = mapped_column(Integer)
