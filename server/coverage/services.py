"""Coverage of an area for one viewer: the area's and its children's indicators, the grids of a viewer's scope (for
tiles and OGC), and members' 先锋指数. Plain functions; read-only.

Caching (server/coverage/cache.py): the viewer-independent counts (households, links, visits, patrols) are cached per
(generation, area, date range); tip counts per viewer as well, because what a viewer may see differs. Both at most
GRID_COVERAGE_CACHE_SECONDS old, so a new tip shows within a minute. A cached ancestor serves its descendants.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import date, datetime

from flask import current_app
from sqlalchemy import and_, case, exists, func, or_, select, text

from server.accounts.models import User, UserRole
from server.areas.models import LEVEL_LABELS_ZH
from server.areas.services import resolve_generation
from server.coverage.cache import CoverageCache
from server.coverage.hierarchy import Hierarchy, HierarchyCache
from server.coverage.indicators import (
    TIP_FIELDS,
    Counts,
    Window,
    activity_counts,
    indicators,
    roll_up,
    scores,
    tip_counts,
)
from server.coverage.indices import CLASS_LABELS_ZH, INDEX_FOR_LEVEL, INDEX_LABELS_ZH, IndexConfig, index_config
from server.errors import NotFound
from server.extensions import db
from server.households.models import HouseholdLink, Visit
from server.patrols.models import Patrol
from server.scope import Scope, current_scope, current_user

CHILD_LEVEL = {"county": "township", "township": "village", "village": "grid"}


def _settings():
    return current_app.config["GRID"]


def _state() -> dict:
    state = current_app.extensions.get("coverage")
    if state is None:
        state = current_app.extensions.setdefault(
            "coverage",
            {"trees": HierarchyCache(), "cache": CoverageCache(_settings().coverage_cache_seconds)},
        )
    return state


def cache() -> CoverageCache:
    return _state()["cache"]


def current_config() -> IndexConfig:
    settings = _settings()
    return index_config(settings.index_weights, settings.index_thresholds)


def make_window(now: datetime, since: date | None = None, until: date | None = None) -> Window:
    settings = _settings()
    return Window.build(
        now,
        since=since,
        until=until,
        visit_days=settings.visit_target_days,
        patrol_days=settings.coverage_patrol_days,
        tz=getattr(settings, "timezone", "Asia/Shanghai"),
    )


def current_tree() -> Hierarchy:
    return _state()["trees"].get(resolve_generation(None))


@dataclass
class Viewer:
    """Who asks: their scope, a key for their tip visibility, and the SQL clause of the tips they may see."""

    scope: Scope
    key: tuple
    visible_tips: object  # a SQL clause over Tip (server.tips.visibility.visible_tips)


COVERAGE_ROLES = ("admin", "county_staff", "township_staff", "custodian", "grid_chief")


def current_viewer() -> Viewer:
    """The request's account as a coverage viewer: its scope, a cache key, and the tips it may count."""
    from server.tips.visibility import visible_tips

    user, scope = current_user(), current_scope()
    return Viewer(scope, (user.id, scope.everything, scope.prefixes), visible_tips(user))


@dataclass
class Coverage:
    tree: Hierarchy
    code: str
    window: Window
    config: IndexConfig
    activity: dict[str, Counts]
    tips: dict[str, Counts]

    def counts(self, code: str) -> Counts:
        """The area's activity and tip counts side by side (the two were rolled up apart: one cached per viewer)."""
        merged = copy.copy(self.activity[code])
        tips = self.tips.get(code)
        if tips is not None:
            for name in TIP_FIELDS:
                setattr(merged, name, getattr(tips, name))
            merged.accept_seconds = tips.accept_seconds
        else:
            merged.accept_seconds = []
        return merged

    def row(self, code: str) -> dict:
        node = self.tree.nodes[code]
        counts = self.counts(code)
        index = INDEX_FOR_LEVEL.get(node.level)
        value = self.config.compute(index, scores(counts)) if index else None
        klass = self.config.classify(value) if index else None
        return (
            node.ref()
            | indicators(counts)
            | {
                "index": index,
                "index_zh": INDEX_LABELS_ZH.get(index),
                "index_value": value,
                "index_class": klass,
                "index_class_zh": CLASS_LABELS_ZH.get(klass),
            }
        )

    def children(self) -> list[str]:
        return list(self.tree.children.get(self.code, ()))


