"""Grid-map import: validate a whole county map, then write it as a new current generation.

All or nothing: any problem raises ImportRejected before a row is written. Re-importing the file that is
already current (same bytes, same datum) writes nothing and says so. The caller owns the transaction.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import shapely
from blinker import Namespace
from flask import current_app
from sqlalchemy import insert, select, text, update

from server.areas.index_cache import index_cache
from server.areas.models import Area, MapGeneration
from server.extensions import db
from server.geo import datum
from server.geo.validate import Problem as MapProblem
from server.geo.validate import Tolerances, ValidationReport, validate_feature_collection

INSERT_BATCH = 2_000


# Sent (inside the import's transaction) after a new generation is written, with generation_id=. Features that
# keep things located in grids (households) connect to it, so that this module never imports them.
_signals = Namespace()
generation_imported = _signals.signal("grid-generation-imported")


class ImportRejected(Exception):
    def __init__(self, problems: list[MapProblem]):
        super().__init__(f"{len(problems)} problem(s) in the grid map; nothing was imported.")
        self.problems = problems


@dataclass
class ImportResult:
    status: str  # "imported", "unchanged" or "valid" (dry run)
    generation_id: int | None
    counts: dict[str, int]
    sha256: str
    followups: list[str] = field(default_factory=list)  # what the receivers of generation_imported did


def import_grid_map(
    raw: bytes,
    *,
    source_name: str,
    imported_by: str,
    source_datum: str = "wgs84",
    dry_run: bool = False,
    progress: bool = False,
) -> ImportResult:
    source_datum = datum.normalise_datum(source_datum)
    sha256 = hashlib.sha256(raw).hexdigest()
    current = db.session.scalar(select(MapGeneration).where(MapGeneration.is_current.is_(True)))
    if current and current.source_sha256 == sha256 and current.source_datum == source_datum:
        return ImportResult("unchanged", current.id, current.counts, sha256)
    report = validate_map(raw, source_datum, progress)
    if not report.ok:
        raise ImportRejected(report.problems)
    if dry_run:
        return ImportResult("valid", None, report.counts, sha256)
    generation = _write_generation(report, source_name, imported_by, source_datum, sha256, progress)
    index_cache().invalidate()
    followups = [str(said) for _, said in generation_imported.send(generation.id) if said]
    return ImportResult("imported", generation.id, report.counts, sha256, followups)


def validate_map(raw: bytes, source_datum: str, progress: bool = False) -> ValidationReport:
    try:
        collection = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ImportRejected([MapProblem(None, None, "not-json", f"The file is not valid JSON: {exc}.")]) from None
    transform = None if source_datum == "wgs84" else (lambda xy: datum.to_wgs84_array(xy, source_datum))
    return validate_feature_collection(collection, transform=transform, tolerances=_tolerances(), progress=progress)


def _tolerances() -> Tolerances:
    settings = current_app.config["GRID"]
    return Tolerances(
        parent_m=settings.import_parent_tolerance_m,
        overlap_m2=settings.import_overlap_tolerance_m2,
        gap_m2=settings.import_gap_tolerance_m2,
    )


def _write_generation(report, source_name, imported_by, source_datum, sha256, progress) -> MapGeneration:
    county = next(a for a in report.areas if a.level == "county")
    db.session.execute(update(MapGeneration).where(MapGeneration.is_current.is_(True)).values(is_current=False))
    generation = MapGeneration(
        county_code=county.code,
        source_name=source_name[:255],
        source_sha256=sha256,
        source_datum=source_datum,
        imported_by=imported_by,
        counts=report.counts,
        is_current=True,
    )
    db.session.add(generation)
    db.session.flush()
    _insert_areas(generation.id, report.areas, progress)
    # Fresh statistics, or the planner scans every area instead of using the spatial index (21 ms vs 0.2 ms).
    db.session.execute(text("ANALYZE areas"))
    return generation


def _insert_areas(generation_id: int, areas, progress: bool) -> None:
    from tqdm import tqdm

    wkts = shapely.to_wkt([a.geometry for a in areas], rounding_precision=-1)
    rows = [
        {
            "generation_id": generation_id,
            "code": a.code,
            "name": a.name,
            "level": a.level,
            "parent_code": a.parent_code,
            "geom": f"SRID=4326;{wkt}",
        }
        for a, wkt in zip(areas, wkts, strict=True)
    ]
    with tqdm(total=len(rows), desc="writing areas", unit="area", disable=not progress) as bar:
        for start in range(0, len(rows), INSERT_BATCH):
            batch = rows[start : start + INSERT_BATCH]
            db.session.execute(insert(Area), batch)
            bar.update(len(batch))
