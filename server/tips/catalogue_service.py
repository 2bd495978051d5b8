"""Reading and loading the category catalogue."""

from __future__ import annotations

from sqlalchemy import select

from server.errors import Problem
from server.extensions import db
from server.tips.models import TipCategory


def list_categories() -> list[TipCategory]:
    query = select(TipCategory).where(TipCategory.active.is_(True)).order_by(TipCategory.sort_order, TipCategory.code)
    return list(db.session.scalars(query))


def get_category(code: str) -> TipCategory:
    category = db.session.get(TipCategory, code)
    if category is None or not category.active:
        raise Problem(
            422,
            "unknown-category",
            f"{code!r} is not a tip category. GET /api/v1/tips/categories lists them.",
            errors={"category": ["Unknown category."]},
        )
    return category


def load_categories(rows: list[dict]) -> tuple[int, int]:
    """Insert or update categories from dicts (the catalogue file). Returns (added, updated)."""
    added = updated = 0
    for row in rows:
        existing = db.session.get(TipCategory, row["code"])
        if existing is None:
            db.session.add(TipCategory(**row))
            added += 1
        else:
            for key, value in row.items():
                setattr(existing, key, value)
            updated += 1
    db.session.flush()
    return added, updated
