"""NormaliseConfig: URL clean-up, plain-http refusal, sign-in/deployment match, Cloud id and CQL time window."""

import logging
import threading
from types import SimpleNamespace

import freezegun
import pytest
from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_confluence.api.endpoints import signing_headers
from source_confluence.components import config as config_module
from source_confluence.components.config import lookup_parameters, prefetch_lookups
from source_confluence.sync import connections
from unit_tests.config_builder import CLOUD_ID, GATEWAY, SITE, TOKEN_URL, ConfigBuilder
from unit_tests.conftest import (
    eventually,
    is_time_zone_lookup,
    is_visible_spaces_lookup,
    manifest_authenticator,
    mock_time_zone_lookups,
    normalise_config,
)
from unit_tests.request_builder import basic, bearer

TENANT_INFO = f"{SITE}/_edge/tenant_info"


def normalise(config):
    normalise_config().transform(config)
    return config


def _without(config, key):
    return {name: value for name, value in config.items() if name != key}


def config_error_of(config) -> AirbyteTracedException:
    with pytest.raises(AirbyteTracedException) as raised:
        normalise(config)
    assert raised.value.failure_type == FailureType.config_error
    return raised.value


class TestUrls:
    @pytest.mark.parametrize("pasted", [f"{SITE}/wiki", f"{SITE}/wiki/", f"{SITE}/", f"  {SITE}  "])
    def test_cloud_base_url_loses_trailing_wiki_and_slash(self, http, pasted):
        config = normalise(ConfigBuilder().with_base_url(pasted).build())
        assert config["base_url"] == SITE
        assert config["_derived"]["site_url"] == f"{SITE}/wiki"

    @pytest.mark.parametrize(
        "pasted, expected",
        [
            ("https://wiki.example.com/confluence/", "https://wiki.example.com/confluence"),
            ("https://intranet.example.com/wiki", "https://intranet.example.com/wiki"),
            ("https://confluence.example.com", "https://confluence.example.com"),
        ],
    )
    def test_data_center_context_path_is_kept(self, pasted, expected):
        config = normalise(ConfigBuilder().data_center(pasted).build())
        assert config["base_url"] == expected
        assert config["_derived"]["site_url"] == expected

    def test_gateway_and_token_urls_get_their_defaults(self):
        config = normalise(ConfigBuilder().data_center().build())
        assert config["api_gateway_url"] == GATEWAY
        assert config["oauth_token_url"] == TOKEN_URL

    @pytest.mark.parametrize("bad", ["acme.atlassian.net", "ftp://acme.atlassian.net", "", "https://"])
    def test_base_url_that_is_not_a_full_url_is_a_config_error(self, bad):
        error = config_error_of(ConfigBuilder().data_center(bad).build())
        assert "'base_url' must be a full URL" in error.message

    def test_base_url_with_a_query_is_a_config_error(self):
        error = config_error_of(ConfigBuilder().data_center("https://wiki.example.com/confluence?os_authType=basic").build())
        assert "must not carry a query" in error.message

    def test_missing_base_url_is_a_config_error_that_says_what_to_type(self):
        error = config_error_of(_without(ConfigBuilder().build(), "base_url"))
        assert error.message.startswith("'base_url' (Confluence URL) is missing") and "https://acme.atlassian.net" in error.message

    @pytest.mark.parametrize("base_url, expected", [(SITE, "cloud"), ("https://wiki.example.com", "data_center")])
    def test_missing_deployment_is_inferred_from_the_host(self, base_url, expected):
        builder = ConfigBuilder().with_base_url(base_url).without_deployment()
        builder = builder.with_oauth2() if expected == "cloud" else builder.with_personal_access_token()
        assert normalise(builder.build())["deployment"] == expected


