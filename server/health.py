"""Liveness and readiness probes for load balancers and orchestrators."""

from flask import Blueprint
from sqlalchemy import text

from server.areas.index_cache import current_generation_id
from server.areas.services import no_map_loaded
from server.errors import Problem
from server.extensions import db
from server.tips.materialise import waiting as waiting_tips

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """The process is up."""
    return {"status": "ok"}


@bp.get("/readyz")
def readyz():
    """The database answers and a grid map is loaded; how many accepted tips wait for the worker."""
    try:
        db.session.execute(text("SELECT 1"))
        generation = current_generation_id()
    except Exception:  # noqa: BLE001 - any database failure means "not ready"
        raise Problem(503, "database-unavailable", "The database does not answer.") from None
    if generation is None:
        raise no_map_loaded()
    # Tips accepted but not yet routed: a number that keeps growing means no worker is running (`flask worker`).
    return {"status": "ready", "generation_id": generation, "tips_waiting": waiting_tips()}
