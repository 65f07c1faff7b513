"""The first sync's time window for the CQL content streams, and the filter that keeps records to their window.

A CQL cursor walk is sequential: one request after the other, ~50 bodies each. Reading a site in one
walk (or one walk per space, where the biggest space sets the pace) leaves the other workers idle.
Cut into `lastmodified` windows, the walks run side by side, and a sync of 20,000 pages takes the time
of one window instead of the whole site (bench/RESULTS.md).

The cut itself is ``work_windows``': it counts what the manifest's cursor hands it and cuts the busy
stretches, from where the first count says the content begins. So the cursor's first window needs no
look-up before the sync: without ``start_date`` it is one window from 1970, which the first count
spans. With ``start_date`` it is ``2 x num_workers`` windows from there, the cut a sync falls back to
when Confluence will not count. Why Python: the manifest's cursor can only take its start and step
from the config; this fills ``config["_derived"]`` with them (called by ``NormaliseConfig``). Later
syncs read from the state; their window is short and is one slice.
"""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Mapping, Optional

from airbyte_cdk.sources.declarative.extractors.record_filter import RecordFilter

from source_confluence.api.endpoints import parse_instant
from source_confluence.sync.in_flight import workers

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
# Windows from start_date: twice the workers, so that a slow window does not leave the others idle.
SLICES_PER_WORKER = 2
# Never cut finer than this: a young site would otherwise pay a request per nearly empty window.
MINIMUM_STEP = timedelta(days=1)
ONE_WINDOW_STEP = "P36500D"


def slice_plan(config: Mapping[str, Any], now: datetime) -> Mapping[str, str]:
    """The first sync's start and its window length, as the manifest's cursor wants them.

    Start: ``start_date``, or 1970. Step: from ``start_date`` to now cut into ``2 x num_workers``
    windows, at least a day each; one window from 1970 (``work_windows`` cuts it from the first edit),
    and one window with one worker.
    """
    start = parse_instant(config.get("start_date")) or EPOCH
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
