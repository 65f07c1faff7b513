"""normalise_content / normalise_space: one record shape from Cloud v1, Cloud v2 and Data Center answers."""

import copy

from source_confluence.components.records import NormaliseContent, NormaliseSpace, normalise_content, normalise_space
from unit_tests.conftest import load_sample
from unit_tests.response_builder import dc_space, v2_space

CLOUD_SITE = "https://airbyteio.atlassian.net/wiki"
DC_SITE = "https://kb.example.com/confluence"


def dc_content():
    """The real DC content/search result (epam) with the DC user and ``+08:00`` timestamps of a real DC answer."""
    raw = copy.deepcopy(load_sample("dc-v1-content-search-body-storage.epam.json")["body"]["results"][0])
    dc_user = copy.deepcopy(load_sample("dc-v1-attachment-upload-response.json")["body"]["results"][0]["version"]["by"])
    raw["history"] = {"createdBy": dc_user, "createdDate": "2024-03-11T19:24:06.964+08:00"}
    raw["version"] = {"by": dc_user, "when": "2024-03-12T08:00:00.000+08:00", "number": 4, "minorEdit": True}
    raw["space"] = {"id": 98305, "key": "EPMCDME"}
    raw["ancestors"] = [{"id": 1, "type": "page", "title": "Root"}, {"id": 2, "type": "page", "title": "QA"}]
    raw["metadata"] = {"labels": {"results": [{"id": 77, "name": "aqa", "prefix": "global"}]}}
    return raw


class TestNormaliseContent:
    def test_cloud_page_sample(self):
        raw = load_sample("cloud-v1-content-page-expanded.airbyte.json")["record"]
        record = normalise_content(raw, CLOUD_SITE)
        assert record["id"] == "98487"
        assert record["type"] == "page"
        assert record["status"] == "current"
        assert record["title"] == "Overview"
        assert record["authorId"] == "5fc9e78d2730d800760becc4"
        assert record["createdAt"] == "2023-02-17T09:08:30.734Z"
        assert record["lastModifiedAt"] == "2023-02-17T09:08:30.734Z"
        assert record["version"] == {
            "number": 1,
            "message": "",
            "minorEdit": False,
            "createdAt": "2023-02-17T09:08:30.734Z",
            "authorId": "5fc9e78d2730d800760becc4",
        }
        assert record["webUrl"] == "https://airbyteio.atlassian.net/wiki/spaces/~5fc9e78d2730d800760becc4/overview"
        assert record["_links"] == {
            "webui": "/spaces/~5fc9e78d2730d800760becc4/overview",
            "tinyui": "/x/t4AB",
            "editui": "/pages/resumedraft.action?draftId=98487",
        }
        assert record["body"]["storage"]["representation"] == "storage"
        assert record["body"]["storage"]["value"] == raw["body"]["storage"]["value"]
        assert isinstance(record["bodyMarkdown"], str) and "Say hello to your colleagues" in record["bodyMarkdown"]
        # the sample was read without space, ancestors or labels expanded
        assert (record["spaceId"], record["spaceKey"], record["parentId"]) == (None, None, None)
        assert record["ancestors"] == [] and record["labels"] == []

    def test_data_center_user_key_and_local_offsets_become_utc(self):
        record = normalise_content(dc_content(), DC_SITE)
        assert record["authorId"] == "939086d6715493da0174ae81a03d0044"
        assert record["version"]["authorId"] == "939086d6715493da0174ae81a03d0044"
        assert record["createdAt"] == "2024-03-11T11:24:06.964Z"
        assert record["lastModifiedAt"] == "2024-03-12T00:00:00.000Z"
        assert record["version"]["minorEdit"] is True
        assert (record["spaceId"], record["spaceKey"]) == ("98305", "EPMCDME")
        assert record["webUrl"] == "https://kb.example.com/confluence/display/EPMCDME/AQA+Backlog+Estimation"
        assert record["_links"] == {"webui": "/display/EPMCDME/AQA+Backlog+Estimation", "tinyui": "/x/IlyHjw"}

    def test_user_without_user_key_falls_back_to_username(self):
        raw = dc_content()
        raw["history"]["createdBy"] = {"username": "jdoe"}
        assert normalise_content(raw, DC_SITE)["authorId"] == "jdoe"

    def test_parent_is_the_last_ancestor_and_ids_are_strings(self):
        record = normalise_content(dc_content(), DC_SITE)
        assert record["parentId"] == "2"
        assert record["parentType"] == "page"
        assert record["ancestors"] == [
            {"id": "1", "type": "page", "title": "Root"},
            {"id": "2", "type": "page", "title": "QA"},
        ]

    def test_labels_keep_id_name_prefix(self):
        assert normalise_content(dc_content(), DC_SITE)["labels"] == [{"id": "77", "name": "aqa", "prefix": "global"}]

    def test_absolute_webui_link_is_kept(self):
        raw = {"id": 1, "_links": {"webui": "https://elsewhere.example.com/x"}}
        assert normalise_content(raw, DC_SITE)["webUrl"] == "https://elsewhere.example.com/x"

    def test_missing_optional_blocks_are_tolerated(self):
        record = normalise_content({"id": 42}, CLOUD_SITE)
        assert record["id"] == "42"
        assert record["body"] is None and record["bodyMarkdown"] is None
        assert record["lastModifiedAt"] is None and record["createdAt"] is None
        assert record["ancestors"] == [] and record["labels"] == [] and record["parentId"] is None
        assert record["webUrl"] is None
        assert record["version"] == {"number": None, "message": "", "minorEdit": False, "createdAt": None, "authorId": None}

    def test_timestamp_without_zone_is_read_as_utc_and_garbage_as_none(self):
        raw = {"id": 1, "version": {"when": "2024-03-11T19:24:06"}, "history": {"createdDate": "yesterday"}}
        record = normalise_content(raw, CLOUD_SITE)
        assert record["lastModifiedAt"] == "2024-03-11T19:24:06.000Z"
        assert record["createdAt"] is None

    def test_transformation_replaces_the_record_in_place_using_the_derived_site_url(self):
        config = {"base_url": "https://acme.atlassian.net", "_derived": {"site_url": "https://acme.atlassian.net/wiki"}}
        record = {"id": 9, "title": "T", "_links": {"webui": "/spaces/ENG/pages/9"}, "_expandable": {"x": ""}}
        NormaliseContent(config=config, parameters={}).transform(record)
        assert record["webUrl"] == "https://acme.atlassian.net/wiki/spaces/ENG/pages/9"
        assert "_expandable" not in record
        assert record["id"] == "9"


