"""audit: v1 ``audit``; skipped with a warning without administrator rights; id is a hash of the record."""

import re

import freezegun

from unit_tests.config_builder import ConfigBuilder
from unit_tests.conftest import log_messages, read_streams, records_of, stream_requests
from unit_tests.request_builder import ConfluenceUrls, query_of
from unit_tests.response_builder import audit_record, error, group, list_page


@freezegun.freeze_time("2024-06-15T12:00:00Z")
class TestAudit:
    def test_request_asks_for_1000_since_the_start_date_in_epoch_ms(self, http):
        http.get(ConfluenceUrls.cloud_site().audit, json=list_page([audit_record()]))
        read_streams(ConfigBuilder().with_start_date("2024-01-01T00:00:00Z").build(), "audit")
        assert query_of(stream_requests(http)[0].url) == {"limit": ["1000"], "startDate": ["1704067200000"]}

    def test_creation_date_time_is_derived_from_epoch_ms(self, http):
        http.get(ConfluenceUrls.cloud_site().audit, json=list_page([audit_record(creation_date=1686026712358)]))
        record = records_of(read_streams(ConfigBuilder().build(), "audit"), "audit")[0]
        assert record["creationDateTime"].startswith("2023-06-06T04:45:12.358")

    def test_id_is_a_stable_hash_of_the_record(self, http):
        same_a = audit_record("User added to group")
        same_b = dict(reversed(list(audit_record("User added to group").items())))  # same content, other key order
        other = audit_record("User removed from group")
        http.get(ConfluenceUrls.cloud_site().audit, json=list_page([same_a, same_b, other]))

        first = [r["id"] for r in records_of(read_streams(ConfigBuilder().build(), "audit"), "audit")]
        second = [r["id"] for r in records_of(read_streams(ConfigBuilder().build(), "audit"), "audit")]

        assert all(re.fullmatch(r"[0-9a-f]{64}", i) for i in first)
        assert first[0] == first[1]
        assert first[0] != first[2]
        assert first == second

    def test_403_skips_audit_with_a_warning_and_other_streams_still_sync(self, http):
        http.get(ConfluenceUrls.cloud_site().audit, status_code=403, json=error(403, "not permitted"))
        http.get(ConfluenceUrls.cloud_site().group, json=list_page([group("administrators", "g1")]))

        output = read_streams(ConfigBuilder().build(), "audit", "group")

        assert records_of(output, "audit") == []
        assert [r["id"] for r in records_of(output, "group")] == ["g1"]
        assert not output.errors
        assert any("Skipping the audit stream" in m and "administrator rights" in m for m in log_messages(output))

    def test_401_on_audit_is_still_a_config_error(self, http):
        http.get(ConfluenceUrls.cloud_site().audit, status_code=401, json=error(401, "no"))
        output = read_streams(ConfigBuilder().build(), "audit", expecting_exception=True)
        assert any("HTTP 401" in e.trace.error.message for e in output.errors)
