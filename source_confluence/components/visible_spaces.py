"""The keys of the spaces this sync can read: one listing before the sync (see ``space_catch_up``).

A space that becomes visible after a sync (newly granted, created with imported content, added to
``space_keys``) has content older than the incremental cursor; the content streams compare this
list with the one their state remembers to read that content once. Why Python: the streams need
the list before they cut their slices, and the manifest's ``space`` stream runs beside them.

Cloud lists with v2 ``spaces`` (v1 ``space`` is gone behind the API gateway), Data Center with v1
``space``. Each next page is asked at the API root this config uses, with the query of the next link
(gateway responses link to the site, as real Atlassian does). None when the list cannot be known:
OAuth 2.0 without a live access token (a refresh here would spend the rotating refresh token), any
failed request, or more spaces than a state should carry. Signed by the manifest's own authenticator.
"""

import logging
from typing import Any, List, Mapping, Optional
from urllib.parse import parse_qsl, urlsplit

from source_confluence.api.endpoints import api_roots
from source_confluence.sync import connections

logger = logging.getLogger("airbyte")

LOOKUP_TIMEOUT_SECONDS = 30
# A state carries the keys it knows; beyond this many it would outgrow what a state should be.
MAX_TRACKED_SPACES = 5000


def visible_space_keys(config: Mapping[str, Any], signing: Optional[Mapping[str, str]]) -> Optional[List[str]]:
    """Sorted keys of the spaces the account sees (within ``space_keys`` when set), or None.

    ``signing``: the manifest authenticator's headers (``endpoints.signing_headers``); None asks nothing."""
    if signing is None:
        return None
    data_center = config.get("deployment") == "data_center"
    roots = api_roots(config)
    url = f"{roots['rest_api_url']}/space" if data_center else f"{roots['v2_api_url']}/spaces"
    wanted = [key for key in config.get("space_keys") or [] if isinstance(key, str)]
    params: Any = {"limit": 500 if data_center else 250}
    if wanted:
        params["spaceKey" if data_center else "keys"] = wanted if data_center else ",".join(wanted)
    headers = {"Accept": "application/json", **dict(signing)}
    keys = set()
    seen_queries = set()
    try:
        while True:
            response = connections.get(url, params=params, headers=headers, timeout=LOOKUP_TIMEOUT_SECONDS)
            if not response.ok:
                logger.info("Could not list the visible spaces (HTTP %s); spaces that became visible are caught up next time.", response.status_code)
                return None
            body = response.json()
            keys.update(str(space["key"]) for space in body.get("results") or [] if isinstance(space, Mapping) and space.get("key"))
            if len(keys) > MAX_TRACKED_SPACES:
                logger.info("More than %d spaces: spaces that become visible later are not caught up.", MAX_TRACKED_SPACES)
                return None
            next_link = (body.get("_links") or {}).get("next")
            if not next_link or not body.get("results"):
                break
            params = parse_qsl(urlsplit(next_link).query, keep_blank_values=True)
            # A next link seen before would loop for ever (a server that repeats its cursor): the list is unknown.
            query = tuple(params)
            if query in seen_queries:
                logger.info("Confluence repeated a next link while listing spaces; spaces that became visible are caught up next time.")
                return None
            seen_queries.add(query)
    except Exception as error:  # whatever went wrong, this sync catches nothing up and keeps the state's list
        logger.info("Could not list the visible spaces (%s); spaces that became visible are caught up next time.", type(error).__name__)
        return None
    if wanted:
        keys &= set(wanted)
    return sorted(keys)