class TestNormaliseSpace:
    def test_cloud_v2_sample(self):
        raw = load_sample("cloud-v2-spaces-list.synth.json")["body"]["results"][0]
        record = normalise_space(raw, "https://example.atlassian.net/wiki")
        assert record == {
            "id": "39223300",
            "key": "OPS",
            "name": "Operations",
            "type": "global",
            "status": "current",
            "description": "Runbooks and on-call",
            "homepageId": "39223464",
            "authorId": "5fc9e78d2730d800760becc4",
            "createdAt": "2025-11-20T09:59:58.000Z",
            "webUrl": "https://example.atlassian.net/wiki/spaces/OPS",
            "_links": {"webui": "/spaces/OPS"},
        }

    def test_data_center_space_with_expanded_homepage_and_history(self):
        record = normalise_space(dc_space(98305, "ENG"), "https://wiki.example.com/confluence")
        assert record["id"] == "98305"
        assert record["homepageId"] == "65540"
        assert record["authorId"] == "8a7f808a"
        assert record["createdAt"] == "2024-03-11T11:24:06.964Z"
        assert record["description"] == "Engineering space"
        assert record["webUrl"] == "https://wiki.example.com/confluence/display/ENG"
        assert record["_links"] == {"webui": "/display/ENG"}

    def test_space_without_optional_blocks(self):
        record = normalise_space({"id": 7, "key": "K"}, "https://wiki.example.com")
        assert record["id"] == "7"
        assert (record["description"], record["homepageId"], record["authorId"], record["createdAt"], record["webUrl"]) == (
            None, None, None, None, None,
        )

    def test_transformation_falls_back_to_base_url_without_derived(self):
        record = v2_space("1", "ENG")
        NormaliseSpace(config={"base_url": "https://wiki.example.com"}, parameters={}).transform(record)
        assert record["webUrl"] == "https://wiki.example.com/spaces/ENG"


