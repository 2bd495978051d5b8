"""`flask households ...`: import (CSV/GeoJSON, all or nothing), reassign after a new grid map, demo data."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from server.errors import Problem
from server.extensions import db
from server.geo.datum import DatumError

households_cli = AppGroup("households", help="Households: import, reassign to a new grid map, demo data.")
MAX_PRINTED = 200


@households_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--datum", default="wgs84", show_default=True, help="Datum of the file: wgs84 (=cgcs2000), gcj02, bd09.")
@click.option("--dry-run", is_flag=True, help="Validate and print the report; write nothing.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def import_command(path: Path, datum: str, dry_run: bool, quiet: bool):
    """Import households from CSV or GeoJSON. All or nothing: any bad row rejects the whole file.

    CSV columns: address,lon,lat,head_name,size (required), head_phone,tags,ref,accuracy_m (optional);
    several tags are separated by ';'. GeoJSON: Point features with the same properties.
    """
    from server.households.importer import ImportRejected, import_households

    try:
        report = import_households(
            path.read_bytes(), filename=path.name, source_datum=datum, dry_run=dry_run, progress=not quiet
        )
    except ImportRejected as rejected:
        _print_problems(rejected.problems)
        raise SystemExit(1) from None
    except DatumError as exc:
        raise click.BadParameter(exc.detail, param_hint="--datum") from None
    except Problem as problem:
        raise click.ClickException(problem.detail) from None
    grids = f"{len(report.by_grid)} grid(s), {report.snapped} snapped to a grid within the snap distance"
    if report.status == "valid":
        click.echo(f"Dry run: {path.name} is valid: {report.count} household(s) in {grids}. Nothing was written.")
        return
    db.session.commit()
    click.echo(f"Imported {report.count} household(s) from {path.name} into {grids}.")


def _print_problems(problems) -> None:
    click.echo(f"Rejected: {len(problems)} problem(s); nothing was imported.", err=True)
    for p in problems[:MAX_PRINTED]:
        where = "file" if p.index is None else f"row {p.index}" + (f" (line {p.line})" if p.line else "")
        click.echo(f"  {where}: [{p.kind}] {p.detail}", err=True)
    if len(problems) > MAX_PRINTED:
        click.echo(f"  ... and {len(problems) - MAX_PRINTED} more.", err=True)


@households_cli.command("reassign")
@click.option("--generation", type=int, default=None, help="A map generation id (default: the current one).")
@click.option("--dry-run", is_flag=True, help="Print what would move; change nothing.")
def reassign_command(generation: int | None, dry_run: bool):
    """Route every household again with a (new) grid map; prints each household that moved."""
    from server.areas.services import resolve_generation
    from server.households.reassign import reassign_households

    try:
        report = reassign_households(resolve_generation(generation), dry_run=dry_run)
    except Problem as problem:
        raise click.ClickException(problem.detail) from None
    for household_id, old, new in report.moved:
        click.echo(f"  household {household_id}: {old} -> {new}")
    for household_id in report.outside:
        click.echo(f"  household {household_id}: outside every grid of the new map; left in its old grid", err=True)
    for household_id, member_id in report.links_outside_member_area:
        click.echo(f"  household {household_id}: now outside the area of its member {member_id}", err=True)
    verb = "would move" if dry_run else "moved"
    click.echo(
        f"{len(report.moved)} of {report.households} household(s) {verb} (generation {report.generation_id}); "
        f"{len(report.outside)} outside every grid; {len(report.links_outside_member_area)} link(s) to review."
    )
    if not dry_run:
        db.session.commit()


@households_cli.command("demo")
def demo_command():
    """Demo households, links, visits and one patrol around the demo grid chief's grid (idempotent)."""
    from server.households.demo import make_demo

    try:
        summary = make_demo()
    except Problem as problem:
        raise click.ClickException(problem.detail) from None
    db.session.commit()
    for line in summary:
        click.echo(line)
