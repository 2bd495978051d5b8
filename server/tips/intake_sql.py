"""The statements of tip intake, built from the models with Core and compiled once per dialect (server.rawsql).

Each reader (`read_intake`, `read_for_writing`) is one round trip to PostgreSQL, and each writer another:
everything a step needs to know, then everything it writes. JSON intake runs in autocommit there
(RawConnection.read_then_write), so its write is one statement; the tip writer's is a pipeline in a transaction.
On SQLite the same statements run in-process under the write lock (BEGIN IMMEDIATE), which also makes the
idempotency read authoritative.

JSON intake reads the token's state, the idempotency record, the category and the next tip id in one statement
(`read_intake`) and writes the intake journal (`write_intake`); the worker, and multipart intake, read the grid's
people (`read_for_writing`, `read_people` for a batch) and write tips (`write_tips`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, bindparam, func, insert, literal, select, union_all

from server.accounts.assignments import Responsible, responsible_query
from server.accounts.models import UserRole
from server.accounts.tokens import token_state_columns, token_state_params
from server.idempotency import IdempotencyRecord
from server.rawsql import Prepared, RawConnection
from server.tips.models import Tip, TipCategory, TipEvent, TipExclusion, TipFollowup, TipIntake, TipReporter


def _insert(model, columns: tuple[str, ...]) -> Prepared:
    return Prepared(lambda _d: insert(model.__table__).inline().values({c: bindparam(c) for c in columns}))


CATEGORY_FIELDS = ("code", "accept_hours", "resolve_days", "urgent", "conflict")
CATEGORY = Prepared(
    lambda _d: select(*(getattr(TipCategory, f) for f in CATEGORY_FIELDS)).where(
        TipCategory.code == bindparam("code"), TipCategory.active.is_(True)
    )
)
RESPONSIBLE = Prepared(lambda _d: responsible_query())


def _next_tip_id(dialect):
    if dialect.name == "postgresql":
        return select(func.nextval(func.pg_get_serial_sequence("tips", "id")))
    return _next_sqlite_tip_id()


NEXT_TIP_ID = Prepared(_next_tip_id)
IDEMPOTENCY_FIELDS = ("request_hash", "state", "status_code", "response")


def _intake_context(dialect):
    """Everything JSON intake reads, as one row of one statement: on PostgreSQL one short round trip (a pipeline
    of five statements costs four times as much in psycopg), on SQLite one step. Columns: the token's state
    (token_state_columns), the user's roles joined by commas, the earlier request with this caller and key, the
    active category, and the next tip id; NULLs where there is nothing (an anonymous caller, a new key, an unknown
    category). The idempotency record and the category are outer-joined to a one-row base, one index look-up each
    (as a scalar subquery per column they cost nine)."""
    key = and_(IdempotencyRecord.caller == bindparam("caller"), IdempotencyRecord.key == bindparam("key"))
    category = and_(TipCategory.code == bindparam("code"), TipCategory.active.is_(True))
    roles = select(func.aggregate_strings(UserRole.role, ",")).where(UserRole.user_id == bindparam("user_id"))
    one = select(literal(1).label("one")).subquery("one")
    return (
        select(
            *token_state_columns(),
            roles.scalar_subquery(),
            *(getattr(IdempotencyRecord, f) for f in IDEMPOTENCY_FIELDS),
            *(getattr(TipCategory, f) for f in CATEGORY_FIELDS),
            _next_tip_id(dialect).scalar_subquery(),
        )
        .select_from(one)
        .outerjoin(IdempotencyRecord, key)
        .outerjoin(TipCategory, category)
    )


INTAKE_CONTEXT = Prepared(_intake_context)


def _next_sqlite_tip_id():
    """Under SQLite's write lock no one else can take it; tips still waiting in the intake journal hold theirs."""
    taken = union_all(select(func.max(Tip.id).label("id")), select(func.max(TipIntake.tip_id))).subquery()
    return select(func.coalesce(func.max(taken.c.id), 0) + 1)


TIP_COLUMNS = (
    "id",
    "category_code",
    "description",
    "status",
    "occurred_at",
    "submitted_at",
    "dispatched_at",
    "location",
    "source_datum",
    "raw_lon",
    "raw_lat",
    "accuracy_m",
    "generation_id",
    "grid_code",
    "area_code",
    "snap_distance_m",
    "outside_grids",
    "conflict",
    "implicates_official",
    "queue_kind",
    "queue_area_code",
    "assignee_user_id",
    "reporter_role",
    "anonymous",
    "app_version",
    "version",
    "clock_started_at",
    "accept_due_at",
    "resolve_due_at",
    "warn_at",
    "next_check_at",
    "escalation_level",
    "warned_level",
    "overdue_notified",
    "postponements",
)
INSERT_TIP = _insert(Tip, TIP_COLUMNS)
INSERT_REPORTER = _insert(TipReporter, ("tip_id", "user_id", "receipt_code", "secret_hash", "device_hash"))
INSERT_EXCLUSION = _insert(TipExclusion, ("tip_id", "user_id"))
INSERT_EVENT = _insert(TipEvent, ("tip_id", "at", "action", "from_status", "to_status", "details"))
INSERT_FOLLOWUP = _insert(TipFollowup, ("tip_id", "created_at"))
INTAKE_COLUMNS = ("tip_id", "received_at", "submission", "reporter")
IDEMPOTENCY_COLUMNS = ("caller", "key", "request_hash", "state", "status_code", "response", "resource_id", "created_at")
INSERT_INTAKE = _insert(TipIntake, INTAKE_COLUMNS)
INSERT_IDEMPOTENCY = _insert(IdempotencyRecord, IDEMPOTENCY_COLUMNS)