# --- comments, attachments, restrictions, space permissions -------------------------------------

from source_confluence.components.records import (  # noqa: E402
    normalise_attachment,
    normalise_comment,
    normalise_restrictions,
    normalise_space_permission,
)

SITE = "https://acme.atlassian.net/wiki"


def test_a_reply_names_the_last_comment_among_its_ancestors_and_keeps_inline_details():
    raw = {
        "id": 301, "type": "comment", "status": "current", "title": "Re: Plan",
        "container": {"id": "100", "type": "page", "title": "Plan"},
        "ancestors": [{"id": "100", "type": "page"}, {"id": "200", "type": "comment"}, {"id": "250", "type": "comment"}],
        "extensions": {"location": "inline", "inlineProperties": {"originalSelection": "the budget"}, "resolution": {"status": "resolved"}},
        "body": {"storage": {"value": "<p>Agreed</p>"}},
        "version": {"number": 2, "when": "2024-03-11T19:24:06.964+08:00", "by": {"userKey": "k1"}},
        "_links": {"webui": "/spaces/ENG/pages/100?focusedCommentId=301"},
    }
    record = normalise_comment(raw, SITE)
    assert record["id"] == "301" and record["parentCommentId"] == "250"
    assert (record["containerId"], record["containerType"]) == ("100", "page")
    assert (record["location"], record["resolutionStatus"], record["inlineOriginalSelection"]) == ("inline", "resolved", "the budget")
    assert record["bodyMarkdown"] == "Agreed"
    assert record["lastModifiedAt"] == "2024-03-11T11:24:06.964Z" and record["version"]["authorId"] == "k1"
    assert record["webUrl"] == SITE + "/spaces/ENG/pages/100?focusedCommentId=301"


def test_a_top_level_comment_has_no_parent_even_though_its_page_is_an_ancestor():
    raw = {"id": "5", "ancestors": [{"id": "100", "type": "page"}], "extensions": {"location": "footer"}}
    assert normalise_comment(raw, SITE)["parentCommentId"] is None


def test_attachment_size_media_type_and_absolute_download_url():
    raw = {
        "id": "att9", "type": "attachment", "title": "report.pdf",
        "container": {"id": "100", "type": "blogpost"},
        "extensions": {"mediaType": "application/pdf", "fileSize": 2048, "comment": "Q3"},
        "_links": {"download": "/download/attachments/100/report.pdf?version=1"},
    }
    record = normalise_attachment(raw, SITE)
    assert (record["fileName"], record["mediaType"], record["fileSize"], record["comment"]) == ("report.pdf", "application/pdf", 2048, "Q3")
    assert record["containerType"] == "blogpost"
    assert record["downloadUrl"] == SITE + "/download/attachments/100/report.pdf?version=1"


def test_attachment_without_size_or_with_a_non_numeric_size_says_none():
    assert normalise_attachment({"id": "att1", "extensions": {"fileSize": "n/a"}}, SITE)["fileSize"] is None
    assert normalise_attachment({"id": "att1"}, SITE)["fileSize"] is None


def test_restrictions_list_users_by_id_and_groups_by_name_for_read_and_update():
    raw = {
        "id": "7", "type": "page", "title": "Salaries", "space": {"key": "HR"},
        "restrictions": {
            "read": {"restrictions": {"user": {"results": [{"accountId": "b"}, {"accountId": "a"}]}, "group": {"results": [{"name": "hr"}]}}},
            "update": {"restrictions": {"user": {"results": []}, "group": {"results": []}}},
        },
    }
    record = normalise_restrictions(raw, SITE)
    assert record["read"] == {"users": ["a", "b"], "groups": ["hr"]} and record["readRestricted"] is True
    assert record["update"] == {"users": [], "groups": []} and record["updateRestricted"] is False
    assert (record["contentId"], record["spaceKey"]) == ("7", "HR")


