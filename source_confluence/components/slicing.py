"""Cut a first sync of the CQL content streams into time slices that run at the same time.

A CQL cursor walk is sequential: one request after the other, ~50 bodies each. Reading a site in one
walk (or one walk per space, where the biggest space sets the pace) leaves the other workers idle.
Cut into `lastmodified` windows, the walks run side by side, and a sync of 20,000 pages takes the time
of one window instead of the whole site (bench/RESULTS.md).

Empty windows still cost one request each, so the windows must span the site's content, not
1970 to now. Hence one look-up before the sync: the oldest `lastmodified` among the content the sync
can see (one CQL request, `limit=1`). Why Python: the manifest's cursor can only take its start and
step from the config; this fills ``config["_derived"]`` with them (called by ``NormaliseConfig``).

When the look-up is impossible (OAuth 2.0: a refresh here would spend the rotating refresh token the
authenticator needs) or fails, a first sync without ``start_date`` is one window, as before: slower,
never wrong. Later syncs read from the state; their window is short and is one slice.
"""

import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Mapping, Optional

import requests
from airbyte_cdk.sources.declarative.extractors.record_filter import RecordFilter

from source_confluence.components.endpoints import parse_instant, rest_api_root_and_auth
from source_confluence.components.lookup_pool import workers

logger = logging.getLogger("airbyte")

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
LOOKUP_TIMEOUT_SECONDS = 30
# Windows per first sync: twice the workers, so that a slow window does not leave the others idle.
SLICES_PER_WORKER = 2
# Never cut finer than this: a young site would otherwise pay a request per nearly empty window.
MINIMUM_STEP = timedelta(days=1)
# Room below the oldest date seen: minute-precision CQL and a site zone the probe did not know.
OLDEST_MARGIN = timedelta(days=1)
ONE_WINDOW_STEP = "P36500D"


def oldest_content_cql(config: Mapping[str, Any]) -> str:
    statuses = '"current", "archived"' if config.get("include_archived", True) else '"current"'
    cql = f"type IN (page, blogpost, comment, attachment) AND status IN ({statuses})"
    if config.get("space_keys"):
        keys = ", ".join('"%s"' % key.replace('"', '\\"') for key in config["space_keys"])
        cql += f" AND space IN ({keys})"
    return cql + " ORDER BY lastmodified ASC"


def discover_oldest_modification(config: Mapping[str, Any]) -> Optional[datetime]:
    """The `lastmodified` of the oldest content the sync will read, or None when it cannot be known.

    Not asked with one worker: windows read one after the other gain nothing and cost requests.
    """
    if workers(config) < 2:
        return None
    target = rest_api_root_and_auth(config)
    if target is None:
        return None
    root, signing = target
    headers = {"Accept": "application/json", **dict(signing.get("headers") or {})}
    try:
        response = requests.get(
            f"{root}/content/search",
            params={"cql": oldest_content_cql(config), "limit": 1, "expand": "version"},
            auth=signing.get("auth"),
            headers=headers,
            timeout=LOOKUP_TIMEOUT_SECONDS,
        )
        results = response.json().get("results") if response.ok else None
        first = results[0] if isinstance(results, list) and results else None
        return parse_instant(((first or {}).get("version") or {}).get("when"))
    except Exception as error:  # an optimisation only: whatever went wrong, read the first sync as one window
        logger.info("Could not find the oldest content (%s); a first sync without start_date reads one window.", type(error).__name__)
        return None


def slice_plan(config: Mapping[str, Any], oldest: Optional[datetime], now: datetime) -> Mapping[str, str]:
    """The first sync's start and its window length, as the manifest's cursor wants them.

    Start: ``start_date`` when given, raised to a day before the oldest content when that is known.
    Step: the span from there to now cut into ``2 x num_workers`` windows, at least a day each; one
    window with one worker, or when nothing bounds the start (it would be 1970).
    """
    start = parse_instant(config.get("start_date")) or EPOCH
    if oldest is not None:
        start = max(start, oldest - OLDEST_MARGIN)
    if start == EPOCH or workers(config) < 2:
        return {"content_start": start.strftime("%Y-%m-%dT%H:%M:%SZ"), "content_slice_step": ONE_WINDOW_STEP}
    slices = SLICES_PER_WORKER * workers(config)
    span = max(now - start, timedelta(0))
    step = max(MINIMUM_STEP, timedelta(minutes=math.ceil(span.total_seconds() / 60 / slices)))
    return {
        "content_start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "content_slice_step": f"PT{int(step.total_seconds() // 60)}M",
    }


@dataclass
class InSliceWindow(RecordFilter):
    """Keep the records modified inside the slice's own UTC window.

    Neighbouring windows overlap in CQL (minute precision, widened by the site zone's offsets), so
    without this a record near a boundary would be emitted by both. Why Python: the same test as a
    Jinja ``condition`` cost a tenth of the connector's CPU (a template render per record).
    """

    def filter_records(
        self,
        records: Iterable[Mapping[str, Any]],
        stream_state: Any,
        stream_slice: Optional[Mapping[str, Any]] = None,
        next_page_token: Optional[Mapping[str, Any]] = None,
    ) -> Iterable[Mapping[str, Any]]:
        start = parse_instant((stream_slice or {}).get("start_time"))
        end = parse_instant((stream_slice or {}).get("end_time"))
        if start is None or end is None:
            yield from records
            return
        for record in records:
            modified = parse_instant(((record.get("version") or {}) if isinstance(record, Mapping) else {}).get("when"))
            if modified is None or start <= modified <= end:
                yield record
