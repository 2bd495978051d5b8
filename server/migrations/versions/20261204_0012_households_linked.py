"""households.linked (has a primary member link), kept by triggers on household_links, and a covering index.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04

The county's coverage joined every household to its primary link to count "households linked" per grid: on a
3,000-grid county (300,000 households) that join was most of a 950 ms request. With the flag on the household,
households, linked and visited per grid come from one scan of `ix_households_coverage` (an index-only scan on
PostgreSQL). The triggers flip the flag of a household whose primary link appears, goes or moves, whoever writes
the links (the services, a bulk import, COPY, plain SQL): PostgreSQL with statement-level triggers over transition
tables (one UPDATE per statement, whatever the number of links), SQLite with row-level triggers. A household deleted
with its links (ON DELETE CASCADE) is already gone when its links' triggers run, so they update nothing.
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

HAS_PRIMARY = "EXISTS (SELECT 1 FROM household_links l WHERE l.household_id = households.id AND l.is_primary)"
PG_ROWS = {
    "insert": "SELECT household_id FROM new_rows",
    "delete": "SELECT household_id FROM old_rows",
    "update": "SELECT household_id FROM old_rows UNION SELECT household_id FROM new_rows",
}
PG_TRANSITIONS = {
    "insert": "NEW TABLE AS new_rows",
    "delete": "OLD TABLE AS old_rows",
    "update": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
}
SQLITE_TRIGGERS = {
    "insert": "AFTER INSERT ON household_links WHEN NEW.is_primary BEGIN "
    "UPDATE households SET linked = 1 WHERE id = NEW.household_id AND NOT linked; END",
    "delete": "AFTER DELETE ON household_links WHEN OLD.is_primary BEGIN "
    f"UPDATE households SET linked = {HAS_PRIMARY} WHERE id = OLD.household_id; END",
    "update": "AFTER UPDATE OF is_primary, household_id ON household_links BEGIN "
    f"UPDATE households SET linked = {HAS_PRIMARY} WHERE id IN (OLD.household_id, NEW.household_id); END",
}


def upgrade() -> None:
    op.add_column("households", sa.Column("linked", sa.Boolean, nullable=False, server_default=sa.false()))
    op.execute(f"UPDATE households SET linked = true WHERE {HAS_PRIMARY}")  # only the linked rows are written
    op.create_index("ix_households_coverage", "households", ["grid_code", "created_at", "linked", "last_visited_at"])
    op.create_index("ix_households_last_visited", "households", ["last_visited_at"])
    postgres = op.get_bind().dialect.name == "postgresql"
    for event in ("insert", "delete", "update"):
        if postgres:
            # Only the households whose flag is wrong are written: a link added beside a primary one writes nothing.
            op.execute(
                f"CREATE FUNCTION household_links_{event}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f"UPDATE households SET linked = NOT linked WHERE id IN ({PG_ROWS[event]}) "
                f"AND linked <> {HAS_PRIMARY}; RETURN NULL; END $$"
            )
            op.execute(
                f"CREATE TRIGGER household_links_{event} AFTER {event.upper()} ON household_links "
                f"REFERENCING {PG_TRANSITIONS[event]} FOR EACH STATEMENT EXECUTE FUNCTION household_links_{event}()"
            )
        else:
            op.execute(f"CREATE TRIGGER household_links_{event} {SQLITE_TRIGGERS[event]}")


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for event in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER household_links_{event}" + (" ON household_links" if postgres else ""))
        if postgres:
            op.execute(f"DROP FUNCTION household_links_{event}()")
    op.drop_index("ix_households_last_visited", table_name="households")
    op.drop_index("ix_households_coverage", table_name="households")
    op.drop_column("households", "linked")  # SQLite >= 3.35 drops it in place (no table copy, geometry kept)
