"""`flask grids ...`: import, export, list generations and locate a point, for operators."""

from __future__ import annotations

import getpass
import json
import sys
from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy import select

from server.areas import services
from server.areas.importer import ImportRejected, import_grid_map
from server.areas.models import Area, MapGeneration
from server.errors import Problem
from server.extensions import db
from server.geo.datum import DatumError
from server.geo.geojson import area_feature

grids_cli = AppGroup("grids", help="Grid maps: import, export, generations, locate.")


@grids_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--datum", default="wgs84", show_default=True, help="Datum of the file: wgs84 (=cgcs2000) or gcj02.")
@click.option("--dry-run", is_flag=True, help="Validate and print the report; write nothing.")
@click.option("--by", "imported_by", default=None, help="Who imports (recorded). Defaults to the OS user.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def import_command(path: Path, datum: str, dry_run: bool, imported_by: str | None, quiet: bool):
    """Import a county grid map (GeoJSON FeatureCollection) as a new current generation. All or nothing."""
    try:
        result = import_grid_map(
            path.read_bytes(),
            source_name=path.name,
            imported_by=imported_by or getpass.getuser(),
            source_datum=datum,
            dry_run=dry_run,
            progress=not quiet,
        )
    except ImportRejected as rejected:
        _print_problems(rejected.problems)
        raise SystemExit(1) from None
    except DatumError as exc:
        raise click.BadParameter(exc.detail, param_hint="--datum") from None
    db.session.commit()
    counts = ", ".join(f"{n} {level}" for level, n in result.counts.items())
    messages = {
        "unchanged": f"Unchanged: {path.name} is already the current map (generation {result.generation_id}).",
        "valid": f"Dry run: {path.name} is valid ({counts}). Nothing was written.",
        "imported": f"Imported {path.name} as generation {result.generation_id}: {counts}.",
    }
    click.echo(messages[result.status])
    for line in result.followups:
        click.echo(f"  {line}")


def _print_problems(problems) -> None:
    click.echo(f"Rejected: {len(problems)} problem(s); nothing was imported.", err=True)
    for p in problems:
        where = f"feature {p.index}" if p.index is not None else "file"
        code = f" ({p.code})" if p.code else ""
        click.echo(f"  {where}{code}: [{p.kind}] {p.detail}", err=True)


@grids_cli.command("export")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="File (default stdout).")
@click.option("--generation", type=int, default=None, help="A past generation id (default: current).")
def export_command(out: Path | None, generation: int | None):
    """Write a generation back out as a GeoJSON FeatureCollection."""
    try:
        generation_id = services.resolve_generation(generation)
    except Problem as problem:
        raise click.ClickException(problem.detail) from None
    rows = db.session.scalars(select(Area).where(Area.generation_id == generation_id).order_by(Area.code))
    features = [_export_feature(a) for a in rows]
    text = json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False)
    if out:
        out.write_text(text, encoding="utf-8")
        click.echo(f"Wrote {len(features)} features of generation {generation_id} to {out}.", err=True)
    else:
        sys.stdout.write(text + "\n")


def _export_feature(area: Area) -> dict:
    feature = area_feature(area)
    props = feature["properties"]
    feature["properties"] = {k: props[k] for k in ("code", "name", "level", "parent_code")}
    return feature


@grids_cli.command("generations")
def generations_command():
    """List map generations, newest first."""
    for g in db.session.scalars(select(MapGeneration).order_by(MapGeneration.id.desc())):
        mark = "*" if g.is_current else " "
        click.echo(f"{mark} {g.id:>4}  {g.imported_at:%Y-%m-%d %H:%M}  {g.source_name}  {g.counts}  by {g.imported_by}")


@grids_cli.command("locate")
@click.argument("lon", type=float)
@click.argument("lat", type=float)
@click.option("--datum", default="wgs84", show_default=True)
def locate_command(lon: float, lat: float, datum: str):
    """Which grid a point is in."""
    try:
        found = services.locate(lon, lat, datum)
    except (Problem, DatumError) as problem:
        raise click.ClickException(problem.detail) from None
    names = " < ".join(f"{a.name} {a.code}" for a in [found.hit.grid, *found.chain])
    snapped = f" (snapped {found.hit.distance_m:.0f} m)" if found.hit.snapped else ""
    click.echo(f"{names}{snapped}")