class TestSpecChecks:
    """The spec's rules and defaults apply before anything is derived (wording: components/test_config_spec.py)."""

    def test_every_problem_is_in_one_config_error_and_no_secret(self):
        config = ConfigBuilder().with_api_token(token=["tok-3b1e-secret"]).with_start_date("yesterday").build()
        error = config_error_of(config)
        assert "'start_date' (Start date)" in error.message and "2024-01-01T00:00:00Z" in error.message
        assert "'credentials.api_token' (API token)" in error.message
        assert "tok-3b1e-secret" not in error.message and "tok-3b1e-secret" not in (error.internal_message or "")

    def test_left_out_fields_get_the_specs_defaults(self, http):
        config = ConfigBuilder().build()
        del config["num_workers"]
        normalise(config)
        assert config["num_workers"] == 8 and config["lookback_window_minutes"] == 15 and config["include_archived"] is True

    def test_a_null_optional_field_counts_as_left_out(self, http):
        config = {**ConfigBuilder().build(), "start_date": None, "api_gateway_url": None, "labels": None}
        normalise(config)
        assert "start_date" not in config and "labels" not in config and config["api_gateway_url"] == GATEWAY

    def test_deployment_is_inferred_before_the_spec_requires_it(self):
        config = {**ConfigBuilder().data_center().build(), "deployment": None}
        assert normalise(config)["deployment"] == "data_center"


class TestPlainHttp:
    def test_http_to_a_remote_host_is_refused_naming_the_option(self):
        error = config_error_of(ConfigBuilder().data_center("http://wiki.example.com/confluence").build())
        assert "'base_url' uses plain http" in error.message
        assert "allow_insecure_http" in error.message

    def test_http_gateway_is_refused_too(self):
        error = config_error_of(ConfigBuilder().with_oauth2().with_api_gateway_url("http://gw.example.com").build())
        assert "'api_gateway_url' uses plain http" in error.message

    @pytest.mark.parametrize("base_url", ["http://localhost:8090", "http://127.0.0.1:8090/confluence", "http://[::1]:8090"])
    def test_http_to_loopback_is_allowed(self, base_url):
        assert normalise(ConfigBuilder().data_center(base_url).build())["base_url"] == base_url

    def test_allow_insecure_http_allows_a_remote_http_host(self):
        config = normalise(ConfigBuilder().data_center("http://wiki.internal:8090").with_allow_insecure_http().build())
        assert config["base_url"] == "http://wiki.internal:8090"


class TestSignInMatchesDeployment:
    @pytest.mark.parametrize("auth", ["with_api_token", "with_scoped_api_token", "with_oauth2"])
    def test_cloud_sign_in_on_data_center_names_the_fix(self, auth):
        builder = ConfigBuilder().data_center()
        getattr(builder, auth)()
        error = config_error_of(builder.build())
        assert "is for Confluence Cloud, but 'deployment' is data_center" in error.message
        assert "personal access token or a username and password" in error.message

    @pytest.mark.parametrize("auth", ["with_personal_access_token", "with_password"])
    def test_data_center_sign_in_on_cloud_names_the_fix(self, auth):
        builder = ConfigBuilder().cloud()
        getattr(builder, auth)()
        error = config_error_of(builder.build())
        assert "is for Confluence Data Center, but 'deployment' is cloud" in error.message
        assert "API token" in error.message


class TestCloudId:
    @pytest.mark.parametrize("auth", ["with_scoped_api_token", "with_oauth2"])
    def test_missing_cloud_id_is_read_from_tenant_info_without_credentials(self, http, auth):
        tenant = http.get(TENANT_INFO, json={"cloudId": "from-tenant-info"})
        builder = ConfigBuilder()
        getattr(builder, auth)(cloud_id=None)
        config = normalise(builder.build())
        assert tenant.call_count == 1
        assert "Authorization" not in tenant.last_request.headers
        assert config["credentials"]["cloud_id"] == "from-tenant-info"

    @pytest.mark.parametrize("auth", ["with_scoped_api_token", "with_oauth2"])
    def test_given_cloud_id_is_not_looked_up(self, http, auth):
        tenant = http.get(TENANT_INFO, json={"cloudId": "other"})
        builder = ConfigBuilder()
        getattr(builder, auth)()
        assert normalise(builder.build())["credentials"]["cloud_id"] == CLOUD_ID
        assert tenant.call_count == 0

    def test_api_token_on_the_site_needs_no_cloud_id(self, http):
        tenant = http.get(TENANT_INFO, json={"cloudId": "other"})
        config = normalise(ConfigBuilder().with_api_token().build())
        assert tenant.call_count == 0
        assert "cloud_id" not in config["credentials"]

    def test_failed_lookup_warns_and_leaves_cloud_id_unset(self, http, caplog):
        http.get(TENANT_INFO, status_code=500)
        with caplog.at_level(logging.WARNING, logger="airbyte"):
            config = normalise(ConfigBuilder().with_oauth2(cloud_id=None).build())
        assert "cloud_id" not in config["credentials"]
        assert any(TENANT_INFO in r.getMessage() and "set 'cloud_id'" in r.getMessage() for r in caplog.records)