def test_space_permission_from_cloud_v2_keeps_its_id():
    raw = {"id": "9830701", "principal": {"type": "group", "id": "g-1"}, "operation": {"key": "read", "targetType": "space"}}
    record = normalise_space_permission(raw, {"id": "98307", "key": "ENG"})
    assert record == {"id": "9830701", "spaceId": "98307", "spaceKey": "ENG", "principalType": "group",
                      "principalId": "g-1", "operation": "read", "targetType": "space"}


def test_space_permission_from_data_center_gets_a_stable_composite_id():
    raw = {"operation": {"targetType": "space", "operationKey": "administer"}, "subject": {"type": "user", "identifier": "k9"},
           "spaceKey": "ENG", "spaceId": 98307}
    record = normalise_space_permission(raw, {"id": "98307", "key": "ENG"})
    assert record["id"] == "ENG:user:k9:administer:space"
    assert (record["principalType"], record["principalId"], record["operation"]) == ("user", "k9", "administer")


import pytest  # noqa: E402

from source_confluence.components import records as record_components  # noqa: E402


@pytest.mark.parametrize(
    "transformation, raw, expected_key",
    [
        (record_components.NormaliseContent, {"id": 1, "type": "page"}, "lastModifiedAt"),
        (record_components.NormaliseComment, {"id": 2, "type": "comment"}, "parentCommentId"),
        (record_components.NormaliseAttachment, {"id": "att3", "type": "attachment"}, "fileName"),
        (record_components.NormaliseRestrictions, {"id": 4, "type": "page"}, "contentId"),
        (record_components.NormaliseSpace, {"id": 5, "key": "ENG"}, "webUrl"),
        (record_components.NormaliseSpacePermission, {"principal": {"type": "user", "id": "a"}, "operation": {"key": "read"}}, "principalId"),
    ],
)
def test_every_transformation_replaces_the_raw_object_by_its_record(transformation, raw, expected_key):
    record = dict(raw)
    transformation(config={"base_url": "https://acme.atlassian.net"}, parameters={}).transform(record)
    assert expected_key in record and "_expandable" not in record


def test_versions_from_cloud_v2_and_data_center_become_one_shape():
    cloud = record_components.normalise_version(
        {"number": 3, "createdAt": "2024-03-11T11:24:06.964Z", "authorId": "acc-1", "message": "typo", "minorEdit": True}, "")
    data_center = record_components.normalise_version(
        {"number": 3, "when": "2024-03-11T19:24:06.964+08:00", "by": {"userKey": "key-1"}, "message": "typo", "minorEdit": True}, "")
    assert cloud == {"number": 3, "createdAt": "2024-03-11T11:24:06.964Z", "message": "typo", "minorEdit": True, "authorId": "acc-1"}
    assert data_center == dict(cloud, authorId="key-1")


from datetime import datetime, timedelta, timezone  # noqa: E402
import random  # noqa: E402

from source_confluence.components.records import to_utc  # noqa: E402


def _utc_by_parsing(text):
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def test_timestamps_already_in_utc_milliseconds_come_out_as_a_full_parse_gives_them():
    rng = random.Random(7)
    start = datetime(1999, 12, 31, tzinfo=timezone.utc)
    for _ in range(2000):
        moment = start + timedelta(milliseconds=rng.randrange(10**12))
        text = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        assert to_utc(text) == _utc_by_parsing(text)


def test_timestamps_the_quick_form_does_not_cover_are_still_parsed_or_refused():
    assert to_utc("2024-03-11T11:24:06.964+01:00") == "2024-03-11T10:24:06.964Z"
    assert to_utc("2024-03-11T11:24:06Z") == "2024-03-11T11:24:06.000Z"
    assert to_utc("2024-03-11T11:24:06.964123Z") == "2024-03-11T11:24:06.964Z"
    assert to_utc("2024-01-31T23:59:59.999Z") == "2024-01-31T23:59:59.999Z"
    assert to_utc(1710156246964) == "2024-03-11T11:24:06.964Z"
    # Shaped like the output but not a date: refused as before, not passed through.
    assert to_utc("2023-02-29T10:00:00.000Z") is None
    assert to_utc("2024-13-01T10:00:00.000Z") is None
    assert to_utc("2024-04-31T10:00:00.000Z") is None
    assert to_utc("2024-03-11T24:00:00.000Z") is None
