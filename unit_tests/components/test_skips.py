"""What a 404 (403, 410, lasting 5xx) does depends on what was asked (components/skips.py, docs/errors.md).

Each test is one row of the table in docs/errors.md that the emulator cannot produce, or produces only
at great cost (a 5xx that outlasts eight retries)."""

import time

import freezegun
import pytest
import requests

from source_confluence.components.skips import SERVER_ERROR, ItemErrorHandler, skip_warnings
from source_confluence.sync.context import SyncContext
from unit_tests.config_builder import ConfigBuilder
from unit_tests.conftest import log_messages, read_streams, records_of
from unit_tests.request_builder import ConfluenceUrls
from unit_tests.response_builder import content, dc_space, error, group, list_page, v2_space

SITE_V1 = "https://acme.atlassian.net/wiki/rest/api"
SITE_V2 = "https://acme.atlassian.net/wiki/api/v2"
DC_V1 = ConfluenceUrls.data_center().v1_root


def warnings(output):
    return [m.log.message for m in output.logs if m.log.level.value == "WARN"]


def member(account_id):
    return {"type": "known", "accountId": account_id, "displayName": account_id}


@pytest.fixture
def no_waiting(monkeypatch):
    monkeypatch.setattr(time, "sleep", lambda seconds: None)


@freezegun.freeze_time("2024-06-15T12:00:00Z")
class TestGroupMembers:
    @pytest.mark.parametrize("status", [403, 404, 410])
    def test_a_group_that_answers_4xx_is_skipped_with_one_warning(self, http, status):
        http.get(f"{SITE_V1}/group", json=list_page([group("eng", "g1"), group("gone", "g2")]))
        http.get(f"{SITE_V1}/group/g1/membersByGroupId", json=list_page([member("u1"), member("u2")]))
        http.get(f"{SITE_V1}/group/g2/membersByGroupId", status_code=status, json=error(status, "No group found"))
        output = read_streams(ConfigBuilder().build(), "group", "group_members")
        assert not output.errors
        assert sorted(r["userId"] for r in records_of(output, "group_members")) == ["u1", "u2"]
        assert sorted(r["id"] for r in records_of(output, "group")) == ["g1", "g2"]  # the listing's record is kept
        [line] = [w for w in warnings(output) if "group_members" in w]
        assert line.startswith("Skipped 1 group of stream group_members: 1 ") and f"HTTP {status}" in line
        assert "http" not in line.lower().replace("http 4", "")  # no URL

    def test_a_group_still_failing_with_5xx_after_the_retries_is_skipped(self, http, no_waiting):
        http.get(f"{SITE_V1}/group", json=list_page([group("eng", "g1"), group("flaky", "g2")]))
        http.get(f"{SITE_V1}/group/g1/membersByGroupId", json=list_page([member("u1")]))
        broken = http.get(f"{SITE_V1}/group/g2/membersByGroupId", status_code=502, text="<html>Bad gateway</html>")
        output = read_streams(ConfigBuilder().build(), "group_members")
        assert not output.errors
        assert [r["userId"] for r in records_of(output, "group_members")] == ["u1"]
        assert broken.call_count == 9  # the first attempt and eight retries
        assert any("1 failing with a server error (HTTP 5xx) after every retry" in w for w in warnings(output))


@freezegun.freeze_time("2024-06-15T12:00:00Z")
class TestPageVersions:
    @pytest.mark.parametrize("status", [403, 404, 410])
    def test_a_page_whose_versions_answer_4xx_is_skipped(self, http, status):
        http.get(f"{SITE_V1}/content/search", json=list_page([content("1", when="2024-03-01T10:00:00.000Z"),
                                                              content("2", when="2024-03-02T10:00:00.000Z")]))
        http.get(f"{SITE_V2}/pages/1/versions", json=list_page([
            {"number": 1, "createdAt": "2024-03-01T10:00:00.000Z", "message": "", "minorEdit": False, "authorId": "u1"}]))
        http.get(f"{SITE_V2}/pages/2/versions", status_code=status, json={"errors": [{"status": status}]})
        output = read_streams(ConfigBuilder().with_start_date("2024-01-01T00:00:00Z").build(), "pages", "page_versions")
        assert not output.errors
        assert [r["pageId"] for r in records_of(output, "page_versions")] == ["1"]
        assert sorted(r["id"] for r in records_of(output, "pages")) == ["1", "2"]
        assert any(w.startswith("Skipped 1 page of stream page_versions: 1 ") for w in warnings(output))