@freezegun.freeze_time("2024-06-15T12:00:00Z")
class TestCqlWindowShifts:
    """``_derived`` shifts: lower = smallest offset, upper = largest offset + 1 minute (the literal's last minute)."""

    @pytest.mark.parametrize(
        "zone, lower, upper",
        [
            ("UTC", "PT0M", "PT1M"),
            ("America/New_York", "-PT300M", "-PT239M"),
            ("Asia/Kolkata", "PT330M", "PT331M"),
            (None, "-PT720M", "PT841M"),
        ],
    )
    def test_configured_zone_gives_its_offsets(self, zone, lower, upper):
        config = normalise(ConfigBuilder().data_center().with_time_zone(zone).build())
        assert config["_derived"]["cql_lower_shift"] == lower
        assert config["_derived"]["cql_upper_shift"] == upper

    def test_unknown_zone_falls_back_to_any_zone_with_a_warning(self, caplog):
        with caplog.at_level(logging.WARNING, logger="airbyte"):
            config = normalise(ConfigBuilder().data_center().with_time_zone("Mars/Olympus_Mons").build())
        assert (config["_derived"]["cql_lower_shift"], config["_derived"]["cql_upper_shift"]) == ("-PT720M", "PT841M")
        assert any("Mars/Olympus_Mons" in r.getMessage() for r in caplog.records)

    def test_cloud_api_token_reads_profile_and_site_zones_with_its_credentials(self, requests_mock):
        mock_time_zone_lookups(requests_mock, user_zone="America/New_York", site_zone="Asia/Tokyo")
        config = normalise(ConfigBuilder().with_api_token("me@acme.test", "tok").with_time_zone("UTC").build())
        assert (config["_derived"]["cql_lower_shift"], config["_derived"]["cql_upper_shift"]) == ("-PT300M", "PT541M")
        lookups = [r for r in requests_mock.request_history if is_time_zone_lookup(r)]
        assert sorted(r.url for r in lookups) == [f"{SITE}/wiki/rest/api/settings/systemInfo", f"{SITE}/wiki/rest/api/user/current"]
        assert all(r.headers["Authorization"] == basic("me@acme.test", "tok") for r in lookups)

    def test_the_look_ups_before_a_sync_are_in_flight_together(self, monkeypatch):
        # Every sync waits for them before its first record: the two zones and the visible spaces are
        # asked at once. Each answer waits until all three requests are out (requests_mock would
        # serialise them, so the GET they are sent with is replaced).
        all_three = threading.Barrier(3, timeout=10)
        answers = {
            "/user/current": {"timeZone": "America/New_York"},
            "/settings/systemInfo": {"defaultTimeZone": "Asia/Tokyo"},
            "/api/v2/spaces": {"results": [{"key": "HR"}, {"key": "ENG"}], "_links": {}},
        }

        def get(url, **kwargs):
            all_three.wait()
            body = next(answer for path, answer in answers.items() if url.endswith(path))
            return SimpleNamespace(ok=True, status_code=200, json=lambda: body)

        monkeypatch.setattr(connections, "get", get)
        config = normalise(ConfigBuilder().with_api_token().with_workers(4).build())
        assert not all_three.broken
        assert config["_derived"]["cql_time_zones"] == ["America/New_York", "Asia/Tokyo"]
        assert config["_derived"]["visible_space_keys"] == ["ENG", "HR"]

    def test_cloud_lookups_that_fail_fall_back_to_the_configured_zone(self, http):
        config = normalise(ConfigBuilder().with_api_token().with_time_zone("America/New_York").build())
        assert (config["_derived"]["cql_lower_shift"], config["_derived"]["cql_upper_shift"]) == ("-PT300M", "-PT239M")

    def test_oauth2_does_not_look_zones_up(self, requests_mock):
        config = normalise(ConfigBuilder().with_oauth2().with_time_zone("UTC").build())
        assert requests_mock.call_count == 0
        assert config["_derived"]["cql_lower_shift"] == "PT0M"


