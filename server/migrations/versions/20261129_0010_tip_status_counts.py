"""Tips per area, conflict flag and status, kept by triggers on tips, for the inbox badge.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29

A county's inbox counted its ~100,000 tips per status on every page (15-27 ms of the page). The triggers add a
row of +n or -n to tip_status_counts for every insert, delete, and change of status, area or conflict flag, so the
badge is a sum over a few thousand rows. Rows are only ever inserted by the triggers (no counter row is updated,
so concurrent transactions never wait on each other or deadlock); the worker folds them (server.tips.counts).
PostgreSQL uses statement-level triggers with transition tables (one row per key per statement, whatever the
number of tips); SQLite, row-level triggers. Existing tips are counted into it.
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

KEY = "area_code, conflict, status"
CHANGED = "(o.area_code, o.conflict, o.status) IS DISTINCT FROM (w.area_code, w.conflict, w.status)"
PG_FUNCTIONS = {
    "insert": f"SELECT {KEY}, count(*) FROM new_rows GROUP BY {KEY}",
    "delete": f"SELECT {KEY}, -count(*) FROM old_rows GROUP BY {KEY}",
    "update": f"""SELECT {KEY}, sum(n) FROM (
            SELECT o.area_code, o.conflict, o.status, -1 AS n FROM old_rows o JOIN new_rows w ON w.id = o.id
             WHERE {CHANGED}
            UNION ALL
            SELECT w.area_code, w.conflict, w.status, 1 FROM old_rows o JOIN new_rows w ON w.id = o.id
             WHERE {CHANGED}
        ) AS changes GROUP BY {KEY} HAVING sum(n) <> 0""",
}
PG_TRANSITIONS = {
    "insert": "NEW TABLE AS new_rows",
    "delete": "OLD TABLE AS old_rows",
    "update": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
}
SQLITE_TRIGGERS = {
    "insert": f"AFTER INSERT ON tips BEGIN INSERT INTO tip_status_counts ({KEY}, n) "
    "VALUES (NEW.area_code, NEW.conflict, NEW.status, 1); END",
    "delete": f"AFTER DELETE ON tips BEGIN INSERT INTO tip_status_counts ({KEY}, n) "
    "VALUES (OLD.area_code, OLD.conflict, OLD.status, -1); END",
    "update": "AFTER UPDATE OF area_code, conflict, status ON tips WHEN OLD.area_code IS NOT NEW.area_code "
    "OR OLD.conflict IS NOT NEW.conflict OR OLD.status IS NOT NEW.status BEGIN "
    f"INSERT INTO tip_status_counts ({KEY}, n) VALUES (OLD.area_code, OLD.conflict, OLD.status, -1); "
    f"INSERT INTO tip_status_counts ({KEY}, n) VALUES (NEW.area_code, NEW.conflict, NEW.status, 1); END",
}


def upgrade() -> None:
    op.create_table(
        "tip_status_counts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("area_code", sa.String(15), nullable=False),
        sa.Column("conflict", sa.Boolean, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("n", sa.Integer, nullable=False),
    )
    postgres = op.get_bind().dialect.name == "postgresql"
    for event in ("insert", "delete", "update"):
        if postgres:
            op.execute(
                f"CREATE FUNCTION tips_count_{event}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f"INSERT INTO tip_status_counts ({KEY}, n) {PG_FUNCTIONS[event]}; RETURN NULL; END $$"
            )
            op.execute(
                f"CREATE TRIGGER tips_count_{event} AFTER {event.upper()} ON tips "
                f"REFERENCING {PG_TRANSITIONS[event]} FOR EACH STATEMENT EXECUTE FUNCTION tips_count_{event}()"
            )
        else:
            op.execute(f"CREATE TRIGGER tips_count_{event} {SQLITE_TRIGGERS[event]}")
    op.execute(f"INSERT INTO tip_status_counts ({KEY}, n) SELECT {KEY}, count(*) FROM tips GROUP BY {KEY}")


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for event in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER tips_count_{event}" + (" ON tips" if postgres else ""))
        if postgres:
            op.execute(f"DROP FUNCTION tips_count_{event}()")
    op.drop_table("tip_status_counts")
