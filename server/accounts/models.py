"""Accounts, their roles, grid assignments, and the refresh-token and revocation state of their tokens.

Models never commit. `token_version` is bumped on every change of roles, area (home area or grid
assignment), activation and password: it is copied into each JWT (`ver`) and a token whose `ver` differs
from the account's is rejected on its next request.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.areas.models import utcnow
from server.extensions import db
from server.timestamps import UTCDateTime


class User(db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    phone: Mapped[str] = mapped_column(String(11), unique=True)
    name: Mapped[str] = mapped_column(String(60))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    home_area_code: Mapped[str] = mapped_column(String(15), index=True)
    token_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    role_rows = relationship("UserRole", cascade="all, delete-orphan", lazy="selectin", back_populates="user")
    assignments = relationship("GridAssignment", cascade="all, delete-orphan", lazy="raise", back_populates="user")

    @property
    def roles(self) -> frozenset[str]:
        return frozenset(r.role for r in self.role_rows)

    def set_roles(self, roles) -> None:
        keep = set(roles)
        self.role_rows = [r for r in self.role_rows if r.role in keep] + [
            UserRole(role=r) for r in sorted(keep - self.roles)
        ]

    def __repr__(self) -> str:  # never the phone number or the hash
        return f"<User {self.id}>"


class UserRole(db.Model):
    __tablename__ = "user_roles"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(20), primary_key=True, index=True)

    user = relationship("User", back_populates="role_rows", lazy="raise")


class GridAssignment(db.Model):
    """A grid chief or deputy for a period. `ends_on` is the last day (inclusive); None means still serving."""

    __tablename__ = "grid_assignments"
    __table_args__ = (
        CheckConstraint("kind IN ('chief', 'deputy')", name="ck_grid_assignments_kind"),
        CheckConstraint("ends_on IS NULL OR ends_on >= starts_on", name="ck_grid_assignments_period"),
        Index("ix_grid_assignments_grid", "grid_code", "starts_on"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    grid_code: Mapped[str] = mapped_column(String(15))
    kind: Mapped[str] = mapped_column(String(8))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user = relationship("User", back_populates="assignments", lazy="raise")


class TokenFamily(db.Model):
    """One login: every refresh token rotated from it, and the access tokens they issued, share the family."""

    __tablename__ = "token_families"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_reason: Mapped[str | None] = mapped_column(String(40))


class RefreshToken(db.Model):
    """A refresh token by jti. Single use: `used_at` is set when it is exchanged; a second use revokes the family."""

    __tablename__ = "refresh_tokens"

    jti: Mapped[str] = mapped_column(String(36), primary_key=True)
    family_id: Mapped[str] = mapped_column(ForeignKey("token_families.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RevokedAccessToken(db.Model):
    """Access tokens revoked before their expiry (logout). Rows can be pruned once `expires_at` has passed."""

    __tablename__ = "revoked_access_tokens"
    jti: Mapped[str] = mapped_column(String(36), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
