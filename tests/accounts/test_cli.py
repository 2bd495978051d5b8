"""`flask users ...`: create, import (all or nothing), reset-password, list, assign, demo."""

from __future__ import annotations

import dataclasses
import stat

import pytest
from sqlalchemy import select

from server.accounts.assignments import responsible_for_grid
from server.accounts.cli import DEMO_ACCOUNTS, DEMO_PASSWORD
from server.accounts.models import User
from server.accounts.passwords import verify_password
from server.audit.models import AuditEvent
from tests.accounts.helpers import login


@pytest.fixture
def cli(app, db_session):
    runner = app.test_cli_runner()

    def invoke(*args, input=None):
        return runner.invoke(args=["users", *args], input=input)

    return invoke


def _user(db_session, phone) -> User | None:
    db_session.expire_all()
    return db_session.scalar(select(User).where(User.phone == phone))


def test_create_with_password_from_stdin(cli, client, db_session, demo_areas):
    result = cli(
        "create",
        "--phone",
        "13800000001",
        "--name",
        "张三",
        "--role",
        "grid_chief",
        "--role",
        "member",
        "--area",
        demo_areas["village"],
        "--password-stdin",
        input="a-good-pass-2026\n",
    )
    assert result.exit_code == 0, result.output
    assert "138****0001" in result.output and "13800000001" not in result.output
    user = _user(db_session, "13800000001")
    assert user.roles == {"grid_chief", "member"} and user.name == "张三"
    assert login(client, "13800000001", "a-good-pass-2026").status_code == 200
    [event] = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "user_created")).all()
    assert event.details["via"] == "cli" and event.details["phone_masked"] == "138****0001"


def test_create_prompts_twice_with_hidden_input(cli, db_session, demo_areas):
    result = cli(
        "create",
        "--phone",
        "13800000002",
        "--name",
        "李四",
        "--role",
        "member",
        "--area",
        demo_areas["grid"],
        input="a-good-pass-2026\na-good-pass-2026\n",
    )
    assert result.exit_code == 0, result.output
    assert "a-good-pass-2026" not in result.output
    assert verify_password(_user(db_session, "13800000002").password_hash, "a-good-pass-2026")


@pytest.mark.parametrize(
    ("args", "password", "message"),
    [
        (["--phone", "12800000003"], "a-good-pass-2026", "11-digit mainland mobile number"),
        (["--phone", "13800000003", "--area", "330899999"], "a-good-pass-2026", "not an area of the current map"),
        (["--phone", "13800000003"], "short", "at least 10 characters"),
        (["--phone", "13800000003"], "13800000003", "phone number"),
    ],
)
def test_create_refuses_with_a_helpful_message(cli, db_session, demo_areas, args, password, message):
    base = {"--phone": "13800000003", "--name": "王五", "--role": "member", "--area": demo_areas["grid"]}
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    result = cli("create", *[x for kv in base.items() for x in kv], "--password-stdin", input=password + "\n")
    assert result.exit_code != 0
    assert message in result.output
    assert "Nothing was created" in result.output
    assert _user(db_session, "13800000003") is None


def test_create_refuses_a_duplicate_phone(cli, make_user, demo_areas):
    make_user(phone="13800000004")
    result = cli(
        "create",
        "--phone",
        "13800000004",
        "--name",
        "重复",
        "--role",
        "member",
        "--area",
        demo_areas["grid"],
        "--password-stdin",
        input="a-good-pass-2026\n",
    )
    assert result.exit_code != 0 and "already exists" in result.output


def test_reset_password(cli, client, db_session, make_user):
    user = make_user(phone="13800000005")
    version = user.token_version
    result = cli("reset-password", "--phone", "13800000005", "--password-stdin", input="brand-new-pass-1\n")
    assert result.exit_code == 0, result.output
    assert login(client, "13800000005", "brand-new-pass-1").status_code == 200
    assert _user(db_session, "13800000005").token_version == version + 1
    assert cli("reset-password", "--phone", "13800000005", "--password-stdin", input="weak\n").exit_code != 0
    unknown = cli("reset-password", "--phone", "13800000999", "--password-stdin", input="brand-new-pass-1\n")
    assert unknown.exit_code != 0 and "No account" in unknown.output


def test_list_masks_phones(cli, make_user, demo_areas):
    make_user("grid_chief", demo_areas["village"], phone="13800000006")
    result = cli("list", "--role", "grid_chief", "--area", demo_areas["township"])
    assert result.exit_code == 0
    assert "138****0006" in result.output and "13800000006" not in result.output
    assert "13800000006" in cli("list", "--show-phones").output


def test_assign_hands_over(cli, make_user, demo_areas):
    grid = demo_areas["grid"]
    make_user("grid_chief", demo_areas["village"], name="老网格长", grids=[grid])
    make_user("grid_chief", demo_areas["village"], name="新网格长", phone="13800000007")
    from datetime import date, timedelta

    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    result = cli("assign", "--phone", "13800000007", "--grid", grid, "--kind", "chief", "--from", tomorrow)
    assert result.exit_code == 0, result.output
    assert [p.name for p in responsible_for_grid(grid)] == ["老网格长"]
    assert [p.name for p in responsible_for_grid(grid, date.today() + timedelta(days=1))] == ["新网格长"]
    bad = cli("assign", "--phone", "13800000007", "--grid", demo_areas["village"], "--kind", "chief")
    assert bad.exit_code != 0 and "not a grid" in bad.output


