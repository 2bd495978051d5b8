"""`flask households demo`: something for the map and the chief's endpoints to show. Idempotent; refused in production.

Around the demo grid chief's grid (see `flask users demo`): 11 households in that grid and in each of the next
three grids of the same township (by code), at deterministic points inside each grid, with deterministic heads,
phones (1380899xxxx, clearly fake) and tags. The demo member is linked (primary) to the households of their own
grid; those get visits 3, 25 and 45 days ago (one of them logged 300 m away, so flagged), and some none yet.
The other grids' households stay unlinked, so that rebalance has something to propose. The demo member also
gets one finished patrol from their grid into a neighbouring one, with one GPS outlier that the filter drops.
Households are keyed by `ref` (DEMO-<grid>-<n>), visits and the patrol by their absence: running it twice
changes nothing.
"""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import shapely
from flask import current_app
from sqlalchemy import func, select

from server.accounts.assignments import current_grid_codes
from server.accounts.cli import DEMO_ACCOUNTS
from server.accounts.models import User
from server.areas.index_cache import current_index
from server.errors import Problem
from server.extensions import db
from server.geo.metric import METRES_PER_DEGREE
from server.households.models import Household, HouseholdLink, HouseholdTag, Visit
from server.households.services import has_primary_link
from server.patrols import services as patrols
from server.patrols.models import Patrol

PER_GRID = 11
GRIDS = 4
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林郑"
GIVEN = ["建国", "秀英", "志强", "桂兰", "海峰", "美华", "国平", "小燕", "德明", "春梅", "永福", "丽娟"]
STREETS = ["新村路", "溪边巷", "文昌路", "柳树弄", "石板街", "荷花路"]
VISIT_DAYS_AGO = (None, 45, 25, 3)  # by household number % 4: never, overdue, due soon, recent
PATROL_NOTE = "演示巡查"


def _demo_user(role: str) -> User:
    phone = next(p for r, p, _ in DEMO_ACCOUNTS if r == role)
    user = db.session.scalar(select(User).where(User.phone == phone))
    if user is None:
        raise Problem(400, "no-demo-accounts", "The demo accounts are missing: run `flask users demo` first.")
    return user


def make_demo(now: datetime | None = None) -> list[str]:
    if current_app.config["GRID"].is_production:
        raise Problem(
            400, "demo-in-production", "Demo data is refused when GRID_ENV=production (it has made-up people)."
        )
    now = now or datetime.now(UTC)
    index = current_index()
    if index is None or len(index) == 0:
        raise Problem(400, "no-map-loaded", "No grid map is loaded: flask grids import grid_maps/demo_county.geojson")
    chief, member = _demo_user("grid_chief"), _demo_user("member")
    home = (current_grid_codes(chief.id) or [member.home_area_code])[0]
    if home not in index.areas:
        raise Problem(400, "no-demo-grid", f"The demo chief's grid {home} is not in the current map.")
    siblings = [c for c in index.grid_codes if c.startswith(home[:9]) and c != home][: GRIDS - 1]
    grids = [home, *siblings]
    created = sum(_households(index, code, chief) for code in grids)
    db.session.flush()
    member_grid = member.home_area_code if member.home_area_code in grids else home
    linked = _links(member, member_grid, chief)
    visits = _visits(member, now)
    patrol = _patrol(index, member, grids, now)
    return [
        f"Demo households: {created} created in {len(grids)} grids ({', '.join(grids)}); {PER_GRID} per grid.",
        f"Demo member {member.name} is linked to {linked} household(s) of grid {member_grid}; {visits} visit(s) added.",
        f"Demo patrol: {patrol}.",
    ]


def _point_in(index, code: str, rng: random.Random) -> tuple[float, float]:
    i = index.grid_codes.index(code)
    geom = index.geoms[i]
    minx, miny, maxx, maxy = geom.bounds
    while True:
        x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        if index.covering(x, y) == i and geom.buffer(-0.0002).covers(shapely.Point(x, y)):
            return round(x, 7), round(y, 7)


