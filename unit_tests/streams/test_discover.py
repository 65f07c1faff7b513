"""discover: the seed streams, with incremental sync on the content streams."""

import freezegun
from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.entrypoint_wrapper import discover

from unit_tests.config_builder import ConfigBuilder
from unit_tests.conftest import get_source, stream_requests


@freezegun.freeze_time("2024-06-15T12:00:00Z")
def test_discover_lists_the_streams_without_reading_confluence(http):
    config = ConfigBuilder().build()
    output = discover(get_source(config), config)
    streams = {s.name: s for s in output.catalog.catalog.streams}
    assert {"audit", "blog_posts", "group", "pages", "space"} <= set(streams)
    assert SyncMode.incremental in streams["pages"].supported_sync_modes
    assert streams["pages"].default_cursor_field == ["lastModifiedAt"]
    assert streams["blog_posts"].default_cursor_field == ["lastModifiedAt"]
    assert streams["space"].supported_sync_modes == [SyncMode.full_refresh]
    assert all(streams[name].source_defined_primary_key == [["id"]] for name in ("audit", "blog_posts", "group", "pages", "space"))
    assert streams["content_restrictions"].source_defined_primary_key == [["contentId"]]
    assert stream_requests(http) == []
