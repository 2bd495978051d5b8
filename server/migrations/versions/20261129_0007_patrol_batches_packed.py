"""Patrol points and track times are kept packed as float64 instead of JSON.

Finishing a patrol then reads its batches with no parsing and writes its times with no encoding (a 10,000-point
track: milliseconds of JSON work on each side, and a third of the space).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29

patrol_batches.points (JSON) becomes patrol_batches.packed (bytes: little-endian float64 lon, lat, unix_time,
accuracy_m per point, NaN for no accuracy) plus point_count; patrols.point_times (a JSON array) becomes bytes
(little-endian float64 per vertex). Existing rows are converted, losslessly.
"""

import json
import math
import struct

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

batches = sa.table(
    "patrol_batches",
    sa.column("id", sa.Integer),
    sa.column("points", sa.JSON),
    sa.column("packed", sa.LargeBinary),
    sa.column("point_count", sa.Integer),
)


def _pack(points: list) -> bytes:
    """server.patrols.track.pack_points, copied: a migration must not change when the app does."""
    rows = [(p[0], p[1], p[2], math.nan if len(p) < 4 or p[3] is None else p[3]) for p in points]
    return b"".join(struct.pack("<4d", *row) for row in rows)


def _unpack(packed: bytes) -> list:
    rows = [list(struct.unpack_from("<4d", packed, i)) for i in range(0, len(packed), 32)]
    return [row[:3] + [None if math.isnan(row[3]) else row[3]] for row in rows]


def _times_list(packed) -> list:
    data = bytes(packed)
    return list(struct.unpack(f"<{len(data) // 8}d", data))


def upgrade() -> None:
    op.add_column("patrol_batches", sa.Column("packed", sa.LargeBinary))
    op.add_column("patrol_batches", sa.Column("point_count", sa.Integer))
    bind = op.get_bind()
    for row in bind.execute(sa.select(batches.c.id, batches.c.points)).all():
        points = row.points if isinstance(row.points, list) else json.loads(row.points)
        bind.execute(
            batches.update().where(batches.c.id == row.id).values(packed=_pack(points), point_count=len(points))
        )
    op.execute("ALTER TABLE patrol_batches DROP COLUMN points")  # native on PostgreSQL and SQLite >= 3.35
    _convert_times(lambda times: struct.pack(f"<{len(times)}d", *times), sa.JSON, sa.LargeBinary)


def _convert_times(convert, old_type, new_type) -> None:
    """patrols.point_times in the other representation: through a column `times`, renamed into place."""
    patrols = sa.table("patrols", sa.column("id"), sa.column("point_times", old_type), sa.column("times", new_type))
    op.add_column("patrols", sa.Column("times", new_type))
    bind = op.get_bind()
    for row in bind.execute(sa.select(patrols.c.id, patrols.c.point_times).where(patrols.c.point_times.isnot(None))):
        bind.execute(patrols.update().where(patrols.c.id == row.id).values(times=convert(row.point_times)))
    op.execute("ALTER TABLE patrols DROP COLUMN point_times")
    op.execute("ALTER TABLE patrols RENAME COLUMN times TO point_times")


def downgrade() -> None:
    _convert_times(_times_list, sa.LargeBinary, sa.JSON)
    op.add_column("patrol_batches", sa.Column("points", sa.JSON))
    bind = op.get_bind()
    for row in bind.execute(sa.select(batches.c.id, batches.c.packed)).all():
        bind.execute(batches.update().where(batches.c.id == row.id).values(points=_unpack(bytes(row.packed))))
    op.execute("ALTER TABLE patrol_batches DROP COLUMN packed")
    op.execute("ALTER TABLE patrol_batches DROP COLUMN point_count")
