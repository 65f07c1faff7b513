"""markdown_writer.Markdown is a port of markdownify 1.2.3's MarkdownConverter: prove it writes the same Markdown.

Over the check corpus of bench/markdown_speed.py (every page and blog post body of two emulator sites, the
storage body of every shared sample, the hand-written edge cases), each body goes through the connector's
own pipeline up to the writer; the tree the writer gets is also handed, as the same bs4 tree, to markdownify
1.2.3 configured with the connector's options and overrides (those of the converter this module replaced).
The two outputs must be identical, character for character, before and after ``_tidy``.
"""

from __future__ import annotations

import re
from importlib.metadata import version

import bs4
import pytest
from markdownify import ATX, MarkdownConverter

from source_confluence.text import markdown as markdown_module
from source_confluence.text import markdown_writer
from source_confluence.text.markdown_tree import Comment, Node, ScriptText
from source_confluence.text.markdown_writer import BR, MARKDOWN

_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")
_LONG_BACKTICKS = re.compile(r"`{3,}")


class ConfluenceMarkdownify(MarkdownConverter):
    """markdownify with the options and overrides the connector used before the port (git 0568ab2..8e35979^)."""

    class Options(MarkdownConverter.DefaultOptions):
        heading_style = ATX
        bullets = "-"
        escape_underscores = False
        table_infer_header = True

    def process_text(self, el, parent_tags=None):
        if isinstance(el, bs4.element.PreformattedString):  # comments
            return ""
        return super().process_text(el, parent_tags)

    def escape(self, text, parent_tags):
        return _TAG_START.sub(r"\\<", super().escape(text, parent_tags))

    def convert_br(self, el, text, parent_tags):
        if "_inline" in parent_tags:
            return " " + text
        return BR + "\n" + text

    def convert_pre(self, el, text, parent_tags):
        code = el.get_text().strip("\n")
        if "_inline" in parent_tags:
            return self.convert_code(el, " ".join(code.split()), parent_tags)
        runs = _LONG_BACKTICKS.findall(code)
        fence = "`" * max(3, max(map(len, runs), default=0) + 1)
        language = "".join((el.get("data-language") or "").split()).replace("`", "")
        return f"\n\n{fence}{language}\n{code}\n{fence}\n\n"

    def convert_img(self, el, text, parent_tags):
        alt = (el.get("alt") or "").replace("[", "\\[").replace("]", "\\]")
        return f"![{alt}]({el.get('src') or ''})"

    def convert_td(self, el, text, parent_tags):
        cell = " ".join(text.split())
        colspan = el.get("colspan") or ""
        width = max(1, min(100, int(colspan))) if colspan.isdigit() else 1
        return " " + cell.replace("|", "\\|") + " |" * width

    convert_th = convert_td

    def convert_cf_raw(self, el, text, parent_tags):
        return "\n\n" + el.get_text().strip("\n") + "\n\n"


def as_soup(root: Node) -> bs4.BeautifulSoup:
    """The same tree as bs4 objects (no re-parse, which could move elements)."""
    soup = bs4.BeautifulSoup("", "html.parser", multi_valued_attributes=None)
    stack = [(root, soup)]
    while stack:
        node, parent = stack.pop()
        for child in node.contents:
            if type(child) is Node:
                tag = soup.new_tag(child.name, attrs=dict(child.attrs))
                parent.append(tag)
                stack.append((child, tag))
            elif type(child) is Comment:
                parent.append(bs4.Comment(str(child)))
            elif type(child) is ScriptText:
                parent.append(bs4.element.Script(str(child)))
            else:
                parent.append(bs4.NavigableString(str(child)))
    return soup


class BothWriters:
    """Stands in for ``markdown.MARKDOWN``: writes with the port, and keeps markdownify's output beside it."""

    def __init__(self) -> None:
        self.reference = ConfluenceMarkdownify()
        self.pairs: list[tuple[str, str]] = []

    def convert(self, root: Node) -> str:
        soup = as_soup(root)  # before the port writes: the tree is the same for both
        ported = MARKDOWN.convert(root)
        self.pairs.append((ported, self.reference.convert_soup(soup)))
        return ported