def area_coverage(code: str, viewer: Viewer, now: datetime, since: date | None = None, until: date | None = None):
    """The coverage of one area in the viewer's scope; out of scope answers exactly like a missing area."""
    tree = current_tree()
    if code not in tree.nodes or not viewer.scope.allows(code):
        raise NotFound("area")
    return _coverage(tree, code, viewer, make_window(now, since, until))


def _coverage(tree: Hierarchy, code: str, viewer: Viewer, window: Window) -> Coverage:
    store = cache()
    chain = tree.chain(code)
    gen, wkey = tree.generation_id, window.key()

    def activity():
        plan_for_aggregates()
        return roll_up(tree, code, activity_counts(tree, code, window))

    def tips():
        plan_for_aggregates()
        return roll_up(tree, code, tip_counts(tree, code, window, viewer.visible_tips), tips=True)

    also_activity = [("activity", gen, c, wkey) for c in chain[1:]]
    also_tips = [("tips", gen, c, wkey, viewer.key) for c in chain[1:]]
    return Coverage(
        tree,
        code,
        window,
        current_config(),
        store.get_or_compute(("activity", gen, code, wkey), window.now, activity, also_activity),
        store.get_or_compute(("tips", gen, code, wkey, viewer.key), window.now, tips, also_tips),
    )


def plan_for_aggregates() -> None:
    """PostgreSQL, for the rest of this transaction: no JIT (it compiles these aggregates for ~150 ms before running
    them for less), and a plan made for each execution's values (psycopg prepares a statement run five times, and the
    generic plan PostgreSQL then switches to took the demo county's cold coverage from ~85 to ~160 ms)."""
    if db.engine.dialect.name == "postgresql":
        settings = "set_config('jit', 'off', true), set_config('plan_cache_mode', 'force_custom_plan', true)"
        db.session.execute(text(f"SELECT {settings}"))  # true: local to this transaction, like SET LOCAL


def scope_roots(tree: Hierarchy, scope: Scope) -> list[str]:
    """The top-most areas of the tree inside a scope."""
    if scope.everything:
        return sorted(c for c, n in tree.nodes.items() if n.parent_code is None or n.parent_code not in tree.nodes)
    roots = []
    for prefix in scope.prefixes:
        if prefix in tree.nodes:
            roots.append(prefix)
        else:
            roots.extend(
                c
                for c, n in tree.nodes.items()
                if c.startswith(prefix) and not (n.parent_code or "").startswith(prefix)
            )
    return sorted(set(roots))


def coverages_for_scope(viewer: Viewer, now: datetime, since: date | None = None, until: date | None = None):
    """One Coverage per top-most area of the viewer's scope (tiles and OGC items look grids up in them)."""
    tree = current_tree()
    window = make_window(now, since, until)
    return tree, [_coverage(tree, root, viewer, window) for root in scope_roots(tree, viewer.scope)]


def area_rows(viewer: Viewer, now: datetime, since: date | None = None, until: date | None = None):
    """Every area of the viewer's scope with its indicators, by code (tiles and OGC items look rows up here)."""
    tree = current_tree()
    window = make_window(now, since, until)

    def compute():
        rows = {}
        for root in scope_roots(tree, viewer.scope):
            cov = _coverage(tree, root, viewer, window)
            rows.update((code, cov.row(code)) for code in cov.activity)
        return rows

    key = ("rows", tree.generation_id, window.key(), viewer.key)
    return tree, cache().get_or_compute(key, window.now, compute)


# --- 先锋指数: members --------------------------------------------------------------------------------------------


