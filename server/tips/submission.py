"""A tip as intake understands it before any database work: validated, converted to WGS-84 and placed on the map.

A JSON tip waits in the intake journal (server.tips.models.TipIntake) in the form `to_journal` gives, until the
worker writes it; `from_journal` reads it back exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from server.areas.models import utcnow
from server.errors import Problem
from server.geo import datum
from server.tips.intake_sql import Category
from server.tips.routing import Place, place_of

CLOCK_SKEW = timedelta(minutes=10)
REPORTER_ROLE_ORDER = ("member", "grid_chief", "township_staff", "county_staff", "custodian", "admin")


@dataclass(frozen=True)
class Reporter:
    user_id: int | None  # None: the public anonymous channel
    role: str  # the reporter's role, shown to handlers instead of the name ("public" for the anonymous channel)


def reporter_role(roles) -> str:
    return next((r for r in REPORTER_ROLE_ORDER if r in roles), "member")


def reporter_for(user) -> Reporter:
    return Reporter(None, "public") if user is None else Reporter(user.id, reporter_role(user.roles))


@dataclass(frozen=True)
class Submission:
    """A validated tip, placed on the map (no database yet)."""

    payload: dict
    point: tuple[float, float]  # canonical WGS-84
    place: Place
    now: datetime  # when it came in

    def to_journal(self, category: Category) -> dict:
        """JSON for the intake journal, with the category as intake found it (it may be retired meanwhile)."""
        return self.journal_parts() | {"category": dict(vars(category))}

    def journal_parts(self) -> dict:
        """The journal's submission but the category (on PostgreSQL the database adds it: ACCEPT_IF_CLEAR)."""
        occurred = self.payload.get("occurred_at")
        payload = self.payload | {"occurred_at": occurred.isoformat() if occurred else None}
        return {
            "payload": payload,
            "point": list(self.point),
            "place": dict(vars(self.place)),  # flat dataclasses of plain values: asdict's deep copy is not needed
        }

    @classmethod
    def from_journal(cls, journal: dict, received_at: datetime) -> tuple[Submission, Category]:
        payload = dict(journal["payload"])
        if payload["occurred_at"] is not None:
            payload["occurred_at"] = datetime.fromisoformat(payload["occurred_at"])
        sub = cls(payload, tuple(journal["point"]), Place(**journal["place"]), received_at)
        return sub, Category(**journal["category"])


def prepare(payload: dict) -> Submission:
    loc = payload["location"]
    lon, lat = datum.to_wgs84(loc["lon"], loc["lat"], loc["datum"])
    now = utcnow()
    _check_occurred_at(payload.get("occurred_at"), now)
    return Submission(payload, (lon, lat), place_of(lon, lat), now)


def known_category(found: Category | None, code: str) -> Category:
    if found is None:
        raise Problem(
            422,
            "unknown-category",
            f"{code!r} is not a tip category. GET /api/v1/tips/categories lists them.",
            errors={"category": ["Unknown category."]},
        )
    return found


def _check_occurred_at(occurred_at, now) -> None:
    if occurred_at is not None and occurred_at > now + CLOCK_SKEW:
        raise Problem(
            422,
            "occurred-in-future",
            "occurred_at is in the future; check the phone's clock.",
            errors={"occurred_at": ["In the future."]},
        )
