"""What a 404 means depends on what was asked (docs/errors.md), against the emulator over HTTP:

* content purged between the search that lists it and the look-ups about it costs those items, with one
  warning per stream, and the next sync's content_inventory no longer lists it;
* a Data Center before 9.1 has no space permissions endpoint: that stream is skipped with one warning and
  everything else, effective read access included, is whole.
"""

from collections import Counter

import pytest

from confluence_emulator import Emulator
from integration_tests.cli import catalog_for, run_cli
from integration_tests.emulator_configs import connector_config

AUTH = {"cloud": "api_token", "data_center": "personal_access_token"}
STREAMS = ["space", "pages", "blog_posts", "comments", "attachments", "attachment_files", "page_versions",
           "content_restrictions", "content_inventory", "content_tree", "group", "group_members", "space_permissions",
           "users", "audit"]
PURGED = 6


def sync(emulator, streams, staging=None, **overrides):
    config = connector_config(emulator.info, AUTH[emulator.info["profile"]], **overrides)
    environment = {"AIRBYTE_STAGING_DIRECTORY": str(staging)} if staging else None
    result = run_cli("read", config, catalog_for(streams), timeout=900, extra_env=environment)
    assert result.returncode == 0 and not result.errors, result.describe()
    return result


def listed(truth, kind):
    """The truth's ids the content streams list: current and archived (trashed ones only in the inventory)."""
    return {i for i in truth[kind] if truth["status"].get(i, "current") in ("current", "archived")}


def no_duplicates(result, stream, key):
    counts = Counter(key(r) for r in result.records(stream))
    assert not [k for k, n in counts.items() if n > 1], stream


@pytest.mark.parametrize("profile", ["cloud", "data_center"])
def test_content_purged_during_a_sync_costs_only_those_items(profile, tmp_path):
    faults = {"purge_after_listing": {"count": PURGED}}
    with Emulator(profile=profile, seed=41, pages=40, time_zone="UTC", faults=faults) as emulator:
        before = emulator.admin.site()
        victims = set(before["listing_purges"]["waiting"])
        assert len(victims) == PURGED
        result = sync(emulator, STREAMS, staging=tmp_path)
        after = emulator.admin.site()
        assert set(after["listing_purges"]["purged"]) == victims  # every victim was listed, then purged

        # The listings' records of the purged items are kept; every record arrives once.
        pages = {r["id"] for r in result.records("pages")}
        blog_posts = {r["id"] for r in result.records("blog_posts")}
        assert pages | blog_posts >= victims
        assert pages - victims == listed(after, "page_ids") and blog_posts - victims == listed(after, "blogpost_ids")
        for stream, key in (("pages", lambda r: r["id"]), ("blog_posts", lambda r: r["id"]), ("comments", lambda r: r["id"]),
                            ("attachments", lambda r: r["id"]), ("page_versions", lambda r: (r["pageId"], r["number"])),
                            ("content_restrictions", lambda r: r["contentId"]), ("content_inventory", lambda r: r["id"]),
                            ("group_members", lambda r: (r["groupId"], r["userId"])), ("space_permissions", lambda r: r["id"])):
            no_duplicates(result, stream, key)

        # Versions of every page but the purged ones; the purged pages are counted in one warning.
        purged_pages = victims & pages
        assert purged_pages
        assert {r["pageId"] for r in result.records("page_versions")} == pages - purged_pages
        for page_id in pages - purged_pages:
            versions = [r for r in result.records("page_versions") if r["pageId"] == page_id]
            assert len(versions) == len(emulator.site.content[page_id].versions)
        warnings = result.logs("WARN")
        [line] = [w for w in warnings if "page_versions" in w]
        assert line.startswith("Skipped %d page%s of stream page_versions: %d not found (HTTP 404"
                               % (len(purged_pages), "s" if len(purged_pages) > 1 else "", len(purged_pages)))
        assert "http://" not in " ".join(warnings) and not any("Traceback" in w for w in result.logs())
        assert len(result.records("group_members")) == sum(len(g["members"]) for g in after["groups"])
        assert result.records("space_permissions")
        # The files of attachments on purged pages cannot be downloaded once their page is gone: only
        # those may be left out (a file downloaded before its page's purge is kept), with a warning.
        attachments = {r["id"]: r["containerId"] for r in result.records("attachments")}
        files = {r["id"] for r in result.records("attachment_files")}
        on_victims = {a for a, c in attachments.items() if c in victims}
        assert files - on_victims == set(attachments) - on_victims
        assert files <= set(attachments)
        if on_victims - files:
            assert any("attachment" in w.lower() for w in warnings)

        # The index forgets them once the clock moves: the next sync's inventory no longer lists them.
        emulator.admin.advance_clock(60)
        second = sync(emulator, ["space", "content_inventory"])
        inventory = {r["id"] for r in second.records("content_inventory")}
        assert not inventory & victims
        assert inventory == set(after["page_ids"]) | set(after["blogpost_ids"])


def test_data_center_before_9_1_skips_space_permissions_only(tmp_path):
    with Emulator(profile="data_center", seed=42, pages=40, time_zone="Asia/Singapore", dc_version="8.5") as emulator:
        emulator.admin.reset_requests()
        result = sync(emulator, STREAMS, staging=tmp_path)
        truth = emulator.admin.site()
        assert result.records("space_permissions") == []
        warnings = result.logs("WARN")
        assert [w for w in warnings if "space_permissions" in w] == [
            "Skipped the space_permissions stream: this Confluence Data Center has no /rest/api/space/{key}/permissions "
            "(it came with 9.1; all %d spaces answered 404). Effective read access still comes from each space's "
            "permissions expand." % len(truth["spaces"])
        ]
        assert not [w for w in warnings if "effective" in w.lower() and "unknown" in w.lower()]
        # Every other stream is whole.
        assert {r["id"] for r in result.records("pages")} == listed(truth, "page_ids")
        assert {r["id"] for r in result.records("blog_posts")} == listed(truth, "blogpost_ids")
        assert {r["id"] for r in result.records("content_inventory")} == set(truth["page_ids"]) | set(truth["blogpost_ids"])
        assert len(result.records("group_members")) == sum(len(g["members"]) for g in truth["groups"])
        assert {r["pageId"] for r in result.records("page_versions")} == listed(truth, "page_ids")
        assert len(result.records("users")) == len(truth["users"]) and result.records("audit")
        # Effective read access through the fallback (the space's permissions expand), equal to the truth.
        users = emulator.site.users
        for record in result.records("pages"):
            expected = emulator.admin.effective_access(record["id"])
            assert record["effective_read_access"] == {
                "users": sorted(users[a].user_key for a in expected["users"]), "groups": expected["groups"],
                "anonymous": expected["anonymous"], "restricted": expected["restricted"], "unknown": False,
            }, record["id"]
        # The missing endpoint is asked once per space by each reader of it, never retried.
        log = emulator.admin.requests()
        log = log["requests"] if isinstance(log, dict) else log
        asked = Counter(e["path"] for e in log if e["path"].endswith("/permissions"))
        assert asked and max(asked.values()) <= 2 and all(e["status"] == 404 for e in log if e["path"].endswith("/permissions"))
