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
from server.tips.intake_sql import read_people, write_tips
from server.tips.models import TipIntake
from server.tips.submission import Reporter, Submission
from server.tips.writer import routed_rows

log = logging.getLogger(__name__)


def materialise_waiting(limit: int = 200) -> int:
    """Write up to `limit` waiting tips, lowest id first (the caller commits). Returns how many were written. Ids
    follow arrival within a process; on PostgreSQL two processes number from blocks of their own (server.tips.tip_ids),
    so across them the order is only roughly the arrival's, which a worker that keeps up makes moot.

    The batch is written under one savepoint, in two round trips whatever its size: the people of every grid in
    it, then every row of every tip. If the database refuses any of it (a bug, a row it will not take), the batch
    is written again one by one, each under its own savepoint: the one that fails is logged by id and left waiting
    (tried again next round, and counted by /readyz), and the others go on."""
    entries = claim_oldest(TipIntake, TipIntake.tip_id, limit)
    if not entries:
        return 0
    try:
        with db.session.begin_nested():
            _write(entries)
        return len(entries)
    except Exception:  # noqa: BLE001 - find the one that fails; the rest must not wait behind it
        log.warning("a batch of %d waiting tips could not be written at once; writing them one by one", len(entries))
    return sum(_write_alone(entry) for entry in entries)


def _write_alone(entry: TipIntake) -> bool:
    tip_id = entry.tip_id
    try:
        with db.session.begin_nested():
            _write([entry])
    except Exception:  # noqa: BLE001 - one bad entry must not hold up every tip behind it
        log.exception("tip %s could not be written from the intake journal; it stays waiting", tip_id)
        return False
    return True


def materialise(tip_id: int) -> bool:
    """Write one waiting tip now (True), or nothing if it is not waiting (False)."""
    query = select(TipIntake).where(TipIntake.tip_id == tip_id)
    if not is_spatialite():
        query = query.with_for_update()  # a worker writing it meanwhile makes us wait, then find nothing
    entry = db.session.scalars(query).one_or_none()
    if entry is None:
        return False
    _write([entry])
    return True


def waiting() -> int:
    return db.session.scalar(select(func.count()).select_from(TipIntake))


def _write(entries: list[TipIntake]) -> None:
    """Route and write the entries' tips, and delete the entries, in the session's transaction."""
    decoded = [(entry, *Submission.from_journal(entry.submission, entry.received_at)) for entry in entries]
    s = RawConnection()
    people = read_people(s, {sub.place.grid_code for _, sub, _ in decoded if sub.place.grid_code})
    batch = []
    for entry, sub, category in decoded:
        identity = entry.reporter["row"]
        reporter = Reporter(identity["user_id"], entry.reporter["role"])
        grid_people = people.get(sub.place.grid_code, [])
        batch.append(routed_rows(sub, category, grid_people, entry.tip_id, reporter, identity))
    write_tips(s, batch)
    for entry in entries:
        db.session.delete(entry)
    db.session.flush()