def _households(index, code: str, chief: User) -> int:
    existing = set(db.session.scalars(select(Household.ref).where(Household.ref.startswith(f"DEMO-{code}-"))))
    tags = current_app.config["GRID"].household_tags
    village = index.areas[code[:12]].name if code[:12] in index.areas else ""
    made = 0
    for n in range(1, PER_GRID + 1):
        ref = f"DEMO-{code}-{n:02d}"
        if ref in existing:
            continue
        rng = random.Random(ref)
        lon, lat = _point_in(index, code, rng)
        household = Household(
            ref=ref,
            address=f"{village}{rng.choice(STREETS)}{rng.randint(1, 199)}号",
            location=f"SRID=4326;POINT({lon!r} {lat!r})",
            source_datum="wgs84",
            raw_lon=lon,
            raw_lat=lat,
            accuracy_m=5.0,
            head_name=rng.choice(SURNAMES) + rng.choice(GIVEN),
            head_phone=f"1380899{rng.randint(0, 9999):04d}",
            size=rng.randint(1, 6),
            generation_id=index.generation_id,
            grid_code=code,
            created_by=chief.id,
        )
        household.tag_rows = [HouseholdTag(tag=t) for t in sorted(set(rng.sample(tags, rng.randint(0, 2))))]
        db.session.add(household)
        made += 1
    return made


def _links(member: User, grid_code: str, chief: User) -> int:
    """Link the member to their grid's demo households, once: a member who has links already is left alone."""
    mine = select(func.count()).where(HouseholdLink.member_id == member.id)
    if db.session.scalar(mine) == 0:
        limit = current_app.config["GRID"].link_limit
        households = db.session.scalars(
            select(Household)
            .where(Household.ref.startswith(f"DEMO-{grid_code}-"), ~has_primary_link())
            .order_by(Household.ref)
            .limit(limit)
        )
        for h in households:
            db.session.add(HouseholdLink(household_id=h.id, member_id=member.id, is_primary=True, linked_by=chief.id))
        db.session.flush()
    return db.session.scalar(mine)


def _visits(member: User, now: datetime) -> int:
    rows = db.session.execute(
        select(Household)
        .join(HouseholdLink, HouseholdLink.household_id == Household.id)
        .where(HouseholdLink.member_id == member.id, Household.ref.startswith("DEMO-"))
        .order_by(Household.ref)
    ).scalars()
    made = 0
    for n, household in enumerate(rows):
        days = VISIT_DAYS_AGO[n % len(VISIT_DAYS_AGO)]
        if days is None or db.session.scalar(select(Visit.id).where(Visit.household_id == household.id).limit(1)):
            continue
        far = n == 3
        lon, lat = household.raw_lon, household.raw_lat + (300.0 if far else 12.0) / METRES_PER_DEGREE
        visited_at = (now - timedelta(days=days)).replace(microsecond=0)
        db.session.add(
            Visit(
                household_id=household.id,
                member_id=member.id,
                grid_code=household.grid_code,
                visited_at=visited_at,
                location=f"SRID=4326;POINT({lon!r} {lat!r})",
                source_datum="wgs84",
                raw_lon=lon,
                raw_lat=lat,
                accuracy_m=8.0,
                distance_m=300.0 if far else 12.0,
                far_from_household=far,
                note="入户走访，了解近况。" if not far else "电话联系后在村口见面。",
            )
        )
        if household.last_visited_at is None or visited_at > household.last_visited_at:
            household.last_visited_at = visited_at
        made += 1
    db.session.flush()
    return made


def _patrol(index, member: User, grids: list[str], now: datetime) -> str:
    existing = db.session.scalar(select(Patrol).where(Patrol.user_id == member.id, Patrol.note == PATROL_NOTE))
    if existing is not None:
        return f"exists (patrol {existing.id})"
    start = index.geoms[index.grid_codes.index(grids[0])].representative_point()
    ends = [index.geoms[index.grid_codes.index(c)] for c in grids[1:]]
    end = next((g for g in ends if g.touches(index.geoms[index.grid_codes.index(grids[0])])), ends[0])
    end = end.representative_point()
    metres = math.hypot(
        (end.x - start.x) * math.cos(math.radians(start.y)) * METRES_PER_DEGREE, (end.y - start.y) * METRES_PER_DEGREE
    )
    steps = max(int(metres / 6.0), 2)  # 1.2 m/s, a point every 5 s
    t0 = int((now - timedelta(hours=2)).timestamp())
    points = [
        [start.x + (end.x - start.x) * k / steps, start.y + (end.y - start.y) * k / steps, t0 + 5 * k, 6.0]
        for k in range(steps + 1)
    ]
    points[steps // 2][0] += 0.01  # one GPS outlier, about 1 km off: the speed filter drops it
    patrol = patrols.open_patrol(member, PATROL_NOTE)
    for seq, start_at in enumerate(range(0, len(points), 100)):
        patrols.add_batch(patrol.id, member, seq, "wgs84", points[start_at : start_at + 100])
    patrols.finish(patrol.id, member, now=now)
    return f"patrol {patrol.id}, {patrol.distance_m:.0f} m in {patrol.duration_s / 60:.0f} min"
