"""Controllable emulator clock and timestamp formatting (Cloud UTC `Z`, DC local offset)."""
from __future__ import annotations

import threading
import time
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

EPOCH_BASE_MS = 1772366400000  # 2026-03-01T12:00:00Z


def start_ms_for_seed(seed: int) -> int:
    """Fixed, seed-derived clock start (within ~3 weeks after 2026-03-01, so a year of history crosses DST)."""
    return EPOCH_BASE_MS + (seed * 7919 % (21 * 86400)) * 1000


def clock_start_ms(value: str | None) -> int | None:
    """``--clock-start``: None (the seed's fixed start), ``now``, or an ISO-8601 instant (UTC if no offset)."""
    if value is None:
        return None
    if value == "now":
        return int(time.time() * 1000)
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp() * 1000)


class Clock:
    """All server timestamps come from here. Default: frozen; admin mutations tick it by one second."""

    def __init__(self, start_ms: int, real_time: bool = False, tick_on_mutation: float = 1.0):
        self._ms = int(start_ms)
        self._real = real_time
        self._anchor = time.monotonic()
        self._tick = tick_on_mutation
        self._lock = threading.Lock()
        # Real time: the last time a mutation was stamped with (none yet: just before the start); the clock
        # never reads earlier than it.
        self._last_stamp = int(start_ms) - 1

    def now_ms(self) -> int:
        with self._lock:
            return self._now_locked()

    def _wall_locked(self) -> int:
        if self._real:
            return self._ms + int((time.monotonic() - self._anchor) * 1000)
        return self._ms

    def _now_locked(self) -> int:
        return max(self._wall_locked(), self._last_stamp) if self._real else self._ms

    def advance(self, seconds: float) -> int:
        with self._lock:
            self._ms += int(seconds * 1000)
            if seconds < 0:  # set back on purpose: so are the stamps
                self._last_stamp = self._wall_locked() - 1
        return self.now_ms()

    def set(self, iso: str) -> int:
        dt = datetime.fromisoformat(iso.replace("Z", "+00:00"))
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=timezone.utc)
        with self._lock:
            self._ms = int(dt.timestamp() * 1000)
            self._anchor = time.monotonic()
            self._last_stamp = self._ms - 1
        return self.now_ms()

    def tick(self) -> int:
        """Called on every admin mutation so successive edits get distinct times.

        A frozen clock steps a second. A real-time one stamps the wall clock's time, or a millisecond
        after the previous stamp when that is later (edits faster than one a millisecond), and runs ahead
        of the wall clock only until the wall clock catches up. It used to step a millisecond for good on
        every edit: the benchmark's 1,000 edits put the site's clock a second ahead of the connector's,
        whose sync right after them ends its window at its own "now" and left the last edits to the next
        sync (921 to 990 of 990-991 pages read, from run to run)."""
        if not self._tick:
            return self.now_ms()
        if not self._real:
            return self.advance(self._tick)
        with self._lock:
            now = self._now_locked()
            self._last_stamp = now + 1 if now <= self._last_stamp else now
            return self._last_stamp

    def iso(self) -> str:
        return fmt_utc(self.now_ms())


_DAY_MS = 86400000
_UTC_DAYS: dict[int, str] = {}


def _utc_day(day: int) -> str:
    s = _UTC_DAYS.get(day)
    if s is None:
        s = _UTC_DAYS[day] = datetime.fromtimestamp(day * 86400, tz=timezone.utc).strftime("%Y-%m-%dT")
    return s


def fmt_utc(ms: int) -> str:
    """`YYYY-MM-DDTHH:MM:SS.mmmZ`; the date part is cached per day, the time of day is plain arithmetic."""
    day, rem = divmod(ms, _DAY_MS)
    sec, milli = divmod(rem, 1000)
    h, sec = divmod(sec, 3600)
    m, sec = divmod(sec, 60)
    return "%s%02d:%02d:%02d.%03dZ" % (_utc_day(day), h, m, sec, milli)


_TZ_CACHE: dict[str, ZoneInfo] = {}


def zone(name: str) -> ZoneInfo:
    z = _TZ_CACHE.get(name)
    if z is None:
        z = _TZ_CACHE[name] = ZoneInfo(name)
    return z


def _fmt_local_slow(ms: int, tz_name: str) -> str:
    dt = datetime.fromtimestamp(ms / 1000, tz=zone(tz_name))
    off = dt.strftime("%z")
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + ".%03d" % (ms % 1000) + off[:3] + ":" + off[3:]


_QUARTER_MS = 900000
_OFFSETS: dict[tuple, tuple] = {}


def fmt_local(ms: int, tz_name: str) -> str:
    """`YYYY-MM-DDTHH:MM:SS.mmm+HH:MM` in the zone. Offsets change only on quarter-hour boundaries, so the offset
    is looked up once per (zone, quarter hour) and the wall time is arithmetic; whole-second offsets fall back."""
    key = (tz_name, ms // _QUARTER_MS)
    hit = _OFFSETS.get(key)
    if hit is None:
        dt = datetime.fromtimestamp(key[1] * (_QUARTER_MS // 1000), tz=zone(tz_name))
        off = dt.utcoffset()
        secs = int(off.total_seconds()) if off is not None else 0
        if secs % 60:
            hit = None
        else:
            o = dt.strftime("%z")
            hit = (secs * 1000, o[:3] + ":" + o[3:5])
        if len(_OFFSETS) > 500000:
            _OFFSETS.clear()
        _OFFSETS[key] = hit if hit is not None else ()
    if not hit:
        return _fmt_local_slow(ms, tz_name)
    local = ms + hit[0]
    day, rem = divmod(local, _DAY_MS)
    sec, milli = divmod(rem, 1000)
    h, sec = divmod(sec, 3600)
    m, sec = divmod(sec, 60)
    return "%s%02d:%02d:%02d.%03d%s" % (_utc_day(day), h, m, sec, milli, hit[1])


_FRIENDLY: dict[int, str] = {}


def friendly(ms: int) -> str:
    day = ms // _DAY_MS
    s = _FRIENDLY.get(day)
    if s is None:
        s = _FRIENDLY[day] = datetime.fromtimestamp(day * 86400, tz=timezone.utc).strftime("%b %d, %Y")
    return s


def http_date(ms: int) -> str:
    dt = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return dt.strftime("%a, %d %b %Y %H:%M:%S GMT")
