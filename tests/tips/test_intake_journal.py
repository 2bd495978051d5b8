"""Accept, then route: a JSON tip is stored in the intake journal (202) and written by the worker.

- Until the worker writes it, a tip is in no list, count or endpoint (only its own idempotent replay).
- The worker writes each waiting tip exactly once, oldest first, as intake accepted it.
- A photo sent for a tip that is still waiting writes it at once and attaches the photo (the ODK pattern).
- Intake runs in a transaction of its own when the request has none (production), and joins the request's when
  something opened it first (here: re-checking the grid index), on both databases.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import uuid
from datetime import UTC, datetime

import pytest
from flask_jwt_extended import decode_token
from sqlalchemy import func, select, text, update

from server.accounts.models import User
from server.accounts.tokens import issue_pair, revoke_access_token, revoke_family
from server.areas.index_cache import current_index
from server.extensions import db
from server.idempotency import IdempotencyRecord
from server.rawsql import Prepared, RawConnection, _hot_engine
from server.tips import intake, tip_ids
from server.tips.intake_sql import Category
from server.tips.materialise import materialise, materialise_waiting, waiting
from server.tips.models import Tip, TipCategory, TipIntake, TipPhoto
from server.tips.routing import Place
from server.tips.submission import REPORTER_ROLE_ORDER, Submission, reporter_role
from server.warmup import warm_up
from server.worker import Worker
from tests.tips.helpers import PLANTED_TEXT, grid_point, jpeg_bytes, payload, post_tip
from tests.workflow.live_db import GRID, fresh_database_url, live_app, seed_people


@pytest.fixture
def cast(make_user, demo_areas):
    return {
        "member": make_user("member", demo_areas["grid"]),
        "chief": make_user("grid_chief", demo_areas["village"], grids=[demo_areas["grid"]]),
        "township": make_user("township_staff", demo_areas["township"]),
    }


def inbox_ids(client, headers) -> set[int]:
    return {t["id"] for t in client.get("/api/v1/tips?per_page=100", headers=headers).get_json()["items"]}


def test_an_accepted_tip_is_unseen_until_the_worker_writes_it(app, client, cast, auth_headers, demo_areas):
    member, chief = auth_headers(cast["member"]), auth_headers(cast["chief"])
    response = post_tip(client, member, payload(*grid_point(demo_areas["grid"])), write=False)
    assert response.status_code == 202, response.get_json()
    body = response.get_json()
    assert body["status"] == "submitted" and body["status_zh"] == "已上报"
    assert body["grid"]["code"] == demo_areas["grid"] and body["outside_grids"] is False
    tip_id = body["id"]
    assert waiting() == 1 and db.session.get(Tip, tip_id) is None
    assert client.get("/readyz").get_json()["tips_waiting"] == 1  # what operators watch: no worker, it grows
    assert tip_id not in inbox_ids(client, chief)
    assert client.get(f"/api/v1/tips/{tip_id}", headers=chief).status_code == 404
    assert tip_id not in {t["id"] for t in client.get("/api/v1/tips/mine", headers=member).get_json()["items"]}

    assert Worker(app, escalate=False).tick() is True
    db.session.expire_all()
    tip = db.session.get(Tip, tip_id)
    assert tip.status == "dispatched" and tip.assignee_user_id == cast["chief"].id and waiting() == 0
    assert tip_id in inbox_ids(client, chief)
    assert client.get(f"/api/v1/tips/{tip_id}", headers=chief).status_code == 200


def test_the_worker_writes_each_tip_once_oldest_first(client, cast, auth_headers, demo_areas):
    headers = auth_headers(cast["member"])
    ids = [
        post_tip(client, headers, payload(*grid_point(demo_areas["grid"])), write=False).get_json()["id"]
        for _ in range(3)
    ]
    assert ids == sorted(ids) and len(set(ids)) == 3
    assert materialise_waiting(limit=2) == 2
    assert [t for (t,) in db.session.execute(select(TipIntake.tip_id))] == [ids[2]]
    assert materialise_waiting() == 1 and materialise_waiting() == 0
    assert materialise(ids[0]) is False  # written already: nothing to do
    assert db.session.scalar(select(func.count(Tip.id)).where(Tip.id.in_(ids))) == 3


def test_an_entry_that_cannot_be_written_does_not_hold_up_the_others(client, cast, auth_headers, demo_areas, caplog):
    headers = auth_headers(cast["member"])
    ids = [
        post_tip(client, headers, payload(*grid_point(demo_areas["grid"])), write=False).get_json()["id"]
        for _ in range(3)
    ]
    broken = db.session.get(TipIntake, ids[0])
    row = broken.reporter["row"] | {"user_id": 10**9}  # a user that does not exist: the database refuses it (FK)
    broken.reporter = broken.reporter | {"row": row}
    db.session.flush()
    assert materialise_waiting() == 2
    assert [t for (t,) in db.session.execute(select(TipIntake.tip_id))] == [ids[0]]  # waiting still, not lost
    assert db.session.get(Tip, ids[0]) is None and db.session.get(Tip, ids[1]) is not None
    assert f"tip {ids[0]} could not be written" in caplog.text and PLANTED_TEXT not in caplog.text


def test_ids_are_not_reused_while_tips_wait(client, cast, auth_headers, demo_areas):
    """A multipart tip (written at once) filed while a JSON tip waits takes a later id, not the waiting one's (on
    SQLite the next; on PostgreSQL the sequence's next after this process's block of JSON ids, and the next JSON
    tip's id still comes from the block)."""
    headers = auth_headers(cast["member"])
    point = grid_point(demo_areas["grid"])
    waiting_id = post_tip(client, headers, payload(*point), write=False).get_json()["id"]
    with_photo = post_tip(client, headers, payload(*point), photos=[("a.jpg", jpeg_bytes())], write=False)
    assert with_photo.status_code == 201 and with_photo.get_json()["id"] > waiting_id
    if db.engine.dialect.name == "sqlite":
        assert with_photo.get_json()["id"] == waiting_id + 1
    next_json_id = post_tip(client, headers, payload(*point), write=False).get_json()["id"]
    assert next_json_id not in (waiting_id, with_photo.get_json()["id"])
    assert materialise_waiting() == 2
    assert db.session.get(Tip, waiting_id) is not None and db.session.get(Tip, next_json_id) is not None