# The emulator writes every body from one template (confluence_emulator/bodies.py) whose parts vary by a seeded
# draw; 40 pages a site are enough to draw every variant (``EMULATOR_VARIANTS``), 300 only repeated them.
EMULATOR_PAGES = 40
EMULATOR_VARIANTS = {
    **{f"code in {language}": f'<ac:parameter ac:name="language">{language}</ac:parameter>'
       for language in ("python", "java", "sql", "bash", "javascript", "yaml")},
    **{f"{kind} panel": f'ac:name="{kind}"' for kind in ("info", "note", "warning", "tip", "expand")},
    **{f"status {title}": f'<ac:parameter ac:name="title">{title}</ac:parameter></ac:structured-macro>'
       for title in ("DONE", "IN PROGRESS", "BLOCKED")},
    "include macro": 'ac:name="include"',
    "page link": "<ac:link><ri:page ",
    "image": "<ac:image ",
    "Cloud mention": "<ri:user ri:account-id=",
    "Data Center mention": "<ri:user ri:userkey=",
    "task list": "<ac:task-list>",
    "table": "<table><tbody><tr><th>",
    "nested list": "<li><p>Nested</p><ol>",
    "external link": '<a href="https://example.com/',
    "revision note": "<p>Revision ",
}


@pytest.fixture(scope="module")
def emulator_corpus() -> list[str]:
    from bench.markdown_speed import emulator_bodies

    return emulator_bodies(pages=EMULATOR_PAGES)


@pytest.fixture(scope="module")
def corpus(emulator_corpus) -> list[str]:
    from bench.markdown_speed import EDGE_CASES, sample_bodies

    return emulator_corpus + sample_bodies() + EDGE_CASES


def test_the_emulator_corpus_holds_every_variant_of_the_body_template(emulator_corpus) -> None:
    missing = [name for name, marker in EMULATOR_VARIANTS.items() if not any(marker in body for body in emulator_corpus)]
    assert not missing, missing


def test_markdownify_is_the_version_the_port_follows() -> None:
    assert version("markdownify") == "1.2.3"


def test_the_port_writes_what_markdownify_writes_over_the_check_corpus(corpus, monkeypatch) -> None:
    from bench.markdown_speed import EDGE_CASES, _rich_kwargs

    writers = BothWriters()
    monkeypatch.setattr(markdown_module, "MARKDOWN", writers)
    for body in corpus:
        markdown_module.storage_to_markdown(body, base_url="https://acme.atlassian.net/wiki", space_key="ENG")
        markdown_module.storage_to_markdown(body, **_rich_kwargs(body))
    # The fallback to plain text skips the writer: every body but (some of) the edge cases must reach it.
    assert len(writers.pairs) >= 2 * (len(corpus) - len(EDGE_CASES)), (len(writers.pairs), len(corpus))
    differing = [(ported, reference) for ported, reference in writers.pairs if ported != reference]
    assert not differing, f"{len(differing)} of {len(writers.pairs)} differ; first: {differing[0]!r}"


def test_the_comparison_notices_a_difference(monkeypatch) -> None:
    """The check has teeth: a writer one character off is caught."""
    writers = BothWriters()
    monkeypatch.setattr(markdown_module, "MARKDOWN", writers)
    markdown_module.storage_to_markdown("<h2>Title</h2><p>a <strong>b</strong></p>")
    ported, reference = writers.pairs[0]
    assert ported == reference == "## Title\n\na **b**"
    monkeypatch.setattr(ConfluenceMarkdownify.Options, "heading_style", "underlined")
    assert ConfluenceMarkdownify().convert_soup(bs4.BeautifulSoup("<h2>Title</h2>", "html.parser")) != "## Title"


def test_list_items_are_numbered_afresh_outside_a_conversion() -> None:
    # Numbers are kept only while Markdown.convert writes one tree: after a conversion, a list written on its own
    # (its items changed since) must not be numbered from what an earlier call saw.
    assert MARKDOWN.convert(Node("[document]", {}, [Node("ol", {}, [Node("li", {}, ["a"]), Node("li", {}, ["b"])])])).strip() == "1. a\n2. b"
    second = Node("li", {}, ["second"])
    items = Node("ol", {}, [Node("li", {}, ["first"]), second])
    assert markdown_writer._item_number(items, second) == 1
    items.insert(0, Node("li", {}, ["new first"]))
    assert markdown_writer._item_number(items, second) == 2
