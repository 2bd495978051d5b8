"""JSON columns are written with orjson (server.jsoncodec) and read back as the standard library would read them.

Whatever the standard library could store is still stored, with the same values (NaN excepted: it becomes null):
orjson's refusals (integers beyond 64 bits; NaN in text stored before) fall back to `json`. Both engines the app
uses, the request's and intake's own, write with it.
"""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text

from server import jsoncodec
from server.extensions import db
from server.idempotency import IdempotencyRecord
from server.rawsql import _hot_engine

scalars = (
    st.none()
    | st.booleans()
    | st.integers()  # unbounded: beyond 64 bits takes the fallback
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4), max_leaves=25
)


@given(json_values)
def test_what_is_written_reads_back_as_the_standard_library_reads_it(value):
    written = jsoncodec.dumps(value)
    assert json.loads(written) == value
    assert jsoncodec.loads(written) == json.loads(json.dumps(value))


def test_what_orjson_declines_goes_through_the_standard_library():
    big = {"n": 2**70, 1: "integer key"}
    assert jsoncodec.loads(jsoncodec.dumps(big)) == {"n": 2**70, "1": "integer key"}
    assert jsoncodec.dumps({"x": float("nan")}) == '{"x":null}'  # NaN is not JSON (PostgreSQL refused json's NaN)
    assert math.isnan(jsoncodec.loads('{"x": NaN}')["x"])  # ... but what SQLite was given before still reads back
    with pytest.raises(TypeError):
        jsoncodec.dumps({"not": object()})  # unstorable before, unstorable now


@pytest.mark.db
def test_json_columns_are_written_by_the_codec(db_session):
    db.session.add(
        IdempotencyRecord(caller="user:1", key="codec", request_hash="0" * 64, state="done", response={"a": [1, 2]})
    )
    db.session.flush()
    stored = db.session.execute(text("SELECT CAST(response AS TEXT) FROM idempotency_keys WHERE key = 'codec'"))
    assert stored.scalar() == '{"a":[1,2]}'  # orjson's compact form (the standard library writes '{"a": [1, 2]}')
    engine = db.engine.engine  # (in tests db.engine is the test's Connection; .engine is the Engine either way)
    assert _hot_engine(engine, "off").dialect._json_serializer is jsoncodec.dumps  # intake's own (server.rawsql)