def test_a_photo_for_a_waiting_tip_writes_it_and_attaches_the_photo(client, cast, auth_headers, demo_areas):
    headers, key = auth_headers(cast["member"]), str(uuid.uuid4())
    body = payload(*grid_point(demo_areas["grid"]))
    first = post_tip(client, headers, body, key=key, write=False)
    assert first.status_code == 202 and waiting() == 1
    again = post_tip(client, headers, body, key=key, photos=[("IMG_2.jpg", jpeg_bytes())], write=False)
    assert again.status_code == 202, again.get_json()  # the original answer, brought up to date
    assert again.get_json()["id"] == first.get_json()["id"] and len(again.get_json()["photos"]) == 1
    assert waiting() == 0
    photos = db.session.scalars(select(TipPhoto).where(TipPhoto.tip_id == first.get_json()["id"])).all()
    assert len(photos) == 1


def test_a_category_retired_meanwhile_is_written_as_accepted(client, cast, auth_headers, demo_areas):
    headers = auth_headers(cast["member"])
    body = payload(*grid_point(demo_areas["grid"]), category="gang.protective_umbrella")  # 保护伞: a conflict category
    tip_id = post_tip(client, headers, body, write=False).get_json()["id"]
    db.session.execute(update(TipCategory).where(TipCategory.code == body["category"]).values(active=False))
    assert materialise_waiting() == 1
    tip = db.session.get(Tip, tip_id)
    assert tip.category_code == "gang.protective_umbrella" and tip.conflict and tip.queue_kind == "township_discipline"


def test_an_unknown_category_is_refused_at_intake(client, cast, auth_headers, demo_areas):
    body = payload(*grid_point(demo_areas["grid"]), category="no.such.thing")
    response = post_tip(client, auth_headers(cast["member"]), body, write=False)
    assert response.status_code == 422 and response.get_json()["type"] == "/problems/unknown-category"
    assert waiting() == 0


ROLE_SETS = [[r] for r in REPORTER_ROLE_ORDER] + [["admin", "member"], ["county_staff", "grid_chief"], ["custodian"]]


