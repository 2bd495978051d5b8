"""The one writer of tips: route a submission to its grid's people or a queue, and build the rows of the tip, its
reporter, exclusions, first timeline event and follow-up (`routed_rows`), which server.tips.intake_sql.write_tips
writes in one round trip, for one tip or a worker's batch.

Both ways a tip is written use it: the worker, for JSON tips waiting in the intake journal
(server.tips.materialise), and multipart intake, which writes the tip at once because its photos need it.
"""

from __future__ import annotations

from flask import current_app

from server.accounts.assignments import Responsible
from server.geo import datum
from server.tips import receipts
from server.tips.intake_sql import Category, TipRows
from server.tips.routing import Routing, route
from server.tips.submission import Reporter, Submission
from server.workflow.deadlines import initial_clock


def routed_rows(
    sub: Submission,
    category: Category,
    people: list[Responsible],
    tip_id: int,
    reporter: Reporter,
    reporter_row: dict,
) -> TipRows:
    """Route the submission and build the rows that write it."""
    routing = route(sub.place, people, conflict=sub.payload["implicates_official"] or category.conflict)
    event = {
        "tip_id": tip_id,
        "at": sub.now,
        "action": "dispatch",
        "from_status": "submitted",
        "to_status": "dispatched",
        "details": {"queue": routing.queue_kind, "area": routing.queue_area_code},
    }
    tip = _tip_row(tip_id, sub, category, routing, reporter)
    return TipRows(tip, reporter_row, frozenset(routing.excluded_user_ids), event)


def reporter_row(tip_id: int, user_id: int | None, anonymous: bool, payload: dict) -> tuple[dict, str | None]:
    """Identity, apart from content. An anonymous tip keeps no account id: only a receipt whose secret is derived."""
    row = {"tip_id": tip_id, "user_id": None, "receipt_code": None, "secret_hash": None}
    row["device_hash"] = payload["client"].get("device_hash")
    if not anonymous:
        return row | {"user_id": user_id}, None
    code = receipts.new_code()
    secret = receipts.secret_for(code)
    return row | {"receipt_code": code, "secret_hash": receipts.secret_hash(secret)}, secret


def is_anonymous(payload: dict, user_id: int | None) -> bool:
    return payload["anonymous"] or user_id is None


def _tip_row(tip_id: int, sub: Submission, category: Category, routing: Routing, reporter: Reporter) -> dict:
    payload, loc, (lon, lat) = sub.payload, sub.payload["location"], sub.point
    row = {
        "id": tip_id,
        "category_code": category.code,
        "description": payload["description"],
        "status": "dispatched",
        "occurred_at": payload.get("occurred_at"),
        "submitted_at": sub.now,
        "location": f"SRID=4326;POINT({lon!r} {lat!r})",
        "source_datum": datum.normalise_datum(loc["datum"]),
        "raw_lon": loc["lon"],
        "raw_lat": loc["lat"],
        "accuracy_m": loc.get("accuracy_m"),
        "generation_id": routing.generation_id,
        "grid_code": routing.grid_code,
        "area_code": routing.area_code,
        "snap_distance_m": routing.snap_distance_m,
        "outside_grids": routing.outside_grids,
        "conflict": routing.conflict,
        "implicates_official": payload["implicates_official"],
        "queue_kind": routing.queue_kind,
        "queue_area_code": routing.queue_area_code,
        "assignee_user_id": routing.assignee_user_id,
        "reporter_role": reporter.role,
        "anonymous": is_anonymous(payload, reporter.user_id),
        "app_version": payload["client"].get("app_version"),
        "version": 1,
        "postponements": 0,
    }
    return row | initial_clock(current_app.config["GRID"], category, routing.queue_kind, "dispatched", sub.now)
