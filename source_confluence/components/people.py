"""Display names for the people a body mentions, so Markdown says "@Jane Doe", not an account id.

Why Python: a storage body names users by id (``ri:account-id`` on Cloud, ``ri:userkey`` or
``ri:username`` on Data Center), and the names live behind another endpoint. Names are looked up
only for ids not seen before in this sync, in bulk where Confluence allows it (Cloud
``user/bulk``, 100 ids a request; Data Center has no bulk read, so one request per person, each
person once per sync), never once per page.
"""

import logging
import threading
from typing import Dict, Iterable, List, Mapping, Optional

from airbyte_cdk.sources.declarative.requesters.requester import Requester

from source_confluence.api.response_json import json_body
from source_confluence.sync.cache import per_sync

LOGGER = logging.getLogger("airbyte")
CLOUD_BULK_SIZE = 100


class UserNames:
    """Id -> display name for one sync; ids Confluence does not know are remembered as unknown."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fetching = threading.Lock()  # one look-up at a time, so parallel pages never ask twice
        self._names: Dict[str, Optional[str]] = {}

    def _known(self, wanted: Iterable[str]) -> Dict[str, str]:
        with self._lock:
            return {user_id: name for user_id in wanted if (name := self._names.get(user_id))}

    def _missing(self, wanted: Iterable[str]) -> List[str]:
        with self._lock:
            return sorted({user_id for user_id in wanted if user_id not in self._names})

    def known(self, ids: Iterable[str]) -> Optional[Dict[str, str]]:
        """The names of ``ids`` when this sync has looked every one of them up already (unknown ones left
        out), else None: then ``names_for`` has a request to send."""
        wanted = set(ids)
        return None if self._missing(wanted) else self._known(wanted)

    def names_for(self, ids: Iterable[str], requester: Requester, data_center: bool) -> Dict[str, str]:
        wanted = set(ids)
        if self._missing(wanted):
            with self._fetching:
                missing = self._missing(wanted)  # another thread may have fetched them meanwhile
                if missing:
                    found = _fetch_data_center(missing, requester) if data_center else _fetch_cloud(missing, requester)
                    with self._lock:
                        for user_id in missing:
                            self._names[user_id] = found.get(user_id)
        return self._known(wanted)


def user_names_for(config: Mapping[str, object]) -> UserNames:
    return per_sync(config, "user_names", UserNames)


def _json_results(requester: Requester, path: str, params: Mapping[str, object]) -> List[Mapping[str, object]]:
    try:
        response = requester.send_request(path=path, request_params=dict(params))
    except Exception as error:  # a name is a nicety: never fail a page over it
        LOGGER.warning("Could not read user names (%s); mentions keep their ids.", type(error).__name__)
        return []
    if response is None or response.status_code >= 400:
        return []
    try:
        body = json_body(response)
    except ValueError:
        return []
    if isinstance(body, Mapping) and isinstance(body.get("results"), list):
        return body["results"]
    return [body] if isinstance(body, Mapping) else []


def _fetch_cloud(ids: List[str], requester: Requester) -> Dict[str, str]:
    names: Dict[str, str] = {}
    for start in range(0, len(ids), CLOUD_BULK_SIZE):
        for user in _json_results(requester, "user/bulk", {"accountId": ids[start : start + CLOUD_BULK_SIZE]}):
            account_id, name = user.get("accountId"), user.get("displayName") or user.get("publicName")
            if account_id and name:
                names[str(account_id)] = str(name)
    return names


def _fetch_data_center(ids: List[str], requester: Requester) -> Dict[str, str]:
    names: Dict[str, str] = {}
    for user_id in ids:
        # A mention carries a user key (32 hex digits) or, in old content, a username.
        param = "key" if len(user_id) == 32 and all(c in "0123456789abcdef" for c in user_id.lower()) else "username"
        for user in _json_results(requester, "user", {param: user_id}):
            name = user.get("displayName")
            if name:
                names[user_id] = str(name)
    return names


