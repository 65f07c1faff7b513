"""components/people.py: display names for mentions, each id asked once per sync."""

from unittest.mock import MagicMock

import requests

from source_confluence.components.people import UserNames


def bulk_requester(names):
    requester, asked = MagicMock(), []

    def send_request(path, request_params):
        asked.append(sorted(request_params["accountId"]))
        answer = requests.Response()
        answer.status_code = 200
        users = [{"accountId": i, "displayName": names[i]} for i in request_params["accountId"] if i in names]
        answer._content = requests.compat.json.dumps({"results": users}).encode()
        return answer

    requester.send_request.side_effect = send_request
    return requester, asked


def test_known_answers_only_when_every_id_was_looked_up_so_a_page_knows_whether_it_must_wait():
    names = UserNames()
    requester, asked = bulk_requester({"a1": "Ada"})
    assert names.known(["a1"]) is None  # never asked: the page has a request to wait for
    assert names.names_for(["a1", "ghost"], requester, data_center=False) == {"a1": "Ada"}
    assert names.known(["a1", "ghost"]) == {"a1": "Ada"}  # an id Confluence does not know is known as unknown
    assert names.known(["a1", "b2"]) is None
    assert asked == [["a1", "ghost"]]  # `known` sends nothing


class _KnownNames(dict):
    def keys(self):
        raise AssertionError("walked every name the sync knows")

    def __iter__(self):
        raise AssertionError("walked every name the sync knows")


def test_a_page_asks_about_its_own_ids_not_every_name_the_sync_knows():
    """Which ids still need a name is found by asking about those ids only: a big site's sync knows thousands."""
    names = UserNames()
    names._names = _KnownNames({"known-%d" % i: "Person %d" % i for i in range(1000)})
    requester, asked = bulk_requester({"a1": "Ada"})
    assert names.names_for(["a1", "known-7"], requester, data_center=False) == {"a1": "Ada", "known-7": "Person 7"}
    assert asked == [["a1"]]
