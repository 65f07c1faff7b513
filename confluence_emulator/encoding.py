"""JSON as the emulator sends it: compact, byte-for-byte `json.dumps(..., separators=(",", ":"), ensure_ascii=False)`,
with lists of records encoded once and spliced into each envelope (`EncodedList`)."""
from __future__ import annotations

import json


class EncodedList(list):
    """A `results` list of records already encoded as JSON text; `dumps` splices it into the envelope."""
    __slots__ = ()


# check_circular off: responses are trees (a dict may be shared between records, never contain itself)
_ENC_ASCII = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True, check_circular=False).encode
_ENC_UTF8 = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, check_circular=False).encode


def dumps_str(obj) -> str:
    """Compact JSON text, exactly `json.dumps(obj, separators=(",", ":"), ensure_ascii=False)`. CPython's ASCII
    encoder is faster on large bodies, so encode with it first; when it had to escape something (`\\u`), encode
    again without escaping."""
    out = _ENC_ASCII(obj)
    if "\\u" in out:
        out = _ENC_UTF8(obj)
    return out


def dumps(obj) -> bytes:
    """UTF-8 JSON. A dict whose first key is `results` holding an `EncodedList` (records already encoded, see
    `shapes.content_v1_encoded`) is spliced: the envelope is encoded with `results: []` and the records joined in."""
    if type(obj) is dict:
        res = obj.get("results")
        if type(res) is EncodedList and next(iter(obj)) == "results":
            env = dumps_str(dict(obj, results=[]))
            assert env.startswith('{"results":[]')
            return ('{"results":[' + ",".join(res) + "]" + env[len('{"results":[]'):]).encode("utf-8")
    return dumps_str(obj).encode("utf-8")
