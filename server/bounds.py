"""Integers from clients that reach the database are bounded by what the database can hold.

Every id column is a PostgreSQL `integer` (at most 2**31 - 1; SQLite's INTEGER holds up to 2**63 - 1). A larger
number reaches the driver as an error (integer out of range on PostgreSQL, an OverflowError on SQLite: a 500), so
every id and offset a client sends is checked here first: a path id beyond the range does not match the route (404,
as for any id that does not exist), and a query or body field beyond it is a 422.
"""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate
from werkzeug.routing import IntegerConverter

INT_MAX = 2**31 - 1


class RowIdConverter(IntegerConverter):
    """Flask's `<int:...>`, bounded to what a row id can be. flask-smorest documents the bound as `maximum`."""

    def __init__(self, map, *args, **kwargs) -> None:
        kwargs.setdefault("max", INT_MAX)
        super().__init__(map, *args, **kwargs)


def row_id(**kwargs) -> ma.fields.Integer:
    """An id field: 1 .. 2**31 - 1."""
    return ma.fields.Integer(validate=validate.Range(min=1, max=INT_MAX), **kwargs)


def offset() -> ma.fields.Integer:
    """The pagination offset: 0 .. 2**31 - 1."""
    return ma.fields.Integer(load_default=0, validate=validate.Range(min=0, max=INT_MAX))
