"""ResultsExtractor: the records of a list response, and a loud stop instead of a silently empty page."""

import time

import pytest
import requests
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_confluence.components.results import ResultsExtractor
from unit_tests.conftest import eventually


def response(content: bytes) -> requests.Response:
    resp = requests.Response()
    resp._content = content
    resp.status_code = 200
    resp.request = requests.Request("GET", "https://acme.atlassian.net/wiki/rest/api/group").prepare()
    return resp


def extract(content: bytes):
    return list(ResultsExtractor(config={}, parameters={}).extract_records(response(content)))


def test_results_of_an_envelope():
    assert extract(b'{"results": [{"id": "1"}, {"id": "2"}], "_links": {}}') == [{"id": "1"}, {"id": "2"}]


def test_a_bare_list_is_the_records_themselves():
    assert extract(b'[{"spaceKey": "ENG"}]') == [{"spaceKey": "ENG"}]


def test_an_envelope_without_results_or_an_empty_body_has_no_records():
    assert extract(b'{"_links": {}}') == [] and extract(b"") == []


def test_a_body_that_is_not_json_stops_the_stream_instead_of_reading_as_empty():
    with pytest.raises(AirbyteTracedException) as raised:
        extract(b'{"results": [{"id": "1"}, {"id"')
    assert "not valid JSON" in raised.value.message


DC_SEARCH = "https://wiki.example.com/confluence/rest/api/content/search"


def search_page(ids, start: int) -> requests.Response:
    import json

    resp = requests.Response()
    resp.status_code = 200
    results = [{"id": str(i), "version": {"when": f"2024-03-11T10:0{i}:00.000Z"}} for i in ids]
    resp._content = json.dumps({"results": results, "start": start}).encode()
    resp.request = requests.Request("GET", f"{DC_SEARCH}?cql=x&start={start}&limit=3").prepare()
    return resp


def test_a_data_center_search_page_whose_results_moved_up_is_completed_by_reading_the_page_before_again():
    import json
    from unittest.mock import MagicMock

    from source_confluence.components.offset_walks import offset_walks_of

    requester = MagicMock()
    requester.send_request.return_value = search_page([1, 3, 4], start=0)
    config = {}
    extractor = ResultsExtractor(config=config, parameters={}, listing_requester=requester)
    first_page = json.loads(search_page([0, 1, 2], start=0).content)["results"]
    offset_walks_of(config).overlap_next("content/search", [("cql", "x"), ("start", "3"), ("limit", "3")], first_page)
    # Results 0 and 2 were edited since: 3 moved up in front of where the page starts.
    records = list(extractor.extract_records(search_page([4, 5, 6], start=2)))
    assert [r["id"] for r in records] == ["3", "4", "5", "6"]
    assert requester.send_request.call_args.kwargs["path"] == "content/search?cql=x&start=0&limit=3"


def test_a_stream_that_cannot_read_a_page_again_stops_instead_of_skipping():
    from source_confluence.components.offset_walks import offset_walks_of

    config = {}
    offset_walks_of(config).overlap_next("content/search", [("cql", "y"), ("start", "3"), ("limit", "3")], [{"id": "0"}, {"id": "1"}, {"id": "2"}])
    page = search_page([4, 5, 6], start=2)
    page.request = requests.Request("GET", f"{DC_SEARCH}?cql=y&start=2&limit=3").prepare()
    with pytest.raises(AirbyteTracedException) as raised:
        list(ResultsExtractor(config=config, parameters={}).extract_records(page))
    assert "cannot read a page again" in raised.value.message


def test_bodies_of_a_page_get_their_markdown_with_mentions_resolved_in_one_lookup(requests_mock):
    from unittest.mock import MagicMock

    from source_confluence.components.results import PRECOMPUTED_MARKDOWN, BodyResultsExtractor

    lookups = []

    def send_request(path, request_params):
        lookups.append((path, request_params))
        return response(b'{"results": [{"accountId": "a1", "displayName": "Ada"}, {"accountId": "b2", "displayName": "Bob"}]}')

    requester = MagicMock()
    requester.send_request.side_effect = send_request
    body = (
        b'{"results": ['
        b'{"id": "1", "body": {"storage": {"value": "<p><ac:link><ri:user ri:account-id=\\"a1\\" /></ac:link></p>"}}},'
        b'{"id": "2", "body": {"storage": {"value": "<p><ac:link><ri:user ri:account-id=\\"b2\\" /></ac:link></p>"}}},'
        b'{"id": "3"}]}'
    )
    extractor = BodyResultsExtractor(config={"base_url": "https://acme.atlassian.net"}, parameters={}, requester=requester)
    records = list(extractor.extract_records(response(body)))
    assert [r.get(PRECOMPUTED_MARKDOWN) for r in records] == ["@Ada", "@Bob", None]
    assert len(lookups) == 1 and lookups[0][0] == "user/bulk"
    assert sorted(lookups[0][1]["accountId"]) == ["a1", "b2"]


@pytest.fixture(scope="module")
def cloud_site():
    from confluence_emulator import Emulator

    with Emulator(profile="cloud", seed=21, pages=120, time_zone="UTC") as emulator:
        yield emulator


