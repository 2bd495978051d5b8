"""The worker's half of JSON intake: route the tips waiting in the intake journal and write them.

Each waiting tip is read back as intake stored it (the point, the grid found then, the category as it was),
routed to the grid's people of today by the one writer (server.tips.writer), and its journal row deleted, in the
worker's transaction: a tip is written exactly once, and a batch costs one commit. Multipart intake calls
`materialise` for one tip when a photo arrives for a tip that is still waiting.
"""

from __future__ import annotations

import logging

from sqlalchemy import func, select

from server.extensions import db
from server.geo.sql import is_spatialite
from server.rawsql import RawConnection
from server.tips.followups import claim_oldest
from server.tips.intake_sql import read_for_writing
from server.tips.models import TipIntake
from server.tips.submission import Reporter, Submission
from server.tips.writer import write_routed_tip

log = logging.getLogger(__name__)


def materialise_waiting(limit: int = 200) -> int:
    """Write up to `limit` waiting tips, oldest first (the caller commits). Returns how many were written.

    Each is written under a savepoint: one that fails (a bug, a row the database refuses) is logged by id and left
    waiting, and the others go on; it is tried again next round, and /readyz keeps counting it."""
    done = 0
    for entry in claim_oldest(TipIntake, TipIntake.tip_id, limit):
        tip_id = entry.tip_id
        try:
            with db.session.begin_nested():
                _write(entry)
                db.session.flush()
        except Exception:  # noqa: BLE001 - one bad entry must not hold up every tip behind it
            log.exception("tip %s could not be written from the intake journal; it stays waiting", tip_id)
            continue
        done += 1
    return done


def materialise(tip_id: int) -> bool:
    """Write one waiting tip now (True), or nothing if it is not waiting (False)."""
    query = select(TipIntake).where(TipIntake.tip_id == tip_id)
    if not is_spatialite():
        query = query.with_for_update()  # a worker writing it meanwhile makes us wait, then find nothing
    entry = db.session.scalars(query).one_or_none()
    if entry is None:
        return False
    _write(entry)
    db.session.flush()
    return True


def waiting() -> int:
    return db.session.scalar(select(func.count()).select_from(TipIntake))


def _write(entry: TipIntake) -> None:
    sub, category = Submission.from_journal(entry.submission, entry.received_at)
    identity = entry.reporter["row"]
    reporter = Reporter(identity["user_id"], entry.reporter["role"])
    s = RawConnection()
    people = read_for_writing(s, grid_code=sub.place.grid_code, next_id=False).people
    write_routed_tip(s, sub, category, people, entry.tip_id, reporter, identity)
    db.session.delete(entry)
