"""ConfluenceBackoffStrategy and ConfluenceRecoveryHandler: Retry-After both ways, jitter, caps, 504 shrink, OAuth 401."""

import random
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest
import requests
from airbyte_cdk.sources.streams.http.error_handlers.response_models import ResponseAction
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_confluence.components.backoff import (
    ConfluenceBackoffStrategy,
    ConfluenceErrorHandler,
    ConfluenceRecoveryHandler,
    parse_retry_after,
)


def response(status=429, headers=None, url="https://acme.atlassian.net/wiki/rest/api/content/search?cql=x&limit=250", body=b"{}"):
    r = requests.Response()
    r.status_code = status
    r.headers.update(headers or {})
    r._content = body
    r.request = requests.Request("GET", url).prepare()
    return r


def strategy(**kw):
    return ConfluenceBackoffStrategy(config={}, parameters={}, rng=random.Random(1), **kw)


def test_retry_after_in_seconds_and_as_an_http_date():
    now = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc)
    assert parse_retry_after("7", now) == 7
    assert parse_retry_after(format_datetime(now + timedelta(seconds=42), usegmt=True), now) == pytest.approx(42)
    assert parse_retry_after(format_datetime(now - timedelta(seconds=42), usegmt=True), now) == 0
    assert parse_retry_after("soon", now) is None and parse_retry_after(None, now) is None


def test_retry_after_is_honoured_never_shortened_and_jittered():
    waits = [strategy(jitter=0.3).backoff_time(response(headers={"Retry-After": "10"}), 1) for _ in range(3)]
    s = strategy(jitter=0.3)
    waits = [s.backoff_time(response(headers={"Retry-After": "10"}), 1) for _ in range(50)]
    assert all(10 <= w <= 13 for w in waits) and len(set(waits)) > 1
    date = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=20), usegmt=True)
    assert 18 <= s.backoff_time(response(headers={"Retry-After": date}), 1) <= 26.5


def test_a_retry_after_above_the_cap_stops_with_a_clear_transient_error():
    with pytest.raises(AirbyteTracedException) as error:
        strategy(max_retry_after_seconds=600).backoff_time(response(headers={"Retry-After": "1847"}), 1)
    assert "1847 seconds" in error.value.message and error.value.failure_type.value == "transient_error"


def test_without_retry_after_backoff_is_exponential_with_jitter_and_a_ceiling():
    s = strategy(base_seconds=5, max_backoff_seconds=60, jitter=0.3)
    assert 3.5 <= s.backoff_time(response(500), 1) <= 6.5
    assert 7 <= s.backoff_time(response(500), 2) <= 13
    assert 42 <= s.backoff_time(requests.ConnectionError("reset"), 9) <= 78


def handler(auth_type="api_token"):
    return ConfluenceRecoveryHandler(config={"credentials": {"auth_type": auth_type}}, parameters={})


def test_504_halves_the_limit_of_the_request_that_is_re_sent_down_to_the_minimum():
    r = response(504)
    resolution = handler().interpret_response(r)
    assert resolution.response_action == ResponseAction.RETRY
    assert "limit=125" in r.request.url and "cql=x" in r.request.url
    assert strategy().backoff_time(r, 1) == 0.5  # the smaller page is the fix: no long wait
    small = response(504, url="https://x/wiki/rest/api/group?limit=10")
    assert handler().interpret_response(small) is None


def test_401_refreshes_an_oauth_token_but_not_other_credentials():
    assert handler("oauth2").interpret_response(response(401)).response_action == ResponseAction.REFRESH_TOKEN_THEN_RETRY
    assert handler("api_token").interpret_response(response(401)) is None


def test_a_2xx_with_a_broken_json_body_is_retried():
    broken = response(200, headers={"Content-Type": "application/json"}, body=b'{"results": [{"id"')
    assert handler().interpret_response(broken).response_action == ResponseAction.RETRY
    assert handler().interpret_response(response(200, headers={"Content-Type": "application/json"})) is None


def test_a_downloaded_file_that_is_broken_json_is_the_file_not_a_body_cut_short():
    # attachment_download_requester: the shared error handler with retry_unparseable_json: false
    broken = response(200, headers={"Content-Type": "application/json"}, body=b'{"a .json attachment"')
    recovery = ConfluenceRecoveryHandler(config={}, parameters={}, retry_unparseable_json=False)
    assert recovery.interpret_response(broken) is None
    downloads = ConfluenceErrorHandler(config={}, parameters={}, retry_unparseable_json=False)
    assert downloads.interpret_response(broken).response_action == ResponseAction.SUCCESS
    assert ConfluenceErrorHandler(config={}, parameters={}).interpret_response(broken).response_action == ResponseAction.RETRY


def tls_failure(cause):
    """A requests SSLError wrapped as requests wraps urllib3's (MaxRetryError -> SSLError -> the ssl module's)."""
    import urllib3

    url = "https://wiki.example.com/rest/api/space?limit=200"
    wrapped = urllib3.exceptions.MaxRetryError(None, url, reason=urllib3.exceptions.SSLError(cause))
    return requests.exceptions.SSLError(wrapped, request=requests.Request("GET", url).prepare())


def test_a_certificate_this_machine_does_not_trust_is_a_config_error_at_once_naming_the_host():
    import ssl

    refused = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")
    refused.verify_message = "self-signed certificate in certificate chain"
    resolution = ConfluenceErrorHandler(config={}, parameters={}).interpret_response(tls_failure(refused))
    assert resolution.response_action == ResponseAction.FAIL
    assert resolution.failure_type.value == "config_error"
    assert "wiki.example.com is not trusted on this machine (self-signed certificate in certificate chain)" in resolution.error_message
    assert "REQUESTS_CA_BUNDLE" in resolution.error_message


def test_a_tls_connection_cut_mid_handshake_is_still_retried():
    import ssl

    cut = ssl.SSLEOFError(8, "EOF occurred in violation of protocol")
    assert ConfluenceRecoveryHandler(config={}, parameters={}).interpret_response(tls_failure(cut)) is None
    assert ConfluenceErrorHandler(config={}, parameters={}).interpret_response(tls_failure(cut)).response_action == ResponseAction.RETRY
