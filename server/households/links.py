"""Party-member links (党员联户): link and unlink in bulk, all or nothing; and the rebalance proposal.

Rules:
- the member is an active account with the `member` role, homed in the caller's scope;
- a household can be linked only if it is in the caller's scope AND in the member's own area (scope);
- a member has at most GRID_LINK_LIMIT links (primary or not);
- a household has at most one primary member (also a partial unique index in the database).
Any broken rule rejects the whole request with a per-item report (`errors`: index, household_id, reason,
detail) and nothing changes. The member's row is locked (SELECT ... FOR UPDATE on PostgreSQL) so that two
concurrent requests cannot push a member over the limit.

Rebalance proposes primary links for the unlinked households of an area: each goes to the nearest eligible
member with room left (greedy, nearest pairs first; ties by household id, then member id). A member's position
is the centroid of the households already linked to them, or of their home area if they have none yet.
Positions do not move while proposing. Eligible: the member's area holds the household, and the member is in
the caller's scope.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from geoalchemy2.shape import to_shape
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from server.accounts.models import User, UserRole
from server.areas import services as areas
from server.audit import record
from server.errors import NotFound, Problem
from server.extensions import db
from server.geo.metric import METRES_PER_DEGREE
from server.households.locations import lonlat
from server.households.models import Household, HouseholdLink
from server.households.services import has_primary_link, settings
from server.scope import Scope, scope_for

LINK_MANAGERS = ("grid_chief", "township_staff", "county_staff", "admin")
MAX_REBALANCE_PAIRS = 2_000_000


def _member(member_id: int, scope: Scope, *, lock: bool) -> User:
    member = db.session.get(User, member_id, with_for_update=lock or None)
    if member is None or not scope.allows(member.home_area_code):
        raise NotFound("member")
    if "member" not in member.roles or not member.active:
        detail = f"Account {member_id} is not an active party member (role member)."
        raise Problem(422, "not-a-member", detail, title="Not a member")
    return member


def _item(index: int, household_id: int, reason: str, detail: str) -> dict:
    return {"index": index, "household_id": household_id, "reason": reason, "detail": detail}


def _reject(errors: list[dict], total: int, verb: str) -> Problem:
    return Problem(
        422,
        f"{verb}-rejected",
        f"{len(errors)} of {total} household(s) could not be {verb}ed; nothing was changed. See `errors`.",
        title=f"{verb.capitalize()} rejected",
        errors=errors,
    )


def link_count(member_id: int) -> int:
    return db.session.scalar(select(func.count()).where(HouseholdLink.member_id == member_id))


def link_households(member_id: int, household_ids: list[int], *, primary: bool, actor: User, scope: Scope) -> dict:
    member = _member(member_id, scope, lock=True)
    member_scope = scope_for(member)
    ids = list(dict.fromkeys(household_ids))
    households = {h.id: h for h in db.session.scalars(select(Household).where(Household.id.in_(ids)))}
    links = db.session.scalars(select(HouseholdLink).where(HouseholdLink.household_id.in_(ids))).all()
    mine = {link.household_id for link in links if link.member_id == member.id}
    primaries = {link.household_id: link.member_id for link in links if link.is_primary}
    errors, new = [], []
    for i, hid in enumerate(ids):
        household = households.get(hid)
        if household is None or not scope.allows(household.grid_code):
            errors.append(_item(i, hid, "not-found", "No such household, or it is outside your area."))
        elif not member_scope.allows(household.grid_code):
            errors.append(
                _item(i, hid, "outside-member-area", f"Grid {household.grid_code} is outside the member's area.")
            )
        elif hid in mine:
            continue  # already linked to this member: nothing to do
        elif primary and hid in primaries:
            errors.append(_item(i, hid, "has-primary-member", "The household already has a primary member."))
        else:
            new.append((i, hid))
    limit, count = settings().link_limit, link_count(member.id)
    room = max(limit - count, 0)
    for i, hid in new[room:]:
        errors.append(_item(i, hid, "link-limit", f"The member would have more than {limit} households."))
    if errors:
        raise _reject(sorted(errors, key=lambda e: e["index"]), len(ids), "link")
    for _, hid in new:
        db.session.add(HouseholdLink(household_id=hid, member_id=member.id, is_primary=primary, linked_by=actor.id))
    _flush_links()
    if new:
        record("households_linked", "user", member.id, households=[hid for _, hid in new], primary=primary)
    return {
        "member_id": member.id,
        "linked": [hid for _, hid in new],
        "unchanged": [hid for hid in ids if hid in mine],
        "links": count + len(new),
        "limit": limit,
    }


def _flush_links() -> None:
    try:
        db.session.flush()
    except IntegrityError:
        raise Problem(
            409,
            "link-conflict",
            "Another request linked one of these households at the same time; nothing was changed. Try again.",
            title="Conflict",
        ) from None


def unlink_households(member_id: int, household_ids: list[int], *, scope: Scope) -> dict:
    member = _member(member_id, scope, lock=True)
    ids = list(dict.fromkeys(household_ids))
    rows = db.session.execute(
        select(HouseholdLink, Household.grid_code)
        .join(Household, Household.id == HouseholdLink.household_id)
        .where(HouseholdLink.member_id == member.id, HouseholdLink.household_id.in_(ids))
    ).all()
    found = {link.household_id: link for link, grid in rows if scope.allows(grid)}
    errors = [
        _item(i, hid, "not-linked", "This household is not linked to this member, or it is outside your area.")
        for i, hid in enumerate(ids)
        if hid not in found
    ]
    if errors:
        raise _reject(errors, len(ids), "unlink")
    for link in found.values():
        db.session.delete(link)
    db.session.flush()
    record("households_unlinked", "user", member.id, households=ids)
    return {"member_id": member.id, "unlinked": ids, "links": link_count(member.id), "limit": settings().link_limit}


# --- rebalance ------------------------------------------------------------------------------------------------


@dataclass
class _Candidate:
    user: User
    room: int
    lon: float
    lat: float
    source: str  # linked_households | home_area


def rebalance(area_code: str, *, dry_run: bool, actor: User, scope: Scope) -> dict:
    if not scope.allows(area_code):
        raise NotFound("area")
    areas.get_area(area_code)  # 404 if not in the current map
    households = db.session.execute(
        select(Household.id, Household.grid_code, Household.location)
        .where(Household.grid_code.startswith(area_code, autoescape=True), ~has_primary_link())
        .order_by(Household.id)
    ).all()
    members = _candidates(area_code, scope, lock=not dry_run)
    proposals, unassigned = _assign(households, members)
    if not dry_run:
        for p in proposals:
            link = HouseholdLink(household_id=p["household_id"], member_id=p["member_id"], is_primary=True)
            link.linked_by = actor.id
            db.session.add(link)
        _flush_links()
        record("links_rebalanced", "area", area_code, links=len(proposals))
    return {
        "area_code": area_code,
        "dry_run": dry_run,
        "applied": not dry_run,
        "proposals": proposals,
        "unassigned": unassigned,
        "members": [
            {
                "id": m.user.id,
                "name": m.user.name,
                "room": m.room,
                "position": {"lon": m.lon, "lat": m.lat, "datum": "wgs84"},
                "position_from": m.source,
                "proposed": sum(1 for p in proposals if p["member_id"] == m.user.id),
            }
            for m in members
        ],
    }


def _candidates(area_code: str, scope: Scope, *, lock: bool) -> list[_Candidate]:
    """Active members who may take households of the area: homed in it, or in one of its ancestors."""
    ancestors = [area_code[:k] for k in range(1, len(area_code))]
    home_in = User.home_area_code.startswith(area_code, autoescape=True) | User.home_area_code.in_(ancestors)
    query = (
        select(User)
        .join(UserRole, (UserRole.user_id == User.id) & (UserRole.role == "member"))
        .where(User.active.is_(True), home_in)
        .order_by(User.id)
    )
    if lock:
        query = query.with_for_update(of=User)
    users = [u for u in db.session.scalars(query) if scope.allows(u.home_area_code)]
    if not users:
        return []
    limit = settings().link_limit
    counts = dict(
        db.session.execute(
            select(HouseholdLink.member_id, func.count())
            .where(HouseholdLink.member_id.in_([u.id for u in users]))
            .group_by(HouseholdLink.member_id)
        ).all()
    )
    linked = db.session.execute(
        select(HouseholdLink.member_id, Household.location)
        .join(Household, Household.id == HouseholdLink.household_id)
        .where(HouseholdLink.member_id.in_([u.id for u in users]))
    ).all()
    positions: dict[int, list[tuple[float, float]]] = {}
    for member_id, location in linked:
        positions.setdefault(member_id, []).append(lonlat(location))
    out = []
    for u in users:
        room = limit - counts.get(u.id, 0)
        if room <= 0:
            continue
        if u.id in positions:
            lon, lat = np.mean(np.array(positions[u.id]), axis=0)
            out.append(_Candidate(u, room, float(lon), float(lat), "linked_households"))
        else:
            centre = _home_centre(u.home_area_code)
            if centre is not None:
                out.append(_Candidate(u, room, centre[0], centre[1], "home_area"))
    return out


def _home_centre(code: str) -> tuple[float, float] | None:
    try:
        area = areas.get_area(code)
    except NotFound:
        return None
    point = shapely.centroid(to_shape(area.geom))
    return point.x, point.y


def _assign(households, members: list[_Candidate]) -> tuple[list[dict], list[dict]]:
    if not households:
        return [], []
    if not members:
        return [], [{"household_id": h.id, "reason": "no-member-with-room"} for h in households]
    if len(households) * len(members) > MAX_REBALANCE_PAIRS:
        raise Problem(422, "area-too-large", "Too many households and members at once; rebalance a smaller area.")
    points = np.array([lonlat(h.location) for h in households])
    centres = np.array([(m.lon, m.lat) for m in members])
    cos = np.cos(np.radians(points[:, 1].mean()))
    dx = (points[:, None, 0] - centres[None, :, 0]) * cos * METRES_PER_DEGREE
    dy = (points[:, None, 1] - centres[None, :, 1]) * METRES_PER_DEGREE
    distance = np.hypot(dx, dy)
    homes = [m.user.home_area_code for m in members]
    eligible = np.array([[h.grid_code.startswith(home) for home in homes] for h in households], dtype=bool)
    distance[~eligible] = np.inf
    h_idx, m_idx = np.nonzero(np.isfinite(distance))
    order = np.lexsort((m_idx, h_idx, distance[h_idx, m_idx]))
    room = [m.room for m in members]
    taken = np.zeros(len(households), dtype=bool)
    proposals = []
    for k in order:
        h, m = int(h_idx[k]), int(m_idx[k])
        if taken[h] or room[m] == 0:
            continue
        taken[h] = True
        room[m] -= 1
        proposals.append(
            {
                "household_id": households[h].id,
                "grid_code": households[h].grid_code,
                "member_id": members[m].user.id,
                "member_name": members[m].user.name,
                "distance_m": round(float(distance[h, m]), 1),
            }
        )
    proposals.sort(key=lambda p: p["household_id"])
    unassigned = [{"household_id": households[h].id, "reason": "no-member-with-room"} for h in np.flatnonzero(~taken)]
    return proposals, unassigned
