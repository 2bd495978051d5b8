"""The statements of tip intake, built from the models with Core and compiled once per dialect (server.rawsql).

Each reader (`read_intake`, `read_for_writing`, `read_people`) is one round trip to PostgreSQL, and each writer
another: everything a step needs to know, then everything it writes. JSON intake on PostgreSQL is a single
statement in autocommit that reads, checks and writes (ACCEPT_IF_CLEAR, RawConnection.read_then_write); the tip
writer's is a pipeline in the worker's transaction. On SQLite the statements run in-process under the write lock
(BEGIN IMMEDIATE), which also makes the idempotency read authoritative.

JSON intake on SQLite reads the token's state, the idempotency record, the category and the next tip id in one
statement (`read_intake`) and writes the intake journal (`write_intake`); on PostgreSQL `accept_if_clear` does
both. Multipart intake reads the category, the grid's people and the next id (`read_for_writing`), the worker the
people of a batch's grids (`read_people`), and both write tips (`write_tips`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import (
    Boolean,
    Integer,
    and_,
    bindparam,
    case,
    exists,
    func,
    insert,
    literal,
    literal_column,
    not_,
    or_,
    select,
    union_all,
)

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


TOKEN_STATE_LABELS = ("active", "token_version", "family_revoked_at", "jti_revoked")


def _intake_context(dialect, *, next_id: bool = True):
    """Everything JSON intake reads, as one row of one statement: on PostgreSQL one short round trip (a pipeline
    of five statements costs four times as much in psycopg), on SQLite one step. Columns: the token's state
    (token_state_columns), the user's roles joined by commas, the earlier request with this caller and key, the
    active category, and (SQLite) the next tip id; NULLs where there is nothing (an anonymous caller, a new key, an
    unknown category). The idempotency record and the category are outer-joined to a one-row base, one index
    look-up each (as a scalar subquery per column they cost nine)."""
    key = and_(IdempotencyRecord.caller == bindparam("caller"), IdempotencyRecord.key == bindparam("key"))
    category = and_(TipCategory.code == bindparam("code"), TipCategory.active.is_(True))
    roles = select(func.aggregate_strings(UserRole.role, ",")).where(UserRole.user_id == bindparam("user_id"))
    one = select(literal(1).label("one")).subquery("one")
    columns = [
        *(column.label(name) for column, name in zip(token_state_columns(), TOKEN_STATE_LABELS, strict=True)),
        roles.scalar_subquery().label("roles"),
        *(getattr(IdempotencyRecord, f) for f in IDEMPOTENCY_FIELDS),
        *(getattr(TipCategory, f) for f in CATEGORY_FIELDS),
    ]
    if next_id:
        columns.append(_next_tip_id(dialect).scalar_subquery().label("tip_id"))
    return select(*columns).select_from(one).outerjoin(IdempotencyRecord, key).outerjoin(TipCategory, category)


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
    that PostgreSQL runs to completion whether or not anything reads it), so that the write is atomic in
    autocommit (RawConnection.read_then_write). A request that took the same key meanwhile makes the statement
    fail, unique, and neither row is written. Used when ACCEPT_IF_CLEAR wrote nothing though Python accepts."""
    journal = insert(TipIntake.__table__).values({c: bindparam(c) for c in INTAKE_COLUMNS}).cte("journal")
    record = insert(IdempotencyRecord.__table__).values({c: bindparam(c) for c in IDEMPOTENCY_COLUMNS})
    return record.add_cte(journal)


ACCEPT_JSON_TIP = Prepared(_accept_in_one_statement)


def _accept_if_clear(dialect):
    """PostgreSQL: JSON intake in one statement -- read, check and write -- so one round trip in all.

    `ctx` is INTAKE_CONTEXT's row. The two inserts run only if it is clear: a new key, an active category and, for a
    signed-in caller, a token state that `check_token_state` accepts (an active user, the token's version, its
    family not revoked, its id not blocklisted). Python judges the row again afterwards and answers every refusal
    and replay from it; `written` tells whether the inserts ran. The journal's row is the one `Submission.to_journal`
    and the reporter's role give on SQLite: the category's fields and the role are the database's, filled in here.
    """
    ctx = _intake_context(dialect, next_id=False).cte("ctx")
    signed_in = bindparam("signed_in", type_=Boolean)
    token_ok = and_(
        ctx.c.active.is_(True),
        ctx.c.token_version == bindparam("ver", type_=Integer),
        ctx.c.family_revoked_at.is_(None),
        ctx.c.jti_revoked.is_(False),
        bindparam("has_family", type_=Boolean),
    )
    ok = select(ctx).where(ctx.c.request_hash.is_(None), ctx.c.code.is_not(None), or_(not_(signed_in), token_ok))
    ok = ok.cte("ok")
    table = IdempotencyRecord.__table__
    values = select(*(bindparam(c, type_=table.c[c].type) for c in IDEMPOTENCY_COLUMNS)).select_from(ok)
    record = insert(table).from_select(list(IDEMPOTENCY_COLUMNS), values).cte("record")
    json = TipIntake.__table__.c.submission.type
    category = func.json_build_object(*_pairs((f, ok.c[f]) for f in CATEGORY_FIELDS))
    parts = ((part, bindparam(part, type_=json)) for part in JOURNAL_PARTS)
    submission = func.json_build_object(*_pairs(parts), literal_column("'category'"), category)
    role = case((signed_in, _reporter_role()), else_=literal_column("'public'"))
    reporter = func.json_build_object(*_pairs((("role", role), ("row", bindparam("identity", type_=json)))))
    tip_id, received_at = bindparam("tip_id", type_=Integer), bindparam("received_at", type_=TipIntake.received_at.type)
    journal = insert(TipIntake.__table__).from_select(
        list(INTAKE_COLUMNS), select(tip_id, received_at, submission, reporter).select_from(ok)
    )
    written = exists(select(ok.c.code)).label("written")
    return select(ctx, written).add_cte(record, journal.cte("journal"))


