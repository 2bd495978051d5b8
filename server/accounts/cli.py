"""`flask users ...`: create, import, reset passwords, list, assign grids, and the demo accounts.

Passwords never go on the command line (they would stay in the shell history and `ps`): they are read
from stdin (--password-stdin) or asked for twice with hidden input. Phone numbers are masked in output
unless --show-phones is given.
"""

from __future__ import annotations

import csv
import io
import os
import secrets
import sys
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from server.accounts import services, tokens
from server.accounts.assignments import assign_grid, is_grid, responsible_for_grid
from server.accounts.models import User
from server.accounts.phones import mask_phone, normalize_phone
from server.accounts.roles import ASSIGNMENT_KINDS, ROLE_LABELS_ZH, ROLES
from server.areas.index_cache import current_generation_id
from server.areas.models import Area
from server.errors import Problem
from server.extensions import db
from server.scope import Scope

users_cli = AppGroup("users", help="Accounts: create, import, reset-password, list, assign, demo.")

DEMO_PASSWORD = "demo-pass-2026"  # noqa: S105 - published on purpose: demo accounts are refused in production
DEMO_COUNTY = "330899"
CSV_COLUMNS = ("phone", "name", "roles", "area_code", "grid_codes", "assignment_kind")


def _fail(problem: Problem, hint: str = "") -> click.ClickException:
    lines = [problem.detail]
    if problem.detail.endswith("; see errors.") and isinstance(problem.errors, dict):
        lines = [problem.detail.removesuffix("; see errors.") + ":"]
        lines += [f"  {name}: {' '.join(msgs)}" for name, msgs in problem.errors.items()]
    if hint:
        lines.append(hint)
    return click.ClickException("\n".join(lines))


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise click.UsageError("--password-stdin was given but stdin was empty: pipe the password in.")
        return password
    return click.prompt("Password", hide_input=True, confirmation_prompt="Repeat the password")


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.replace("|", ";").replace(",", ";").split(";") if v.strip()]


@users_cli.command("create")
@click.option("--phone", required=True, help="Mainland mobile number, the login name (e.g. 13800000001).")
@click.option("--name", required=True, help="The person's name, e.g. 张三.")
@click.option("--role", "roles", multiple=True, required=True, type=click.Choice(ROLES), help="Repeat for several.")
@click.option("--area", required=True, help="Home area code of the current map (county, township, village or grid).")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin instead of prompting.")
def create_command(phone, name, roles, area, password_stdin):
    """Create one account."""
    password = _read_password(password_stdin)
    try:
        user = services.create_user(phone, name, roles, area, password, via="cli")
    except Problem as problem:
        raise _fail(problem, "Nothing was created. Fix the values above and run the command again.") from None
    db.session.commit()
    click.echo(
        f"Created account {user.id}: {mask_phone(user.phone)} {user.name} ({', '.join(sorted(user.roles))}) "
        f"in {user.home_area_code}."
    )


@users_cli.command("reset-password")
@click.option("--phone", required=True, help="The account's mobile number.")
@click.option("--password-stdin", is_flag=True, help="Read the new password from stdin instead of prompting.")
def reset_password_command(phone, password_stdin):
    """Set a new password; the account's existing tokens stop working."""
    password = _read_password(password_stdin)
    try:
        user = services.reset_password(phone, password)
    except Problem as problem:
        raise _fail(problem, "The password was not changed.") from None
    db.session.commit()
    click.echo(f"New password set for {mask_phone(user.phone)} {user.name}; their sessions were ended.")


@users_cli.command("list")
@click.option("--role", type=click.Choice(ROLES), default=None, help="Only accounts with this role.")
@click.option("--area", default=None, help="Only accounts homed under this area code.")
@click.option("--show-phones", is_flag=True, help="Show phone numbers in clear (personal data).")
def list_command(role, area, show_phones):
    """List accounts (phone numbers masked)."""
    rows, total = services.list_users(Scope.all(), role=role, area=area, limit=1_000_000)
    table = [("id", "phone", "name", "roles", "home area", "active")]
    for u in rows:
        phone = u.phone if show_phones else mask_phone(u.phone)
        roles = ",".join(sorted(u.roles))
        table.append((str(u.id), phone, u.name, roles, u.home_area_code, "yes" if u.active else "no"))
    _print_table(table)
    click.echo(f"{total} account(s).")


