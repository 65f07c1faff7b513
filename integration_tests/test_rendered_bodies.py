"""body_format: bodies rendered by Confluence (view, export_view), Markdown made from the rendered HTML."""

import pytest

from integration_tests.cli import catalog_for, run_cli
from integration_tests.emulator_configs import connector_config


@pytest.mark.parametrize("profile, auth_type, body_format", [("cloud", "api_token", "view"), ("cloud", "api_token", "export_view"),
                                                             ("data_center", "personal_access_token", "export_view")])
def test_every_page_arrives_once_with_its_rendered_body_and_markdown(emulators, profile, auth_type, body_format):
    emulator = emulators[profile]
    site = emulator.site
    config = connector_config(emulator.info, auth_type, body_format=body_format)
    result = run_cli("read", config, catalog_for(["pages", "comments"]), timeout=300)
    assert result.returncode == 0 and not result.errors, result.describe()
    pages = result.records("pages")
    ids = [record["id"] for record in pages]
    expected = {c.id for c in site.content.values() if c.type == "page" and c.status in ("current", "archived")}
    assert len(ids) == len(set(ids)) and set(ids) == expected
    for record in pages:
        assert list(record["body"]) == [body_format]
        html = record["body"][body_format]["value"]
        assert "<ac:" not in html  # rendered, not storage
        if html.strip():  # Markdown made from the HTML, not the HTML itself
            assert record["bodyMarkdown"].strip() and "<p>" not in record["bodyMarkdown"]
    assert all(list(c["body"]) == [body_format] for c in result.records("comments"))
