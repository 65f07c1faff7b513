"""The node tree that ``markdown`` rewrites and ``markdown_writer`` turns into Markdown.

Its own module so that both can import it: the writer must not import
``markdown`` (which imports the writer).

Not lxml's elements (text in .text/.tail, proxies): the rewrites and the
Markdown writer want what markdownify saw: a list of children per tag, where
text runs are separate items (plain str), siblings are found by position, and
comments stay as (silent) siblings.  ``TreeBuilder`` builds it from lxml's
parse events, as bs4 did.
"""

from __future__ import annotations

from collections.abc import Iterator

__all__ = ["Comment", "ScriptText", "Node", "TreeBuilder", "take_contents"]


class Comment(str):
    """A comment (or processing instruction): no output, but it is a sibling."""


class ScriptText(str):
    """Text of <script>/<style>/<template>: output as text, but not part of get_text()."""


_SCRIPT_LIKE = frozenset(("script", "style", "template"))


class Node:
    """An element: just the bs4 Tag operations the macro handlers and the writer use."""

    __slots__ = ("name", "attrs", "contents", "parent")

    def __init__(self, name: str, attrs: dict, contents: list | None = None, parent: Node | None = None):
        self.name = name
        self.attrs = attrs
        self.contents = []
        self.parent = parent
        if contents:
            for child in contents:
                self.append(child)

    def get(self, key: str, default=None):
        return self.attrs.get(key, default)

    def __getitem__(self, key: str):
        return self.attrs[key]

    def __setitem__(self, key: str, value) -> None:
        self.attrs[key] = value

    def descendants(self) -> Iterator[Node]:
        """Descendant elements in document order (iterative: nesting depth is the parser's business)."""
        stack = [iter(self.contents)]
        while stack:
            for child in stack[-1]:
                if type(child) is Node:
                    yield child
                    stack.append(iter(child.contents))
                    break
            else:
                stack.pop()

    def find(self, names) -> Node | None:
        """First descendant named `names` (a name or a tuple of names); True: any element."""
        for node in self.descendants():
            if names is True or node.name == names or (type(names) is tuple and node.name in names):
                return node
        return None

    def get_text(self) -> str:
        parts = []
        stack = [iter(self.contents)]
        while stack:
            for child in stack[-1]:
                if type(child) is Node:
                    stack.append(iter(child.contents))
                    break
                if type(child) is str:
                    parts.append(child)
            else:
                stack.pop()
        return "".join(parts)

    def append(self, child) -> None:
        self.insert(len(self.contents), child)

    def insert(self, index: int, child) -> None:
        if type(child) is Node:
            child.extract()
            child.parent = self
        self.contents.insert(index, child)

    def insert_before(self, child) -> None:
        self.parent.insert(self.parent.contents.index(self), child)

    def extract(self) -> None:
        if self.parent is not None:
            self.parent.contents.remove(self)
            self.parent = None

    decompose = extract  # descendants keep their parent: see markdown._attached()

    def unwrap(self) -> None:
        index = self.parent.contents.index(self)
        for child in reversed(take_contents(self)):
            self.parent.insert(index, child)
        self.extract()


class TreeBuilder:
    """lxml parser target that builds the Node tree from the parse events, as bs4 did.

    Events rather than lxml's own tree: after a stray ``</html>`` libxml2's tree
    builder drops the rest of the body, while the events still carry it.
    Like bs4, a whitespace-only text run outside <pre>/<textarea> becomes one
    space or newline.

    ``marked`` collects, in document order, the elements with a prefixed name
    (``ac:``, ``ri:``) or a name in ``mark_names``: the Markdown rewrite needs
    exactly those, and noting them here spares it a second walk over every
    element.  One builder serves one parse at a time; ``reset`` readies it
    (and its parser) for the next body.
    """

    _KEEP_WHITESPACE = frozenset(("pre", "textarea"))

    def __init__(self, mark_names: frozenset = frozenset()) -> None:
        self.mark_names = mark_names
        self.reset()

    def reset(self) -> None:
        self.root = Node("[document]", {})
        self.stack = [self.root]
        self.text: list[str] = []
        self.marked: list[Node] = []

    def start(self, tag: str, attrib) -> None:
        if self.text:
            self._flush()
        parent = self.stack[-1]
        # lxml hands an element without attributes an immutable empty mapping, which dict() copies slowly.
        node = Node(tag, dict(attrib) if attrib else {}, None, parent)
        parent.contents.append(node)
        self.stack.append(node)
        if ":" in tag or tag in self.mark_names:
            self.marked.append(node)

    def end(self, tag: str) -> None:
        if self.text:
            self._flush()
        stack = self.stack
        if len(stack) > 1 and stack[-1].name == tag:  # the usual case: the innermost open element closes
            stack.pop()
            return
        names = [node.name for node in stack]
        if tag in names[1:]:  # close it and anything left open inside it
            del stack[len(names) - 1 - names[::-1].index(tag) :]

    def data(self, text: str) -> None:
        self.text.append(text)

    def comment(self, text: str) -> None:
        if self.text:
            self._flush()
        self.stack[-1].contents.append(Comment(text))

    def close(self) -> Node:
        if self.text:
            self._flush()
        return self.root

    def _flush(self) -> None:
        """The text gathered since the last event, as one child (its callers check there is some)."""
        text, self.text = "".join(self.text), []
        if not text.strip(" \n\t\f\r") and not any(n.name in self._KEEP_WHITESPACE for n in self.stack):
            text = "\n" if "\n" in text else " "
        node = self.stack[-1]
        node.contents.append(ScriptText(text) if node.name in _SCRIPT_LIKE else text)


def take_contents(tag: Node | None) -> list:
    """Take the children out of `tag`, to be put somewhere else."""
    if tag is None:
        return []
    children, tag.contents = tag.contents, []
    for child in children:
        if type(child) is Node:
            child.parent = None
    return children
