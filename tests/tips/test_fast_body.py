"""The fast body check (server.tips.fast_body) never disagrees with marshmallow's TipSubmitSchema: what it accepts,
the schema accepts, with the very same payload; what it declines goes to the schema. No database here."""

from __future__ import annotations

import json
from datetime import datetime

import marshmallow as ma
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.tips.fast_body import strictly_valid
from server.tips.schemas import TipSubmitSchema
from tests.tips.helpers import payload

SCHEMA = TipSubmitSchema()
MISSING = object()

texts = st.one_of(
    st.text(max_size=30),
    st.text(min_size=4990, max_size=5010, alphabet="ab赌场"),
    st.sampled_from(["", " ", "\n", "\ud800", "x\x00y", "🙂"]),
)
numbers = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([0, -0.0, 100_000, 100_000.0001, -1e-9, 1e308]),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, texts, st.sampled_from(["12.5", "true", "1", "yes", "on"]))
datetimes = st.one_of(
    st.datetimes().map(lambda d: d.isoformat()),
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
    st.sampled_from(
        [
            "2026-11-28T21:30:00+08:00",
            "2026-11-28T21:30:00Z",
            "2026-11-28 21:30:00+08:00",
            "2026-11-28T21:30:00.123456789+08:00",
            "20261128T213000+0800",
            "2026-11-28T24:00:00+08:00",
            "2026-11-28",
            "1700000000",
            "2026-11-28T21:30:00+25:00",
        ]
    ),
)
device_hashes = st.one_of(
    st.from_regex(r"[A-Za-z0-9+/=_-]{14,130}", fullmatch=True),
    st.sampled_from(["d3v1c3h4sh0000000000abcd\n", "d3v1c3h4sh0000000000abc!"]),
)


@st.composite
def bodies(draw):
    """Bodies as phones would send them, most of them valid, then up to three of their fields left out or
    replaced by any JSON value (a wrong type, null, a lenient form), or an unknown field added."""
    client = {
        "app_version": draw(st.one_of(st.none(), st.text(max_size=45))),
        "device_hash": draw(st.one_of(st.none(), device_hashes)),
    }
    body = {
        "category": draw(st.sampled_from(["vice.gambling", "no.such"])),
        "description": draw(texts),
        "location": {
            "lon": draw(numbers),
            "lat": draw(numbers),
            "datum": draw(st.sampled_from(["wgs84", "gcj02", "bd09", "WGS-84", "krasovsky"])),
            "accuracy_m": draw(st.one_of(st.none(), numbers)),
        },
        "occurred_at": draw(st.one_of(st.none(), datetimes)),
        "anonymous": draw(st.booleans()),
        "implicates_official": draw(st.booleans()),
        "client": draw(st.sampled_from([client, {k: v for k, v in client.items() if v is not None}, {}])),
    }
    paths = [("category",), ("description",), ("location",), ("occurred_at",), ("anonymous",), ("client",)]
    paths += [("location", f) for f in ("lon", "lat", "datum", "accuracy_m")]
    paths += [("client", f) for f in ("app_version", "device_hash")]
    for path in draw(st.lists(st.sampled_from(paths), max_size=3)):
        parent = body if len(path) == 1 else body[path[0]]
        if isinstance(parent, dict):
            parent[path[-1]] = draw(st.one_of(st.just(MISSING), scalars))
    if draw(st.integers(0, 9)) == 0:
        body[draw(st.sampled_from(["extra", "Category", "photos"]))] = draw(scalars)
    return _without_missing(body)


def _without_missing(value):
    if isinstance(value, dict):
        return {k: _without_missing(v) for k, v in value.items() if v is not MISSING}
    return value


def schema_load(raw: bytes):
    try:
        return SCHEMA.load(json.loads(raw))
    except (ma.ValidationError, ValueError):
        return None


def assert_same(fast: dict, slow: dict) -> None:
    assert fast == slow
    if slow["occurred_at"] is not None:
        assert type(fast["occurred_at"].tzinfo) is type(slow["occurred_at"].tzinfo)
        assert fast["occurred_at"].isoformat() == slow["occurred_at"].isoformat()
    assert [type(v) for v in fast["location"].values()] == [type(v) for v in slow["location"].values()]


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=bodies(), ascii_only=st.booleans())
def test_what_the_fast_check_accepts_the_schema_loads_identically(body, ascii_only):
    raw = json.dumps(body, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    fast = strictly_valid(raw)
    if fast is not None:
        slow = schema_load(raw)
        assert slow is not None, body
        assert_same(fast, slow)


@pytest.mark.parametrize(
    "change",
    [
        {},
        {"client": {}},
        {"client": {"app_version": "2.3.1"}},
        {"occurred_at": None},
        {"occurred_at": "2026-11-28T13:30:00Z"},
        {"location": {"lon": 118, "lat": 28, "datum": "gcj02"}},
        {"location": {"lon": 118.5, "lat": 28.5, "datum": "bd09", "accuracy_m": None}},
        {"anonymous": True, "implicates_official": True},
    ],
)
def test_the_bodies_phones_send_take_the_fast_check(change):
    """Not vacuous: every ordinary body passes, as the schema loads it."""
    raw = json.dumps(payload(118.87, 28.94) | change).encode()
    fast = strictly_valid(raw)
    assert fast is not None
    assert_same(fast, schema_load(raw))


@pytest.mark.parametrize(
    "change",
    [
        {"client": None},
        {"anonymous": "true"},
        {"location": {"lon": "118.87", "lat": 28.9, "datum": "wgs84"}},
        {"occurred_at": "2026-11-28T21:30:00"},
        {"description": ""},
        {"unexpected": 1},
    ],
    ids=["null client", "string bool", "string number", "naive time", "empty text", "unknown field"],
)
def test_what_it_declines_is_the_schemas_to_judge(change):
    """Lenient forms the schema may accept (a numeric string) and errors alike go to marshmallow."""
    raw = json.dumps(payload(118.87, 28.94) | change).encode()
    assert strictly_valid(raw) is None


def test_not_json_is_declined():
    assert strictly_valid(b"{not json") is None and strictly_valid(b"[]") is None
    assert isinstance(strictly_valid(json.dumps(payload(1, 2)).encode())["occurred_at"], datetime)
