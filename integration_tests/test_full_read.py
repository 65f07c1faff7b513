"""A full read of every seed stream, for every profile and sign-in method, returns everything exactly once."""

import pytest

from integration_tests.emulator_configs import PROFILE_AUTH_TYPES, connector_config
from integration_tests.reading import duplicate_ids, read_streams, records_by_stream

SEED_STREAMS = ("space", "pages", "blog_posts", "group", "audit")
LISTED_STATUSES = ("current", "archived")  # what the connector reads by default


def visible_content_ids(site_summary, kind: str) -> set:
    statuses = site_summary["status"]
    return {content_id for content_id in site_summary[f"{kind}_ids"] if statuses.get(content_id, "current") in LISTED_STATUSES}


@pytest.fixture(scope="module")
def full_read(emulators):
    """One full read of the seed streams per profile and sign-in method, shared by the tests that check its output."""
    outputs = {}

    def read(profile: str, auth_type: str):
        if (profile, auth_type) not in outputs:
            outputs[profile, auth_type] = read_streams(connector_config(emulators[profile].info, auth_type), SEED_STREAMS)
        return outputs[profile, auth_type]

    return read


@pytest.mark.parametrize("profile, auth_type", PROFILE_AUTH_TYPES)
def test_full_read_returns_every_object_exactly_once_with_bodies(emulators, full_read, profile, auth_type):
    emulator = emulators[profile]
    output = full_read(profile, auth_type)
    assert not output.errors, [error.trace.error.message for error in output.errors]
    records = records_by_stream(output)
    truth = emulator.admin.site()

    for stream in SEED_STREAMS:
        assert duplicate_ids(records[stream]) == [], f"{stream} has duplicates"
    assert {r["id"] for r in records["pages"]} == visible_content_ids(truth, "page")
    assert {r["id"] for r in records["blog_posts"]} == visible_content_ids(truth, "blogpost")
    assert {r["key"] for r in records["space"]} == {space["key"] for space in truth["spaces"]}
    assert len(records["group"]) == truth["counts"]["groups"]
    assert len(records["audit"]) == truth["counts"]["audit"]

    for record in records["pages"] + records["blog_posts"]:
        assert record["body"]["storage"]["value"].strip(), record["id"]
        assert record["bodyMarkdown"].strip(), record["id"]
        assert "<ac:" not in record["bodyMarkdown"]
        assert record["spaceKey"] and record["webUrl"].startswith(("http://", "https://"))
        assert record["lastModifiedAt"].endswith("Z") and record["createdAt"].endswith("Z")
        assert record["version"]["number"] >= 1 and record["authorId"]


@pytest.mark.parametrize("profile, auth_type", [("cloud", "api_token"), ("data_center", "personal_access_token")])
def test_pages_carry_ancestors_and_labels_as_the_site_has_them(emulators, full_read, profile, auth_type):
    emulator = emulators[profile]
    output = full_read(profile, auth_type)  # the pages of the full read above; nothing in this module changes the sites
    assert not output.errors, [error.trace.error.message for error in output.errors]
    records = records_by_stream(output)["pages"]
    by_id = {record["id"]: record for record in records}
    site = emulator.site
    checked_children = checked_labels = 0
    for record in records:
        content = site.content[record["id"]]
        assert record.get("parentId") == (str(content.parent_id) if content.parent_id else None)
        if record.get("ancestors"):
            assert record["ancestors"][-1]["id"] == record["parentId"]
            assert all(ancestor["id"] in by_id or ancestor["id"] in site.content for ancestor in record["ancestors"])
            checked_children += 1
        assert sorted(label["name"] for label in record.get("labels", [])) == sorted(content.labels)
        checked_labels += bool(content.labels)
    assert checked_children > 5 and checked_labels > 0


def test_space_keys_limit_every_content_stream(cloud_emulator):
    keys = sorted(space["key"] for space in cloud_emulator.admin.site()["spaces"])[:2]
    output = read_streams(connector_config(cloud_emulator.info, "api_token", space_keys=keys), ["space", "pages", "blog_posts"])
    records = records_by_stream(output)
    assert sorted(r["key"] for r in records["space"]) == keys
    assert records["pages"] and {r["spaceKey"] for r in records["pages"]} <= set(keys)
    assert {r["spaceKey"] for r in records["blog_posts"]} <= set(keys)


def test_audit_is_skipped_with_a_warning_for_a_non_admin(cloud_emulator):
    output = read_streams(connector_config(cloud_emulator.info, "api_token", reader=True), ["audit", "space"])
    records = records_by_stream(output)
    assert records["audit"] == [] and records["space"], "the sync goes on without audit"
    assert not output.errors
    assert any("administrator" in log.log.message for log in output.logs)