def test_a_page_asks_what_its_access_needs_while_the_names_it_mentions_are_looked_up(cloud_site):
    """One round trip after the other made an incremental sync's first pages wait twice: the names before the
    access look-ups. The names' request here answers only once an access look-up has gone out (or after 5 s)."""
    import json
    import threading
    from unittest.mock import MagicMock

    from source_confluence.components.results import PRECOMPUTED_MARKDOWN, BodyResultsExtractor
    from unit_tests.access.emulated import build_transformation, emulator_config, raw_contents

    config = emulator_config(cloud_site)
    lookup = build_transformation(config)._lookup  # the sync's access look-ups, as the manifest declares them
    access_asked = threading.Event()

    def noting(send):
        def send_request(**kwargs):
            access_asked.set()
            return send(**kwargs)
        return send_request

    for requester in {id(r): r for r in (lookup.requester, lookup.v2_requester, lookup.space_permissions_requester) if r}.values():
        requester.send_request = noting(requester.send_request)
    names_waited_for_access = []

    def names(path, request_params):
        names_waited_for_access.append(access_asked.wait(timeout=5))
        return response(b'{"results": [{"accountId": "a1", "displayName": "Ada"}]}')

    names_requester = MagicMock()
    names_requester.send_request.side_effect = names
    mention = '<p><ac:link><ri:user ri:account-id="a1" /></ac:link></p>'
    children = [dict(raw, body={"storage": {"value": mention}}) for raw in raw_contents(cloud_site, config)
                if raw["type"] == "page" and raw["ancestors"]][:10]
    extractor = BodyResultsExtractor(config=config, parameters={}, requester=names_requester)
    records = list(extractor.extract_records(response(json.dumps({"results": children}).encode())))
    assert names_waited_for_access == [True]
    assert [r[PRECOMPUTED_MARKDOWN] for r in records] == ["@Ada"] * len(children)


def test_the_probe_for_folders_goes_out_when_the_read_begins_not_when_the_streams_are_built():
    """The first page of pages would wait for it before its access look-ups; `check` and `discover` build the
    streams and read nothing, so they must not send it."""
    import time
    from unittest.mock import MagicMock

    from source_confluence.access.ancestors import TREE_PROBE_CQL
    from source_confluence.components.results import BodyResultsExtractor
    from source_confluence.sync.context import SyncContext

    def built(deployment):
        config, requester = {"base_url": "https://acme.atlassian.net", "deployment": deployment}, MagicMock()
        requester.send_request.return_value = response(b'{"results": []}')
        BodyResultsExtractor(config=config, parameters={"content_types": "page"}, requester=requester, v2_requester=MagicMock())
        return config, requester

    config, requester = built("cloud")
    assert not requester.send_request.called
    SyncContext.of(config).read_started()
    eventually(lambda: requester.send_request.called)
    call = requester.send_request.call_args
    assert call is not None and call.kwargs["request_params"]["cql"] == TREE_PROBE_CQL
    SyncContext.of(config).close()

    config, requester = built("data_center")  # no folders there: nothing to probe
    SyncContext.of(config).read_started()
    time.sleep(0.2)
    assert not requester.send_request.called
    SyncContext.of(config).close()


def test_only_a_stream_that_lists_pages_probes_the_site_for_folders(http):
    """Blog posts and comments have no place in the tree that a folder could take: a sync of them alone
    sends no probe (it did, one request, when every body stream registered it)."""
    from unit_tests.config_builder import ConfigBuilder
    from unit_tests.conftest import read_streams
    from unit_tests.request_builder import ConfluenceUrls, is_content_tree_probe
    from unit_tests.response_builder import list_page

    search = ConfluenceUrls.cloud_site().content_search
    http.get(search, json=list_page([]), additional_matcher=lambda r: not is_content_tree_probe(r))
    http.get(search, json=list_page([]), additional_matcher=is_content_tree_probe)

    def probes_sent_reading(stream, expected):
        before = len(http.request_history)
        output = read_streams(ConfigBuilder().build(), stream)
        assert not output.errors
        def probes():
            return sum(1 for r in http.request_history[before:] if is_content_tree_probe(r))

        # The probe goes out in the background as the read begins: give it time to, when it should.
        eventually(lambda: probes() >= max(expected, 1), 5 if expected else 0.2)
        return probes()

    assert probes_sent_reading("blog_posts", 0) == 0
    assert probes_sent_reading("comments", 0) == 0
    assert probes_sent_reading("pages", 1) == 1


def test_a_page_of_results_counts_as_in_hand_while_its_records_are_made_not_while_they_are_read(requests_mock):
    from source_confluence.components.results import BodyResultsExtractor
    from source_confluence.sync.in_flight import in_flight_budget

    config = {"base_url": "https://acme.atlassian.net"}
    budget = in_flight_budget(config)
    extractor = BodyResultsExtractor(config=config, parameters={})
    in_hand_while_made = []
    make = extractor._enriched_records

    def noting(page):
        in_hand_while_made.append(budget.pages_in_hand)
        return make(page)

    extractor._enriched_records = noting
    records = extractor.extract_records(response(b'{"results": [{"id": "1"}, {"id": "2"}]}'))
    assert next(records)["id"] == "1"
    assert in_hand_while_made == [1] and budget.pages_in_hand == 0  # its consumer holds the rest, not the page
    assert [r["id"] for r in records] == ["2"]