@users_cli.command("assign")
@click.option("--phone", required=True, help="The grid chief's mobile number (the account needs the grid_chief role).")
@click.option("--grid", "grid_code", required=True, help="A 15-digit grid code of the current map.")
@click.option("--kind", type=click.Choice(ASSIGNMENT_KINDS), required=True, help="chief (网格长) or deputy (副网格长).")
@click.option("--from", "starts_on", type=click.DateTime(["%Y-%m-%d"]), default=None, help="First day (default today).")
@click.option("--until", "ends_on", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Last day (default open).")
def assign_command(phone, grid_code, kind, starts_on, ends_on):
    """Make an account chief or deputy of a grid. A new chief ends the previous chief's term the day before."""
    start = starts_on.date() if starts_on else date.today()
    try:
        user = services.get_by_phone(phone)
        assign_grid(user, grid_code, kind, start, ends_on.date() if ends_on else None)
    except Problem as problem:
        raise _fail(problem, "Nothing was changed.") from None
    db.session.commit()
    people = ", ".join(f"{p.name} ({p.role_zh})" for p in responsible_for_grid(grid_code, start))
    click.echo(f"{user.name} is {kind} of grid {grid_code} from {start}. On that day: {people or 'nobody'}.")


@users_cli.command("prune-tokens")
def prune_tokens_command():
    """Forget revoked access tokens and refresh tokens that have expired anyway."""
    access, refresh = tokens.prune_expired()
    db.session.commit()
    click.echo(f"Pruned {access} revoked access token(s) and {refresh} refresh token(s).")


# --- import -------------------------------------------------------------------------------------------------


@dataclass
class _Row:
    line: int
    phone: str
    name: str
    roles: list[str]
    area_code: str
    grid_codes: list[str]
    kind: str
    errors: list[str] = field(default_factory=list)


@users_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--from", "starts_on", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Assignments start (today).")
@click.option(
    "--passwords-out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Give each new account a random password and write them to this new file (mode 600).",
)
@click.option("--dry-run", is_flag=True, help="Validate and report; write nothing.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def import_command(path, starts_on, passwords_out, dry_run, quiet):
    """Import accounts from CSV (phone,name,roles,area_code,grid_codes,assignment_kind). All or nothing.

    roles and grid_codes hold several values separated by ';'. assignment_kind (chief|deputy) applies to
    every grid code of the row. Without --passwords-out the accounts have no password until
    `flask users reset-password` sets one.
    """
    if passwords_out and passwords_out.exists():
        raise click.UsageError(f"{passwords_out} exists; choose a new file so that no passwords are overwritten.")
    rows = _read_csv(path)
    _validate_rows(rows)
    bad = [r for r in rows if r.errors]
    if bad:
        click.echo(
            f"Rejected: {sum(len(r.errors) for r in bad)} problem(s) in {len(bad)} of {len(rows)} row(s); "
            "nothing was imported.",
            err=True,
        )
        for r in bad:
            for error in r.errors:
                click.echo(f"  line {r.line} ({mask_phone(r.phone)}): {error}", err=True)
        raise SystemExit(1)
    if dry_run:
        click.echo(f"Dry run: {path.name} is valid ({len(rows)} account(s)). Nothing was written.")
        return
    passwords = _create_rows(rows, starts_on.date() if starts_on else date.today(), bool(passwords_out), quiet)
    db.session.commit()
    if passwords_out:
        _write_passwords(passwords_out, passwords)
        click.echo(f"Wrote {len(passwords)} initial password(s) to {passwords_out} (mode 600).")
        click.echo("Hand them out, then delete the file.")
    else:
        click.echo("The new accounts have no password yet: set each with `flask users reset-password --phone ...`.")
    click.echo(f"Imported {len(rows)} account(s) from {path.name}.")


def _read_csv(path: Path) -> list[_Row]:
    text = path.read_text(encoding="utf-8-sig")
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise click.UsageError(
            f"{path.name} lacks the column(s) {', '.join(missing)}. The header must be: {','.join(CSV_COLUMNS)}"
        )
    return [
        _Row(
            line=i,
            phone=normalize_phone(r["phone"] or ""),
            name=(r["name"] or "").strip(),
            roles=_split(r["roles"] or ""),
            area_code=(r["area_code"] or "").strip(),
            grid_codes=_split(r["grid_codes"] or ""),
            kind=(r["assignment_kind"] or "").strip(),
        )
        for i, r in enumerate(reader, start=2)
    ]


def _validate_rows(rows: list[_Row]) -> None:
    seen_phones: dict[str, int] = {}
    chiefs: dict[str, int] = {}
    for r in rows:
        problems = services.validate_new_user(r.phone, r.name, r.roles, r.area_code, Scope.all())
        r.errors += [f"{f}: {' '.join(m)}" for f, m in problems.items()]
        if r.phone in seen_phones:
            r.errors.append(f"phone: the same number is already on line {seen_phones[r.phone]}.")
        seen_phones.setdefault(r.phone, r.line)
        if not r.grid_codes:
            continue
        if "grid_chief" not in r.roles:
            r.errors.append("grid_codes: only accounts with the grid_chief role can be assigned to grids.")
        if r.kind not in ASSIGNMENT_KINDS:
            r.errors.append("assignment_kind: must be chief or deputy when grid_codes are given.")
        for code in r.grid_codes:
            if not is_grid(code):
                r.errors.append(f"grid_codes: {code} is not a grid of the current map.")
            elif r.kind == "chief":
                _check_chief(r, code, chiefs)


def _check_chief(row: _Row, code: str, chiefs: dict[str, int]) -> None:
    if code in chiefs:
        row.errors.append(f"grid_codes: {code} already gets a chief on line {chiefs[code]}.")
    chiefs.setdefault(code, row.line)
    current = [p for p in responsible_for_grid(code) if p.role == "chief"]
    if current:
        row.errors.append(f"grid_codes: {code} already has a chief ({current[0].name}); use `flask users assign`.")


def _create_rows(rows: list[_Row], starts_on: date, with_passwords: bool, quiet: bool) -> list[tuple[str, str, str]]:
    passwords = []
    with click.progressbar(rows, label="Creating accounts", file=None if not quiet else io.StringIO()) as bar:
        for r in bar:
            password = secrets.token_urlsafe(9) if with_passwords else None
            user = services.create_user(r.phone, r.name, r.roles, r.area_code, password, via="cli-import")
            for code in r.grid_codes:
                assign_grid(user, code, r.kind, starts_on)
            if password:
                passwords.append((r.phone, r.name, password))
    return passwords


def _write_passwords(path: Path, passwords) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(("phone", "name", "password"))
        writer.writerows(passwords)


# --- demo ---------------------------------------------------------------------------------------------------

DEMO_ACCOUNTS = (  # role, phone, name
    ("admin", "13900899001", "演示管理员"),
    ("county_staff", "13900899002", "演示县干部"),
    ("township_staff", "13900899003", "演示乡镇干部"),
    ("custodian", "13900899004", "演示纪检员"),
    ("grid_chief", "13900899005", "演示网格长"),
    ("member", "13900899006", "演示网格员"),
)


@users_cli.command("demo")
def demo_command():
    """One demo account per role in the demo county (330899), idempotently; prints their logins."""
    if current_app.config["GRID"].is_production:
        raise click.ClickException(
            "Demo accounts share a published password, so they are refused when GRID_ENV=production. "
            "Create real accounts with `flask users create` or `flask users import`."
        )
    grid = _first_demo_grid()
    village = grid.parent_code
    township = _area(village).parent_code
    homes = {
        "admin": DEMO_COUNTY,
        "county_staff": DEMO_COUNTY,
        "township_staff": township,
        "custodian": DEMO_COUNTY,
        "grid_chief": village,
        "member": grid.code,
    }
    table = [("role", "角色", "phone", "password", "name", "home area", "status")]
    for role, phone, name in DEMO_ACCOUNTS:
        user = db.session.scalar(select(User).where(User.phone == phone))
        status = "exists"
        if user is None:
            user = services.create_user(phone, name, [role], homes[role], DEMO_PASSWORD, via="cli-demo")
            status = "created"
        if role == "grid_chief":
            assign_grid(user, grid.code, "chief", date.today())
        table.append((role, ROLE_LABELS_ZH[role], phone, DEMO_PASSWORD, name, user.home_area_code, status))
    db.session.commit()
    _print_table(table)
    click.echo(f"The demo grid chief is chief (网格长) of grid {grid.code} {grid.name}.")
    click.echo("These accounts are for demonstration only; they are refused in production.")


def _area(code: str) -> Area:
    return db.session.scalar(select(Area).where(Area.generation_id == current_generation_id(), Area.code == code))


def _first_demo_grid() -> Area:
    generation = current_generation_id()
    grid = None
    if generation is not None:
        grid = db.session.scalar(
            select(Area)
            .where(Area.generation_id == generation, Area.level == "grid", Area.code.startswith(DEMO_COUNTY))
            .order_by(Area.code)
            .limit(1)
        )
    if grid is None:
        raise click.ClickException(
            f"The demo county {DEMO_COUNTY} is not in the current map. Import it first: "
            "flask grids import grid_maps/demo_county.geojson"
        )
    return grid


def _print_table(rows) -> None:
    widths = [max(_width(r[i]) for r in rows) for i in range(len(rows[0]))]
    for n, row in enumerate(rows):
        click.echo("  ".join(cell + " " * (w - _width(cell)) for cell, w in zip(row, widths, strict=True)).rstrip())
        if n == 0:
            click.echo("  ".join("-" * w for w in widths))


def _width(text: str) -> int:
    """Display width: CJK characters take two columns in a terminal."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)
