"""Opaque cursors (keyset over a sort key) and link builders for v1 and v2 envelopes."""
from __future__ import annotations

import base64
import bisect
import json
from urllib.parse import urlencode

from .errors import ApiError


def encode_cursor(obj) -> str:
    raw = json.dumps(obj, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(s: str):
    try:
        pad = "=" * (-len(s) % 4)
        return json.loads(base64.urlsafe_b64decode(s + pad))
    except Exception:
        raise ApiError(400, "Invalid cursor: %s" % s[:80], code="INVALID_REQUEST_PARAMETER")


def keyset_page(items: list, keyfn, cursor_obj, limit: int):
    """items must be sorted by keyfn (keys are lists ending with a unique int). Returns (page, next_key|None)."""
    start = 0
    if cursor_obj is not None:
        last = cursor_obj
        keys = [keyfn(x) for x in items]
        start = bisect.bisect_right(keys, last)
    page = items[start:start + limit]
    nxt = keyfn(page[-1]) if page and start + limit < len(items) else None
    return page, nxt


def query_items(args) -> list[tuple[str, str]]:
    """Original query params in order (multi-valued preserved)."""
    return list(args.items(multi=True))


def build_qs(pairs) -> str:
    return urlencode(pairs, safe=",~")
