"""text/markdown_tree.py: the Node tree lxml's parse events build, as the Markdown writer and handlers use it."""

from lxml import etree

from source_confluence.text.markdown_tree import Node, TreeBuilder


def parse(html: str) -> Node:
    return etree.fromstring(html, etree.HTMLParser(target=TreeBuilder(), huge_tree=True))


def shape(node: Node) -> list:
    """Each element as [name, its children...]; text as itself."""
    return [node.name] + [shape(child) if type(child) is Node else str(child) for child in node.contents]


def test_closing_an_outer_element_closes_what_was_left_open_inside_it():
    root = parse("<div><p>one <b>bold <i>both</div><p>after</p>")
    body = root.find("body")
    assert shape(body) == ["body", ["div", ["p", "one ", ["b", "bold ", ["i", "both"]]]], ["p", "after"]]


def test_a_stray_end_tag_changes_nothing():
    root = parse("<p>a</b>b</p><p>c</p>")
    assert shape(root.find("body")) == ["body", ["p", "ab"], ["p", "c"]]


def test_the_builder_closes_an_outer_element_with_its_inner_ones_and_ignores_an_end_that_is_not_open():
    """The events straight, whatever libxml2 would have repaired first."""
    builder = TreeBuilder()
    builder.start("div", {})
    builder.start("p", {})
    builder.data("inside")
    builder.end("div")  # closes p too
    builder.end("span")  # never opened
    builder.data("outside")
    builder.start("p", {})
    builder.end("p")
    assert shape(builder.close()) == ["[document]", ["div", ["p", "inside"]], "outside", ["p"]]


def test_every_element_gets_a_dict_of_its_own_that_handlers_may_edit():
    root = parse('<p><a href="x">link</a><span>plain</span><span>other</span></p>')
    link, first, second = root.find("p").contents
    assert link.attrs == {"href": "x"}
    first["data-note"] = "set by a handler"  # elements without attributes too
    assert type(first.attrs) is dict and second.attrs == {}
    assert first.attrs is not second.attrs


def test_the_builder_notes_prefixed_and_named_elements_in_document_order():
    builder = TreeBuilder(mark_names=frozenset(("a",)))
    parser = etree.HTMLParser(target=builder, huge_tree=True)
    etree.fromstring('<p><ac:link><ri:page ri:content-title="T"/></ac:link><a href="x">a</a><b>not</b></p>', parser)
    assert [node.name for node in builder.marked] == ["ac:link", "ri:page", "a"]


def test_a_reset_builder_starts_an_empty_tree():
    builder = TreeBuilder()
    parser = etree.HTMLParser(target=builder, huge_tree=True)
    etree.fromstring("<p>one<ac:link/></p>", parser)
    builder.reset()
    root = etree.fromstring("<p>two</p>", parser)
    assert shape(root.find("p")) == ["p", "two"]
    assert root.find("ac:link") is None and builder.marked == []