@pytest.mark.parametrize("roles", ROLE_SETS, ids=["+".join(r) for r in ROLE_SETS])
@pytest.mark.parametrize("anonymous", [False, True], ids=["named", "anonymous"])
def test_the_journal_holds_what_the_worker_needs_as_python_would_write_it(
    client, make_user, auth_headers, demo_areas, roles, anonymous
):
    """On PostgreSQL the database writes the journal's category and the reporter's role itself (ACCEPT_IF_CLEAR);
    they must be what Python writes on SQLite: the category row as it is, and reporter_role of the user's roles
    (kept for an anonymous tip too, which keeps no account id)."""
    user = make_user(roles=roles, area_code=demo_areas["grid"][:12])
    body = payload(*grid_point(demo_areas["grid"]), anonymous=anonymous)
    response = post_tip(client, auth_headers(user), body, write=False)
    assert response.status_code == 202, response.get_json()
    entry = db.session.get(TipIntake, response.get_json()["id"])
    assert entry.reporter["role"] == reporter_role(roles)
    assert entry.reporter["row"]["user_id"] == (None if anonymous else user.id)
    sub, category = Submission.from_journal(entry.submission, entry.received_at)
    found = db.session.get(TipCategory, "vice.gambling")
    assert category == Category(
        *(getattr(found, f) for f in ("code", "accept_hours", "resolve_days", "urgent", "conflict"))
    )
    assert sub.payload["description"] == body["description"] and sub.place.grid_code == demo_areas["grid"]
    assert materialise_waiting() == 1
    assert db.session.get(Tip, entry.tip_id).reporter_role == reporter_role(roles)


@pytest.mark.parametrize("occurred_at", [datetime(2026, 11, 28, 13, 30, 15, 250000, tzinfo=UTC), None])
def test_the_journal_keeps_a_submission_exactly(occurred_at):
    place = Place(
        3, county="330899", grid_code="330899001001001", grid_name="第1网格", township="330899001", snap_distance_m=12.5
    )
    sub = Submission(
        {
            "category": "vice.gambling",
            "description": "赌场",
            "location": {"lon": 118.87000000000001, "lat": 28.9, "datum": "gcj02", "accuracy_m": None},
            "occurred_at": occurred_at,
            "anonymous": True,
            "implicates_official": False,
            "client": {"app_version": None, "device_hash": "abcdefabcdefabcdef"},
        },
        (118.8651234567891, 28.9024681357913),
        place,
        datetime(2026, 11, 29, 7, 0, tzinfo=UTC),
    )
    category = Category("vice.gambling", 24, 15, False, False)
    stored = json.loads(json.dumps(sub.to_journal(category)))  # what a JSON column hands back
    assert Submission.from_journal(stored, sub.now) == (sub, category)


# --- a database of its own: the production set-up, where the grid index is cached -----------------------------


