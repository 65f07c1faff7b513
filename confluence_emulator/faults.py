"""Fault injection and pressure: rate limits, 5xx, resets, truncation, slowness, empty pages, latency model.

Decisions are drawn from a random.Random seeded with the emulator seed, so the same request sequence sees the
same faults. Faults never apply to /__admin, and apply to the OAuth token endpoint only via `oauth_errors`.
"""
from __future__ import annotations

import random
import threading
import time

DEFAULTS = {
    "rate_limit": None,            # {"per_second": 5, "retry_after": "seconds"|"http-date", "scope": "endpoint"|"global"}
    "rate_limit_ratio": 0.0,       # probability of a 429 (Retry-After: 1)
    "unavailable_ratio": 0.0,      # 503 + Retry-After
    "error_ratio": 0.0,            # 500
    "gateway_timeout_over_limit": None,  # 504 when requested limit > N
    "reset_ratio": 0.0,            # connection closed without a response
    "truncate_ratio": 0.0,         # full headers, half the body, then the connection closes
    "malformed_ratio": 0.0,        # 200 whose JSON body is cut short, with a matching Content-Length
    "slow_ms": 0,                  # extra delay on every request
    "empty_page_with_next": False,  # once per list walk: a page with results [] that still has a next link
    "space_permissions_denied_status": 403,  # DC space permissions for non-admins: 403 (documented) or 500 (9.1+, real)
    "purge_after_listing": None,   # {"count": N | "ids": [...], "types": [...], "index_lingers_searches": M} (purges.py)
    "oauth_errors": 0.0,           # probability of a 503 from POST /oauth/token
    "latency_ms": 0,               # latency model: base per request
    "latency_per_item_ms": 0.0,    # + per returned item
    "latency_per_body_item_ms": 0.0,  # + per returned item carrying a body
}


class Faults:
    def __init__(self, seed: int, config: dict | None = None):
        self.rng = random.Random(seed * 7 + 1)
        self.lock = threading.Lock()
        self.cfg = dict(DEFAULTS)
        self.buckets = {}  # key -> [tokens, last_monotonic]
        self.empty_walks = set()
        if config:
            self.update(config)

    def update(self, config: dict, replace: bool = False):
        with self.lock:
            if replace:
                self.cfg = dict(DEFAULTS)
            for k, v in (config or {}).items():
                if k not in DEFAULTS:
                    raise ValueError("unknown fault %r (known: %s)" % (k, ", ".join(sorted(DEFAULTS))))
                self.cfg[k] = v
            self.buckets.clear()
            self.empty_walks.clear()
        return dict(self.cfg)

    def roll(self, name: str) -> bool:
        p = float(self.cfg.get(name) or 0)
        if p <= 0:
            return False
        with self.lock:
            return self.rng.random() < p

    def take_token(self, key: str):
        """Per-second burst bucket. Returns None if allowed, else (limit, remaining, reset_seconds)."""
        rl = self.cfg.get("rate_limit")
        if not rl:
            return None
        per = float(rl.get("per_second", 10))
        cap = float(rl.get("burst", per))
        if rl.get("scope") == "global":
            key = "*"
        now = time.monotonic()
        with self.lock:
            b = self.buckets.get(key)
            if b is None:
                b = self.buckets[key] = [cap, now]
            b[0] = min(cap, b[0] + (now - b[1]) * per)
            b[1] = now
            if b[0] >= 1:
                b[0] -= 1
                return ("ok", int(cap), int(b[0]))
            wait = (1 - b[0]) / per
            return ("limited", int(cap), 0, max(1, int(wait + 0.999)))

    def latency_ms(self, items: int, body_items: int) -> float:
        """latency_ms + slow_ms + items × latency_per_item_ms + items with a body × latency_per_body_item_ms."""
        c = self.cfg
        return float(c.get("latency_ms") or 0) + float(c.get("slow_ms") or 0) + items * float(c.get("latency_per_item_ms") or 0) \
            + body_items * float(c.get("latency_per_body_item_ms") or 0)

    def latency_seconds(self, items: int, body_items: int) -> float:
        return self.latency_ms(items, body_items) / 1000.0

    def empty_page_once(self, walk_key: str, is_first_page: bool) -> bool:
        if not self.cfg.get("empty_page_with_next"):
            return False
        with self.lock:
            if is_first_page:
                self.empty_walks.discard(walk_key)
                return False
            if walk_key in self.empty_walks:
                return False
            self.empty_walks.add(walk_key)
            return True
