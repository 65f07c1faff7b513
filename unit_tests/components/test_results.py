"""ResultsExtractor: the records of a list response, and a loud stop instead of a silently empty page."""

import pytest
import requests
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_confluence.components.results import ResultsExtractor


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


def test_bodies_of_a_page_get_their_markdown_with_mentions_resolved_in_one_lookup(requests_mock):
    from unittest.mock import MagicMock

    from source_confluence.components.results import PRECOMPUTED_MARKDOWN, BodyResultsExtractor

    lookups = []

    def send_request(path, request_params):
        lookups.append((path, request_params))
        answer = requests.Response()
        answer.status_code = 200
        answer._content = b'{"results": [{"accountId": "a1", "displayName": "Ada"}, {"accountId": "b2", "displayName": "Bob"}]}'
        return answer

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