@pytest.fixture(scope="module")
def cached_index_app(database_url, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("journal")
    app = live_app(fresh_database_url(database_url, tmp, "journal"), tmp, index_check_seconds=3600.0)
    return app, seed_people(app)


@pytest.mark.db
def test_intake_takes_a_transaction_of_its_own_when_the_request_has_none(cached_index_app, monkeypatch):
    app, people = cached_index_app
    used = []
    real = RawConnection.read_then_write.__func__

    def spy(cls, work):
        used.append(db.session.registry.has() and db.session().in_transaction())
        return real(cls, work)

    monkeypatch.setattr(RawConnection, "read_then_write", classmethod(spy))
    client = app.test_client()
    with app.app_context():
        body = payload(*grid_point(GRID))
        current_index()  # built now: the intake requests below find it cached
        db.session.remove()
    headers = {"Authorization": f"Bearer {people['member']['token']}"}
    first = post_tip(client, headers, body, write=False)
    second = post_tip(client, headers, body, write=False)
    assert (first.status_code, second.status_code) == (202, 202), second.get_json()
    assert used == [False, False]  # the request had no transaction: intake's own, committed by itself
    with app.app_context():
        assert waiting() == 2
        assert materialise_waiting() == 2
        db.session.commit()
        assert db.session.get(Tip, first.get_json()["id"]).status == "dispatched"


@pytest.mark.db
def test_a_refused_tip_in_its_own_transaction_leaves_nothing(cached_index_app):
    app, people = cached_index_app
    client = app.test_client()
    with app.app_context():
        body = payload(*grid_point(GRID), category="no.such.thing")
        before = waiting()
        current_index()
        db.session.remove()
    response = post_tip(client, {"Authorization": f"Bearer {people['member']['token']}"}, body, write=False)
    assert response.status_code == 422
    with app.app_context():
        assert waiting() == before


@pytest.mark.db
def test_a_key_taken_between_the_read_and_the_write_writes_nothing_and_replays_the_first(cached_index_app, monkeypatch):
    """The race the read cannot see (PostgreSQL: another request with the same key committed after our read): the
    write is one statement on PostgreSQL, so its failed idempotency insert takes the journal's row with it."""
    app, people = cached_index_app
    client = app.test_client()
    headers = {"Authorization": f"Bearer {people['member']['token']}"}
    with app.app_context():
        body = payload(*grid_point(GRID))
        current_index()
        before = waiting()
        db.session.remove()
    key = str(uuid.uuid4())
    first = post_tip(client, headers, body, key=key, write=False)
    assert first.status_code == 202
    real = intake.read_intake
    monkeypatch.setattr(intake, "read_intake", lambda s, **kw: dataclasses.replace(real(s, **kw), earlier=None))
    again = post_tip(client, headers, body, key=key, write=False)
    assert (again.status_code, again.get_json()) == (202, first.get_json())
    with app.app_context():
        assert waiting() == before + 1  # the second journal row was never written


REVOCATIONS = {
    "family revoked": lambda user, claims: revoke_family(claims["fam"], "test"),
    "access token blocklisted": lambda user, claims: revoke_access_token(claims["jti"], claims["exp"]),
    "user deactivated": lambda user, claims: setattr(user, "active", False),
    "token version bumped": lambda user, claims: setattr(user, "token_version", user.token_version + 1),
}


@pytest.mark.db
@pytest.mark.parametrize("revocation", REVOCATIONS)
def test_a_revoked_token_writes_nothing_in_a_transaction_of_its_own(cached_index_app, revocation):
    """Where intake commits by itself (PostgreSQL: in autocommit, in the statement that reads the token's state),
    a token refused afterwards must have had nothing written (tests/tips/test_intake_tokens.py checks the answers,
    in the test's transaction, which a refusal rolls back anyway)."""
    app, _ = cached_index_app
    with app.app_context():
        user = User(phone=f"1361{uuid.uuid4().int % 10**7:07d}", name="撤销", home_area_code=GRID, active=True)
        user.token_version = 1
        user.set_roles(["member"])
        db.session.add(user)
        db.session.flush()
        token = issue_pair(user)["access_token"]
        REVOCATIONS[revocation](user, decode_token(token))
        db.session.commit()
        body = payload(*grid_point(GRID))
        current_index()
        before = (waiting(), db.session.scalar(select(func.count()).select_from(IdempotencyRecord)))
        db.session.remove()
    response = post_tip(app.test_client(), {"Authorization": f"Bearer {token}"}, body, write=False)
    assert response.status_code == 401, response.get_json()
    with app.app_context():
        assert (waiting(), db.session.scalar(select(func.count()).select_from(IdempotencyRecord))) == before


@pytest.mark.db
def test_a_forked_process_takes_tip_ids_of_its_own(cached_index_app, monkeypatch):
    """PostgreSQL's JSON intake numbers tips from a block each process takes (server.tips.tip_ids); a gunicorn worker
    forked from a process that holds a block must not hand out the same ids."""
    app, _ = cached_index_app
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("SQLite never takes tip ids in blocks (it takes max + 1 under its write lock): no rule to test")
        first = RawConnection.read_then_write(tip_ids.take)
        parents = [first, *tip_ids._blocks[db.engine][1]]
        monkeypatch.setattr(tip_ids.os, "getpid", lambda: -1)  # as if forked
        child = RawConnection.read_then_write(tip_ids.take)
        assert child > max(parents)
        assert RawConnection.read_then_write(tip_ids.take) == child + 1  # then the child's own block, in order
        db.session.remove()


NOTHING = Prepared(lambda _d: text("SELECT 1"))


@pytest.mark.db
def test_intake_allows_itself_one_writing_statement_where_each_commits_alone(cached_index_app):
    """PostgreSQL: read_then_write runs in autocommit, so two writes would not be atomic and the second is refused
    before it runs. SQLite: one write transaction, any number of statements."""
    app, _ = cached_index_app

    def write_twice(s: RawConnection) -> bool:
        s.write(NOTHING)
        s.write(NOTHING)
        return s.dbapi.autocommit if s.is_postgres else s.dbapi.in_transaction

    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            assert RawConnection.read_then_write(lambda s: s.dbapi.autocommit) is True
            with pytest.raises(RuntimeError, match="one writing statement"):
                RawConnection.read_then_write(write_twice)
        else:
            assert RawConnection.read_then_write(write_twice) is True  # inside BEGIN IMMEDIATE
        db.session.remove()


@pytest.mark.db
def test_warm_up_compiles_the_hot_statements_and_freezes_what_lives_as_long_as_the_process(cached_index_app):
    app, _ = cached_index_app
    try:
        warm_up(app)
        assert gc.get_freeze_count() > 10_000
        with app.app_context():
            dialect = db.engine.dialect.name
        assert all(dialect in statement._compiled for statement in Prepared.every)
        assert app.extensions["grid_index"].index is not None
    finally:
        gc.unfreeze()


@pytest.mark.db
def test_migration_0008_will_not_drop_waiting_tips(database_url, tmp_path, capsys):
    from flask_migrate import downgrade, upgrade

    app = live_app(fresh_database_url(database_url, tmp_path, "m8"), tmp_path)
    people = seed_people(app)
    client = app.test_client()
    with app.app_context():
        body = payload(*grid_point(GRID))
        db.session.remove()
    response = post_tip(client, {"Authorization": f"Bearer {people['member']['token']}"}, body, write=False)
    assert response.status_code == 202
    with app.app_context():
        with pytest.raises(SystemExit):  # Flask-Migrate logs the RuntimeError's advice and exits 1
            downgrade(revision="0007")
        out = capsys.readouterr()
        assert "1 accepted tips are still waiting in tip_intake; run `flask worker --once`" in out.out + out.err
        db.session.remove()
        assert waiting() == 1  # still there
        assert materialise_waiting() == 1
        db.session.commit()
        downgrade(revision="0007")
        upgrade()
        assert waiting() == 0 and db.session.get(Tip, response.get_json()["id"]) is not None


@pytest.mark.db
def test_a_connection_the_database_dropped_is_replaced_and_the_tip_accepted(cached_index_app):
    """Intake's pool does not ping before each request (a round trip); a dropped connection is thrown away and the
    work runs again on a fresh one, which is safe because the idempotency key makes it repeatable."""
    app, people = cached_index_app
    if not app.config["GRID"].database_url.startswith("postgresql"):
        # SQLite is a library inside the worker process, not a server: nothing can terminate its connection from
        # outside, so there is no dropped connection to recover from. make test runs this on PostGIS.
        pytest.skip("SQLite runs in-process: there is no connection for a server to drop")
    client = app.test_client()
    headers = {"Authorization": f"Bearer {people['member']['token']}"}
    with app.app_context():
        body = payload(*grid_point(GRID))
        current_index()
        db.session.remove()
    assert post_tip(client, headers, body, write=False).status_code == 202  # intake's pool now holds a connection
    with app.app_context():
        before = waiting()
        dropped = db.session.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).scalar()
        db.session.commit()
        db.session.remove()
    assert dropped >= 1
    again = post_tip(client, headers, body, write=False)
    assert again.status_code == 202, again.get_json()
    with app.app_context():
        assert waiting() == before + 1


