"""Households: create, read, list (scoped), with link and visit status. Plain functions; they flush, never commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import and_, exists, func, select
from sqlalchemy.exc import IntegrityError

from server.accounts.models import User
from server.accounts.phones import is_valid_phone, normalize_phone
from server.areas import services as areas
from server.areas.index_cache import current_index
from server.audit import record
from server.errors import NotFound, Problem
from server.extensions import db
from server.households.locations import lonlat, point_input
from server.households.models import Household, HouseholdLink, HouseholdTag
from server.households.privacy import head_view, may_see_personal
from server.scope import Scope, get_in_scope_or_404

DUE_SOON_DAYS = 7
VISIT_STATUS_ZH = {"ok": "按期走访", "due_soon": "即将到期", "overdue": "已逾期"}


def settings():
    return current_app.config["GRID"]


# --- validation shared by the API and the importer ------------------------------------------------------------


def tag_errors(tags, allowed) -> list[str]:
    return [f"{t!r} is not a household tag; allowed: {'、'.join(allowed)}." for t in tags if t not in allowed]


def clean_tags(tags) -> list[str]:
    """Unknown tags are a 422 (GRID_HOUSEHOLD_TAGS); duplicates collapse; the configured order is kept."""
    allowed = settings().household_tags
    errors = tag_errors(tags, allowed)
    if errors:
        raise Problem(422, "unknown-tag", " ".join(errors), title="Unknown tag", errors={"tags": errors})
    return [t for t in allowed if t in set(tags)]


def clean_phone(raw: str | None) -> str | None:
    if raw is None or not raw.strip():
        return None
    phone = normalize_phone(raw)
    if not is_valid_phone(phone):
        message = "head_phone must be a mainland mobile number (11 digits starting with 13-19)."
        raise Problem(422, "bad-phone", message, title="Invalid phone number", errors={"head_phone": [message]})
    return phone


# --- create and read ------------------------------------------------------------------------------------------


def create_household(data: dict, actor: User, scope: Scope) -> Household:
    """Route the location to a grid (snapping rules apply; outside every grid is the locate problem) and store it."""
    tags = clean_tags(data.get("tags") or [])
    phone = clean_phone(data.get("head_phone"))
    point = point_input(data["location"])
    found = areas.locate(point.lon, point.lat, "wgs84")
    grid_code = found.hit.grid.code
    if not scope.allows(grid_code):
        raise Problem(
            422,
            "outside-your-area",
            f"The location is in grid {grid_code}, which is outside your area; ask that grid's chief to add it.",
            title="Outside your area",
        )
    household = Household(
        ref=data.get("ref"),
        address=data["address"].strip(),
        location=point.ewkt,
        source_datum=point.datum,
        raw_lon=point.raw_lon,
        raw_lat=point.raw_lat,
        accuracy_m=point.accuracy_m,
        head_name=data["head_name"].strip(),
        head_phone=phone,
        size=data["size"],
        generation_id=found.generation_id,
        grid_code=grid_code,
        snap_distance_m=found.hit.distance_m if found.hit.snapped else None,
        created_by=actor.id,
    )
    household.tag_rows = [HouseholdTag(tag=t) for t in tags]
    try:
        with db.session.begin_nested():
            db.session.add(household)
            db.session.flush()
    except IntegrityError:
        raise Problem(409, "duplicate-ref", f"A household with ref {data.get('ref')!r} exists already.") from None
    return household


def get_household(household_id: int, scope: Scope | None = None) -> Household:
    """The household if it exists and is in scope (the request's, unless given); otherwise the one 404."""
    if scope is None:
        return get_in_scope_or_404(Household, household_id, area_of=lambda h: h.grid_code, what="household")
    household = db.session.get(Household, household_id)
    if household is None or not scope.allows(household.grid_code):
        raise NotFound("household")
    return household


def get_grid_in_scope(code: str, scope: Scope):
    """A grid of the current map in the caller's scope; anything else (missing, not a grid, outside) is one 404."""
    index = current_index()
    ref = index.areas.get(code) if index is not None else None
    if ref is None or ref.level != "grid" or not scope.allows(code):
        raise NotFound("grid")
    return ref


# --- visit status ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VisitStatus:
    last_visited_at: datetime | None
    next_due_at: datetime
    overdue: bool
    status: str

    def as_dict(self) -> dict:
        return {
            "last_visited_at": self.last_visited_at,
            "next_due_at": self.next_due_at,
            "overdue": self.overdue,
            "never_visited": self.last_visited_at is None,
            "status": self.status,
            "status_zh": VISIT_STATUS_ZH[self.status],
        }


def visit_status(household: Household, now: datetime, target_days: int) -> VisitStatus:
    """Due `target_days` after the last visit (or after registration if never visited); overdue once past that."""
    next_due = (household.last_visited_at or household.created_at) + timedelta(days=target_days)
    if now > next_due:
        status = "overdue"
    elif next_due - now <= timedelta(days=DUE_SOON_DAYS):
        status = "due_soon"
    else:
        status = "ok"
    return VisitStatus(household.last_visited_at, next_due, status == "overdue", status)


def due_clock():
    """The SQL twin of visit_status's start of the clock: the last visit, or registration."""
    return func.coalesce(Household.last_visited_at, Household.created_at)


# --- lists ----------------------------------------------------------------------------------------------------


def has_primary_link():
    return exists().where(HouseholdLink.household_id == Household.id, HouseholdLink.is_primary.is_(True))


def household_query(
    scope: Scope,
    *,
    area: str | None = None,
    tag: str | None = None,
    linked: bool | None = None,
    overdue: bool | None = None,
    member_id: int | None = None,
    now: datetime,
    target_days: int,
):
    query = select(Household).where(scope.filter(Household.grid_code))
    if area:
        query = query.where(Household.grid_code.startswith(area, autoescape=True))
    if tag:
        query = query.where(exists().where(HouseholdTag.household_id == Household.id, HouseholdTag.tag == tag))
    if linked is not None:
        query = query.where(has_primary_link() if linked else ~has_primary_link())
    if overdue is not None:
        late = due_clock() < now - timedelta(days=target_days)
        query = query.where(late if overdue else ~late)
    if member_id is not None:
        query = query.where(
            exists().where(HouseholdLink.household_id == Household.id, HouseholdLink.member_id == member_id)
        )
    return query


def page(query, order_by, limit: int, offset: int) -> tuple[list[Household], int]:
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = list(db.session.scalars(query.order_by(*order_by).limit(limit).offset(offset)))
    return rows, total


def links_of(household_ids) -> dict[int, list[tuple[HouseholdLink, str]]]:
    """Every link of these households, with the member's name: {household_id: [(link, name), ...]}, primary first."""
    out: dict[int, list] = {}
    if not household_ids:
        return out
    rows = db.session.execute(
        select(HouseholdLink, User.name)
        .join(User, User.id == HouseholdLink.member_id)
        .where(HouseholdLink.household_id.in_(list(household_ids)))
        .order_by(HouseholdLink.household_id, HouseholdLink.is_primary.desc(), HouseholdLink.id)
    ).all()
    for link, name in rows:
        out.setdefault(link.household_id, []).append((link, name))
    return out


def household_view(household: Household, links, *, full: bool, now: datetime, target_days: int) -> dict:
    """One household as a viewer may see it (`full` decides the head's name and phone)."""
    lon, lat = lonlat(household.location)
    primary = next(((link, name) for link, name in links if link.is_primary), None)
    index = current_index()
    grid = index.areas.get(household.grid_code) if index is not None else None
    return {
        "id": household.id,
        "ref": household.ref,
        "address": household.address,
        "location": {"lon": lon, "lat": lat, "datum": "wgs84"},
        **head_view(household, full),
        "size": household.size,
        "tags": household.tags,
        "grid": {"code": household.grid_code, "name": grid.name if grid is not None else None},
        "generation_id": household.generation_id,
        "linked": primary is not None,
        "primary_member": {"id": primary[0].member_id, "name": primary[1]} if primary else None,
        "visit": visit_status(household, now, target_days).as_dict(),
    }


def list_views(rows, *, now: datetime) -> list[dict]:
    """Lists always mask personal data (they are the easiest thing to harvest)."""
    links = links_of([h.id for h in rows])
    target = settings().visit_target_days
    return [household_view(h, links.get(h.id, []), full=False, now=now, target_days=target) for h in rows]


def detail_view(household: Household, viewer, *, now: datetime) -> dict:
    links = links_of([household.id]).get(household.id, [])
    full = may_see_personal(viewer, household.grid_code, [link.member_id for link, _ in links])
    if full:  # a person's name and phone leave the system: on the record
        record("household_personal_data_read", "household", household.id)
    body = household_view(household, links, full=full, now=now, target_days=settings().visit_target_days)
    body["members"] = [{"id": link.member_id, "name": name, "primary": link.is_primary} for link, name in links]
    body["source"] = {
        "lon": household.raw_lon,
        "lat": household.raw_lat,
        "datum": household.source_datum,
        "accuracy_m": household.accuracy_m,
    }
    body["snap_distance_m"] = household.snap_distance_m
    body["created_at"] = household.created_at
    return body


def grid_summary(code: str, *, now: datetime, target_days: int) -> dict:
    """Counts for one grid: households, linked (primary member), visited within the target, overdue."""
    in_grid = Household.grid_code == code
    total = db.session.scalar(select(func.count()).where(in_grid))
    linked = db.session.scalar(select(func.count()).where(in_grid, has_primary_link()))
    since = now - timedelta(days=target_days)
    visited = db.session.scalar(select(func.count()).where(in_grid, Household.last_visited_at >= since))
    overdue = db.session.scalar(select(func.count()).where(and_(in_grid, due_clock() < since)))
    return {"households": total, "linked": linked, "visited_within_target": visited, "overdue": overdue}