def _write_csv(tmp_path, rows):
    path = tmp_path / "accounts.csv"
    path.write_text("phone,name,roles,area_code,grid_codes,assignment_kind\n" + "\n".join(rows) + "\n", "utf-8")
    return path


def test_import_all_or_nothing_with_a_report(cli, db_session, demo_areas, tmp_path):
    path = _write_csv(
        tmp_path,
        [
            f"13800000010,好人,member,{demo_areas['grid']},,",
            f"1380000001,短号,member,{demo_areas['grid']},,",
            "13800000012,无区,member,330899999999,,",
            f"13800000013,网格长,member,{demo_areas['village']},{demo_areas['grid']},chief",
            f"13800000010,重复,member,{demo_areas['grid']},,",
        ],
    )
    result = cli("import", str(path))
    assert result.exit_code == 1
    output = result.output
    assert "nothing was imported" in output
    assert "line 3" in output and "11-digit" in output
    assert "line 4" in output and "330899999999" in output
    assert "line 5" in output and "grid_chief role" in output
    assert "line 6" in output and "line 2" in output
    assert "line 2 (" not in output.split("Rejected")[1].split("\n", 1)[1]  # the good row has no error
    assert _user(db_session, "13800000010") is None


def test_import_creates_accounts_and_assignments(cli, db_session, demo_areas, tmp_path):
    path = _write_csv(
        tmp_path,
        [
            f"13800000020,组长,grid_chief;member,{demo_areas['village']},{demo_areas['grid']};{demo_areas['sibling_grid']},chief",
            f"13800000021,副组长,grid_chief,{demo_areas['village']},{demo_areas['grid']},deputy",
            f"13800000022,队员,member,{demo_areas['grid']},,",
        ],
    )
    passwords = tmp_path / "initial.csv"
    result = cli("import", str(path), "--passwords-out", str(passwords), "--quiet")
    assert result.exit_code == 0, result.output
    assert "Imported 3 account(s)" in result.output
    assert stat.S_IMODE(passwords.stat().st_mode) == 0o600
    lines = passwords.read_text().splitlines()
    assert lines[0] == "phone,name,password" and len(lines) == 4
    phone, _, password = lines[1].split(",")
    assert verify_password(_user(db_session, phone).password_hash, password)
    assert [(p.name, p.role) for p in responsible_for_grid(demo_areas["grid"])] == [
        ("组长", "chief"),
        ("副组长", "deputy"),
    ]
    assert _user(db_session, "13800000020").roles == {"grid_chief", "member"}


def test_import_refuses_a_grid_that_already_has_a_chief(cli, make_user, demo_areas, tmp_path):
    make_user("grid_chief", demo_areas["village"], grids=[demo_areas["grid"]])
    path = _write_csv(tmp_path, [f"13800000030,新人,grid_chief,{demo_areas['village']},{demo_areas['grid']},chief"])
    result = cli("import", str(path))
    assert result.exit_code == 1 and "already has a chief" in result.output


def test_import_dry_run_writes_nothing(cli, db_session, demo_areas, tmp_path):
    path = _write_csv(tmp_path, [f"13800000040,试,member,{demo_areas['grid']},,"])
    result = cli("import", str(path), "--dry-run")
    assert result.exit_code == 0 and "Dry run" in result.output
    assert _user(db_session, "13800000040") is None


def test_import_names_missing_columns(cli, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("phone,name\n13800000050,x\n")
    result = cli("import", str(path))
    assert result.exit_code != 0 and "roles" in result.output and "header must be" in result.output


def test_demo_is_idempotent_and_logs_in(cli, client, db_session, demo_areas):
    first = cli("demo")
    assert first.exit_code == 0, first.output
    second = cli("demo")
    assert second.exit_code == 0 and second.output.count("exists") == len(DEMO_ACCOUNTS)
    for role, phone, _ in DEMO_ACCOUNTS:
        assert phone in first.output
        user = _user(db_session, phone)
        assert user.roles == {role}
        assert login(client, phone, DEMO_PASSWORD).status_code == 200
    assert DEMO_PASSWORD in first.output
    chief = _user(db_session, DEMO_ACCOUNTS[4][1])
    assert [p.user_id for p in responsible_for_grid(demo_areas["grid"])] == [chief.id]
    assert _user(db_session, DEMO_ACCOUNTS[2][1]).home_area_code == demo_areas["township"]
    assert len(db_session.scalars(select(User).where(User.phone.like("139008990%"))).all()) == len(DEMO_ACCOUNTS)


def test_demo_is_refused_in_production(app, cli, db_session, monkeypatch):
    monkeypatch.setitem(app.config, "GRID", dataclasses.replace(app.config["GRID"], env="production"))
    result = cli("demo")
    assert result.exit_code != 0 and "GRID_ENV=production" in result.output
    assert _user(db_session, DEMO_ACCOUNTS[0][1]) is None