JOURNAL_PARTS = ("payload", "point", "place")  # Submission.journal_parts(): the category is added to them


def _pairs(items):
    """json_build_object's arguments: each key (a constant) then its value."""
    for name, value in items:
        yield literal_column(f"'{name}'")
        yield value


def _reporter_role():
    """`reporter_role` of the caller's roles, in SQL: the first role of REPORTER_ROLE_ORDER the user has, else
    member (tests/tips/test_intake_journal.py compares the two for every role)."""
    from server.tips.submission import REPORTER_ROLE_ORDER  # (submission imports this module)

    def has(role: str):
        return exists().where(UserRole.user_id == bindparam("user_id"), UserRole.role == literal_column(f"'{role}'"))

    whens = [(has(role), literal_column(f"'{role}'")) for role in REPORTER_ROLE_ORDER]
    return case(*whens, else_=literal_column("'member'"))


ACCEPT_IF_CLEAR = Prepared(_accept_if_clear)
TIP_ID_BLOCK_SIZE = 16
TIP_ID_BLOCK = Prepared(  # PostgreSQL: nextval once per row (a scalar subquery would run once for all of them)
    lambda _d: select(func.nextval(func.pg_get_serial_sequence("tips", "id"))).select_from(
        func.generate_series(1, TIP_ID_BLOCK_SIZE)
    )
)


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
    category: Category | None  # None: unknown or retired
    people: list[Responsible]  # the grid's chief and deputies today, in order
    tip_id: int  # the id the new tip will take


def read_intake(s: RawConnection, *, claims: dict | None, caller: str, key: str, category: str) -> IntakeContext:
    """SQLite: what JSON intake needs (INTAKE_CONTEXT), in one statement, under the write lock."""
    cursor = s.run(INTAKE_CONTEXT, **_token_params(claims), caller=caller, key=key, code=category)
    row = INTAKE_CONTEXT.rows(cursor, s.dialect)[0]
    return _context(row, claims, row[14])


def accept_if_clear(
    s: RawConnection, *, claims: dict | None, category: str, journal: dict, record: dict
) -> tuple[IntakeContext, bool]:
    """PostgreSQL: ACCEPT_IF_CLEAR, one round trip. `journal` is the journal's row without the category and the
    reporter's role (tip_id, received_at, the submission's parts, the reporter's identity row); `record` the
    idempotency record. Returns what was read, and whether the tip was accepted."""
    ver = claims.get("ver") if claims else None
    values = _token_params(claims) | {
        "code": category,
        "signed_in": claims is not None,
        "ver": ver if type(ver) is int else None,  # anything else: not clear here, and Python judges it
        "has_family": bool(claims and claims.get("fam")),
    }
    cursor = s.run(ACCEPT_IF_CLEAR, **values, **journal, **record)
    row = ACCEPT_IF_CLEAR.rows(cursor, s.dialect)[0]
    return _context(row, claims, journal["tip_id"]), row[14]


def _token_params(claims: dict | None) -> dict:
    return token_state_params(claims) if claims else {"user_id": None, "fam": None, "jti": None}


def _context(row: tuple, claims: dict | None, tip_id: int) -> IntakeContext:
    token, roles, earlier, found = row[:4], row[4], row[5:9], row[9:14]
    return IntakeContext(
        token_state=token if claims else None,
        roles=frozenset(roles.split(",")) if roles else frozenset(),
        earlier=Replay(*earlier) if earlier[0] is not None else None,
        category=Category(*found) if found[0] is not None else None,
        tip_id=tip_id,
    )


def read_for_writing(s: RawConnection, *, category: str, grid_code: str | None) -> WriteContext:
    """What writing a tip at once needs, in one round trip: the category, the grid's responsible people today (none
    outside every grid) and the next tip id."""
    with s.batch():
        found = s.run(CATEGORY, code=category)
        people = s.run(RESPONSIBLE, grid_code=grid_code, on=date.today()) if grid_code else None
        tip_id = s.run(NEXT_TIP_ID)
    d = s.dialect
    category_rows = CATEGORY.rows(found, d)
    return WriteContext(
        category=Category(*category_rows[0]) if category_rows else None,
        people=[Responsible(*row) for row in RESPONSIBLE.rows(people, d)] if people else [],
        tip_id=NEXT_TIP_ID.rows(tip_id, d)[0][0],
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