class TestEarlyLookups:
    """The console script starts the look-ups while the CDK builds the source (``prefetch_lookups``)."""

    @pytest.fixture(autouse=True)
    def nothing_left_early(self):
        yield
        config_module._prefetched = None  # a test that started look-ups and did not transform

    @staticmethod
    def mock_lookups(mocker, user_zone, site_zone, space_keys):
        mock_time_zone_lookups(mocker, user_zone=user_zone, site_zone=site_zone)
        mocker.get(f"{SITE}/wiki/api/v2/spaces", json={"results": [{"key": key} for key in space_keys], "_links": {}})

    @staticmethod
    def lookups(mocker):
        return [r for r in mocker.request_history if is_time_zone_lookup(r) or is_visible_spaces_lookup(r)]

    def test_the_transform_takes_the_early_answers_and_nothing_is_asked_twice(self, requests_mock):
        self.mock_lookups(requests_mock, "America/New_York", "Asia/Tokyo", ["HR", "ENG"])
        raw = ConfigBuilder().with_api_token("me@acme.test", "tok").build()
        prefetch_lookups(raw)
        assert eventually(lambda: len(self.lookups(requests_mock)) == 3)
        # Answers changed after the early look-ups: the transform's are the early ones, not asked again.
        self.mock_lookups(requests_mock, "Europe/Paris", "Europe/Paris", ["OPS"])
        config = normalise(dict(raw))
        assert config["_derived"]["cql_time_zones"] == ["America/New_York", "Asia/Tokyo"]
        assert config["_derived"]["visible_space_keys"] == ["ENG", "HR"]
        assert len(self.lookups(requests_mock)) == 3
        assert all(r.headers["Authorization"] == basic("me@acme.test", "tok") for r in self.lookups(requests_mock))

    def test_a_transform_of_another_config_asks_for_itself(self, requests_mock):
        self.mock_lookups(requests_mock, "America/New_York", "Asia/Tokyo", ["HR"])
        prefetch_lookups(ConfigBuilder().with_api_token("me@acme.test", "old-token").build())
        assert eventually(lambda: len(self.lookups(requests_mock)) == 3)
        self.mock_lookups(requests_mock, "Europe/Paris", None, ["OPS"])
        config = normalise(ConfigBuilder().with_api_token("me@acme.test", "new-token").build())
        assert config["_derived"]["cql_time_zones"] == ["Europe/Paris"]
        assert config["_derived"]["visible_space_keys"] == ["OPS"]
        assert [r.headers["Authorization"] for r in self.lookups(requests_mock)][3:] == [basic("me@acme.test", "new-token")] * 3

    def test_a_config_that_needs_its_cloud_id_looked_up_is_left_to_the_transform(self, requests_mock):
        requests_mock.get(f"{SITE}/_edge/tenant_info", json={"cloudId": CLOUD_ID})
        raw = ConfigBuilder().with_scoped_api_token(cloud_id=None).build()
        prefetch_lookups(raw)
        assert config_module._prefetched.key.result(timeout=10) is None
        assert requests_mock.call_count == 0  # not even the tenant info: the transform asks it once

    def test_a_config_that_does_not_normalise_looks_nothing_up_early(self, requests_mock):
        prefetch_lookups({"base_url": "not a url", "credentials": {"auth_type": "api_token"}})
        assert config_module._prefetched.key.result(timeout=10) is None
        assert requests_mock.call_count == 0

    @pytest.mark.parametrize(
        "builder",
        [ConfigBuilder().with_api_token("me@acme.test", "tok"), ConfigBuilder().data_center().with_personal_access_token("pat")],
        ids=["api_token", "personal_access_token"],
    )
    def test_the_early_look_ups_sign_as_the_transform_does(self, builder):
        # lookup_parameters resolves only NormaliseConfig's own $parameters: they must sign as the CDK's do.
        built = builder.build()
        normalise_config().prepare(built)
        early = signing_headers(built, lookup_parameters()["lookups"]["authenticator"])
        assert early == signing_headers(built, manifest_authenticator())
        assert early["Authorization"] in (basic("me@acme.test", "tok"), bearer("pat"))
