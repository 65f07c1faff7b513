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
