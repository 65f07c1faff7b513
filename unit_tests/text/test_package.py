"""The text package stands alone: importing it loads no part of airbyte-cdk or of the connector."""

from unit_tests.standalone import printed_alone


def test_text_package_imports_nothing_from_airbyte_or_the_connector():
    converted, loaded = printed_alone(
        "import sys\n"
        "import source_confluence.text.markdown, source_confluence.text.extraction\n"
        "print(source_confluence.text.markdown.storage_to_markdown('<p>Hello <strong>world</strong></p>').strip())\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(('airbyte_cdk', 'source_confluence.components', 'source_confluence.source')))\n"
        "print(loaded)\n"
    )
    assert converted == "Hello **world**"
    assert loaded == "[]"


def test_the_source_class_is_still_importable_from_the_package_root():
    from source_confluence import SourceConfluence
    from source_confluence.source import SourceConfluence as defined

    assert SourceConfluence is defined