@freezegun.freeze_time("2024-06-15T12:00:00Z")
class TestSpacePermissions:
    def test_cloud_space_deleted_since_the_listing_is_skipped(self, http):
        http.get(f"{SITE_V2}/spaces", json=list_page([v2_space("1", "ENG"), v2_space("2", "OLD")]))
        http.get(f"{SITE_V2}/spaces/1/permissions", json=list_page([
            {"id": "p1", "principal": {"type": "group", "id": "g1"}, "operation": {"key": "read", "targetType": "space"}}]))
        http.get(f"{SITE_V2}/spaces/2/permissions", status_code=404, json={"errors": [{"status": 404, "code": "NOT_FOUND"}]})
        output = read_streams(ConfigBuilder().build(), "space_permissions")
        assert not output.errors
        assert len(records_of(output, "space_permissions")) == 1
        assert any(w.startswith("Skipped 1 space of stream space_permissions") for w in warnings(output))

    def test_data_center_before_9_1_skips_the_stream_with_one_warning(self, http):
        http.get(f"{DC_V1}/space", json=list_page([dc_space(1, "ENG"), dc_space(2, "HR")], start=0, limit=500))
        for key in ("ENG", "HR"):
            http.get(f"{DC_V1}/space/{key}/permissions", status_code=404, json=error(404, "null for uri: ..."))
        output = read_streams(ConfigBuilder().data_center().build(), "space_permissions")
        assert not output.errors
        assert records_of(output, "space_permissions") == []
        [line] = warnings(output)
        assert "has no /rest/api/space/{key}/permissions" in line and "9.1" in line and "all 2 spaces" in line

    def test_data_center_500_for_a_non_admin_is_skipped_at_once(self, http):
        http.get(f"{DC_V1}/space", json=list_page([dc_space(1, "ENG")], start=0, limit=500))
        refused = http.get(f"{DC_V1}/space/ENG/permissions", status_code=500, json=error(500, "NullPointerException"))
        output = read_streams(ConfigBuilder().data_center().build(), "space_permissions")
        assert not output.errors
        assert refused.call_count == 1  # CONFSERVER-99908: not retried
        [line] = warnings(output)
        assert line.startswith("Skipped the space_permissions stream: Confluence refused every space")


@freezegun.freeze_time("2024-06-15T12:00:00Z")
class TestListingsStayConfigErrors:
    @pytest.mark.parametrize("stream, path", [("group", "group"), ("audit", "audit"), ("users", "search/user")])
    def test_404_on_a_listing_names_base_url(self, http, stream, path):
        http.get(f"{SITE_V1}/{path}", status_code=404, json=error(404, "null for uri"))
        output = read_streams(ConfigBuilder().build(), stream, expecting_exception=True)
        failures = [e.trace.error for e in output.errors if "check 'base_url'" in e.trace.error.message]
        assert failures and all(f.failure_type.value == "config_error" for f in failures)


    def test_404_on_the_content_search_names_base_url(self, http):
        http.get(f"{SITE_V1}/content/search", status_code=404, json=error(404, "null for uri"))
        output = read_streams(ConfigBuilder().with_start_date("2024-01-01T00:00:00Z").build(), "pages", expecting_exception=True)
        assert any("check 'base_url'" in e.trace.error.message for e in output.errors)
        assert not records_of(output, "pages")


def test_the_handler_skips_a_5xx_only_on_the_last_allowed_attempt():
    config: dict = {}
    handler = ItemErrorHandler(config=config, parameters={}, max_retries=2, stream_name="page_versions", item_name="page")
    request = requests.Request("GET", "https://acme.atlassian.net/wiki/api/v2/pages/1/versions").prepare()
    response = requests.Response()
    response.status_code, response.request = 503, request
    actions = [handler.interpret_response(response).response_action.name for _ in range(3)]
    assert actions == ["RETRY", "RETRY", "IGNORE"]
    assert SyncContext.of(config).skips.snapshot() == {("page_versions", SERVER_ERROR): 1}
    assert SyncContext.of(config).skips.items == {"page_versions": "page"}
    assert SyncContext.of({}).skips.snapshot() == {}, "another sync counts nothing of it"


def test_warnings_carry_counts_and_reasons_only():
    lines = skip_warnings(
        {("page_versions", "not_found"): 5, ("page_versions", "server_error"): 1}, {"page_versions": 40}, False, {"page_versions": "page"}
    )
    assert lines == [
        "Skipped 6 pages of stream page_versions: 5 not found (HTTP 404: deleted or purged after the listing named it), "
        "1 failing with a server error (HTTP 5xx) after every retry. The rest of the stream was read; the listing's own "
        "records of these items were kept."
    ]