def member_rows(code: str, viewer: Viewer, now: datetime, since: date | None = None, until: date | None = None):
    """Members whose home area is under `code` (in scope), with their links, visits, patrols and 先锋指数.

    A member is an active account with the member role, or any account with a primary household link.
    Tips filed are not counted: that would tie reporters to tips (see server/coverage/indices.py).
    """
    tree = current_tree()
    if code not in tree.nodes or not viewer.scope.allows(code):
        raise NotFound("area")
    window = make_window(now, since, until)
    settings = _settings()
    config = current_config()
    is_member = exists().where(UserRole.user_id == User.id, UserRole.role == "member")
    has_link = exists().where(HouseholdLink.member_id == User.id, HouseholdLink.is_primary.is_(True))
    users = db.session.execute(
        select(User.id, User.name, User.home_area_code)
        .where(User.active.is_(True), User.home_area_code.startswith(code, autoescape=True), or_(is_member, has_link))
        .order_by(User.home_area_code, User.id)
    ).all()
    ids = [u.id for u in users]
    linked, visited, patrols = _member_links(ids, window), _member_visits(ids, window), _member_patrols(ids, window)
    rows = []
    for user in users:
        n_linked = linked.get(user.id, 0)
        n_visited = visited.get(user.id, 0)
        n_patrols, seconds, metres = patrols.get(user.id, (0, 0.0, 0.0))
        hours = seconds / 3600
        member_scores = {
            "link_load_rate": round(min(n_linked / settings.member_target_households, 1.0), 4),
            "visit_rate": round(n_visited / n_linked, 4) if n_linked else None,
            "patrol_rate": round(min(hours / settings.member_target_patrol_hours, 1.0), 4),
        }
        value = config.compute("vanguard", member_scores)
        klass = config.classify(value)
        owner = tree.owner(user.home_area_code)
        rows.append(
            {
                "id": user.id,
                "name": user.name,
                "home_area_code": user.home_area_code,
                "home_area_name": tree.nodes[owner].name if owner else None,
                "households_linked": n_linked,
                "households_visited": n_visited,
                "patrols": n_patrols,
                "patrol_hours": round(hours, 2),
                "patrol_km": round(metres / 1000, 2),
                **member_scores,
                "index": "vanguard",
                "index_zh": INDEX_LABELS_ZH["vanguard"],
                "index_value": value,
                "index_class": klass,
                "index_class_zh": CLASS_LABELS_ZH[klass],
            }
        )
    return tree.nodes[code], window, rows


def _member_links(ids: list[int], window: Window) -> dict[int, int]:
    if not ids:
        return {}
    query = (
        select(HouseholdLink.member_id, func.count())
        .where(HouseholdLink.member_id.in_(ids), HouseholdLink.is_primary.is_(True))
        .group_by(HouseholdLink.member_id)
    )
    return dict(db.session.execute(query).all())


def _member_visits(ids: list[int], window: Window) -> dict[int, int]:
    """Per member: their primary-linked households that THEY visited in the window."""
    if not ids:
        return {}
    visited = exists().where(
        Visit.household_id == HouseholdLink.household_id,
        Visit.member_id == HouseholdLink.member_id,
        Visit.visited_at >= window.visits_from,
        Visit.visited_at <= window.now,
    )
    query = (
        select(HouseholdLink.member_id, func.sum(case((visited, 1), else_=0)))
        .where(HouseholdLink.member_id.in_(ids), HouseholdLink.is_primary.is_(True))
        .group_by(HouseholdLink.member_id)
    )
    return {k: int(v or 0) for k, v in db.session.execute(query).all()}


def _member_patrols(ids: list[int], window: Window) -> dict[int, tuple[int, float, float]]:
    if not ids:
        return {}
    query = (
        select(
            Patrol.user_id,
            func.count(),
            func.coalesce(func.sum(Patrol.duration_s), 0.0),
            func.coalesce(func.sum(Patrol.distance_m), 0.0),
        )
        .where(
            Patrol.user_id.in_(ids),
            Patrol.status == "finished",
            and_(Patrol.last_point_at >= window.patrols_from, Patrol.first_point_at <= window.now),
        )
        .group_by(Patrol.user_id)
    )
    return {uid: (n, float(s), float(m)) for uid, n, s, m in db.session.execute(query).all()}


def level_label(level: str | None) -> str | None:
    return LEVEL_LABELS_ZH.get(level) if level else None