@pytest.mark.db
@pytest.mark.parametrize("setting", ["off", "on"])
def test_intake_commits_as_configured_while_everything_else_waits_for_the_disk(cached_index_app, monkeypatch, setting):
    """GRID_PG_INTAKE_SYNCHRONOUS_COMMIT applies to intake's own connections only: the worker, which writes the tip
    the reporter then sees, commits synchronously (and with it every earlier commit's WAL, intake's included)."""
    app, people = cached_index_app
    if not app.config["GRID"].database_url.startswith("postgresql"):
        # synchronous_commit is a PostgreSQL session setting: SQLite has no such thing to set or read back (its
        # durability is GRID_SQLITE_SYNCHRONOUS, tested in tests/test_sqlite_gate.py). make test runs this on PostGIS.
        pytest.skip("a PostgreSQL setting: SQLite's commits follow GRID_SQLITE_SYNCHRONOUS (tests/test_sqlite_gate.py)")
    grid = dataclasses.replace(app.config["GRID"], pg_intake_synchronous_commit=setting)
    monkeypatch.setitem(app.config, "GRID", grid)
    client = app.test_client()
    with app.app_context():
        body = payload(*grid_point(GRID))
        current_index()
        db.session.remove()
    response = post_tip(client, {"Authorization": f"Bearer {people['member']['token']}"}, body, write=False)
    assert response.status_code == 202, response.get_json()
    with app.app_context():
        with _hot_engine(db.engine, setting).connect() as intake_connection:  # the pooled one intake just used
            assert intake_connection.exec_driver_sql("SHOW synchronous_commit").scalar() == setting
        assert db.session.execute(text("SHOW synchronous_commit")).scalar() == "on"  # the app's, the worker's
        assert materialise_waiting() >= 1
        db.session.commit()
        assert db.session.get(Tip, response.get_json()["id"]).status == "dispatched"