def _accept_in_one_statement(_dialect):
    """PostgreSQL: the idempotency record and the journal's row in one statement (the journal's insert is a WITH
    that PostgreSQL runs to completion whether or not anything reads it), so that intake's write is atomic in
    autocommit (RawConnection.read_then_write). A request that took the same key meanwhile makes the statement
    fail, unique, and neither row is written."""
    journal = insert(TipIntake.__table__).values({c: bindparam(c) for c in INTAKE_COLUMNS}).cte("journal")
    record = insert(IdempotencyRecord.__table__).values({c: bindparam(c) for c in IDEMPOTENCY_COLUMNS})
    return record.add_cte(journal)


ACCEPT_JSON_TIP = Prepared(_accept_in_one_statement)


@dataclass(frozen=True)
class Category:
    code: str
    accept_hours: int
    resolve_days: int
    urgent: bool
    conflict: bool


@dataclass(frozen=True)
class Replay:
    request_hash: str
    state: str
    status_code: int | None
    response: dict | None


@dataclass(frozen=True)
class IntakeContext:
    token_state: tuple | None  # token_state_columns' values; None for the anonymous channel
    roles: frozenset[str]
    earlier: Replay | None  # an earlier request with this caller and key
    category: Category | None  # None: unknown or retired
    tip_id: int  # the id the new tip will take


@dataclass(frozen=True)
class WriteContext:
    category: Category | None  # None: unknown or retired (or not asked)
    people: list[Responsible]  # the grid's chief and deputies today, in order
    tip_id: int | None  # the id the new tip will take (None when not asked)


def read_intake(s: RawConnection, *, claims: dict | None, caller: str, key: str, category: str) -> IntakeContext:
    """What JSON intake needs (INTAKE_CONTEXT), in one statement."""
    params = token_state_params(claims) if claims else {"user_id": None, "fam": None, "jti": None}
    with s.batch():  # in a transaction, psycopg then sends BEGIN with the statement, not in a round trip of its own
        cursor = s.run(INTAKE_CONTEXT, **params, caller=caller, key=key, code=category)
    row = INTAKE_CONTEXT.rows(cursor, s.dialect)[0]
    token, roles, earlier, found, tip_id = row[:4], row[4], row[5:9], row[9:14], row[14]
    return IntakeContext(
        token_state=token if claims else None,
        roles=frozenset(roles.split(",")) if roles else frozenset(),
        earlier=Replay(*earlier) if earlier[0] is not None else None,
        category=Category(*found) if found[0] is not None else None,
        tip_id=tip_id,
    )


def read_for_writing(
    s: RawConnection, *, category: str | None = None, grid_code: str | None = None, next_id: bool = True
) -> WriteContext:
    """What writing a tip needs, in one round trip: the category, the grid's responsible people today and the next
    tip id; each only when asked (the worker knows the category and the id already)."""
    with s.batch():
        found = s.run(CATEGORY, code=category) if category else None
        people = s.run(RESPONSIBLE, grid_code=grid_code, on=date.today()) if grid_code else None
        tip_id = s.run(NEXT_TIP_ID) if next_id else None
    d = s.dialect
    category_rows = CATEGORY.rows(found, d) if found else []
    return WriteContext(
        category=Category(*category_rows[0]) if category_rows else None,
        people=[Responsible(*row) for row in RESPONSIBLE.rows(people, d)] if people else [],
        tip_id=NEXT_TIP_ID.rows(tip_id, d)[0][0] if tip_id else None,
    )


def write_intake(s: RawConnection, intake: dict, idempotency: dict) -> None:
    """Accept a JSON tip: its idempotency record (a request that took the same key meanwhile makes it fail, unique,
    and nothing is written) and the intake journal's row. PostgreSQL: one statement, one round trip. SQLite: two
    inserts in the write transaction."""
    if s.is_postgres:
        s.write(ACCEPT_JSON_TIP, **idempotency, **intake)
        return
    s.write(INSERT_IDEMPOTENCY, **idempotency)
    s.write(INSERT_INTAKE, **intake)


@dataclass(frozen=True)
class TipRows:
    """A routed tip and what comes with it: its reporter's row, the people it is kept from, its first event."""

    tip: dict
    reporter: dict
    excluded: frozenset[int]
    event: dict


def read_people(s: RawConnection, grid_codes: set[str]) -> dict[str, list[Responsible]]:
    """Each grid's responsible people today (chief, then deputies), for a worker's batch: one round trip."""
    today = date.today()
    with s.batch():
        cursors = {code: s.run(RESPONSIBLE, grid_code=code, on=today) for code in sorted(grid_codes)}
    return {code: [Responsible(*row) for row in RESPONSIBLE.rows(c, s.dialect)] for code, c in cursors.items()}


def write_tips(s: RawConnection, batch: list[TipRows]) -> None:
    """Insert tips and what comes with each, in one round trip, one multi-row statement per table."""
    with s.batch():
        s.write_many(INSERT_TIP, [rows.tip for rows in batch])
        s.write_many(INSERT_REPORTER, [rows.reporter for rows in batch])
        excluded = [{"tip_id": rows.tip["id"], "user_id": u} for rows in batch for u in sorted(rows.excluded)]
        s.write_many(INSERT_EXCLUSION, excluded)
        s.write_many(INSERT_EVENT, [rows.event for rows in batch])
        followups = [{"tip_id": rows.tip["id"], "created_at": rows.tip["submitted_at"]} for rows in batch]
        s.write_many(INSERT_FOLLOWUP, followups)
