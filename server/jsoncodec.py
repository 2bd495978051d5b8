"""How JSON columns are written and read: orjson, with the standard library for what orjson declines.

The intake journal and the idempotency record are JSON columns written on every tip (issue 4's hot path); the
standard library's encoder took about 12% of intake's time in-process, orjson a tenth of that. What orjson refuses
goes through `json` exactly as before (an integer beyond 64 bits; on reading, the NaN that `json` wrote into SQLite),
so nothing that was storable stops being storable. The stored text is compact, with the same values, except that a
NaN or infinity is now written as null (`json` wrote NaN, which is not JSON and which PostgreSQL refused).
"""

from __future__ import annotations

import json

import orjson

OPTIONS = orjson.OPT_NON_STR_KEYS  # {1: ...} becomes {"1": ...}, as json.dumps does


def dumps(value) -> str:
    try:
        return orjson.dumps(value, option=OPTIONS).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value)


def loads(text: str | bytes):
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


ENGINE_OPTIONS = {"json_serializer": dumps, "json_deserializer": loads}
