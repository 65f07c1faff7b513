"""Confluence *storage format* (XHTML + ``ac:``/``ri:`` macros) -> readable Markdown.

Pipeline: lxml parses the body into a tree of small ``_Node`` objects
(built from its parse events, as bs4 did), every ``ac:`` / ``ri:`` element is rewritten into plain HTML
(``<pre>``, ``<blockquote>``, ``<a>``, ``<img>``, text), and ``_Markdown``
writes the Markdown.  Each macro handler is a few lines; anything we do not
recognise degrades to its body text (or nothing), never raw XML.

Why not BeautifulSoup + markdownify (what this module used to be): the output
rules are markdownify's (``_Markdown`` is a port of its ``MarkdownConverter``
with our options and overrides, and gives the same Markdown), but both
libraries spend most of their time on per-node generality we do not use: bs4
builds its tree through Python callbacks for every parser event, markdownify
copies a set of parent tag names and runs several isinstance/regex checks per
node.  A sync converts tens of thousands of bodies on a small machine, so
this path was its main CPU cost; the lean version is several times faster.

Parser choice: lxml (libxml2), the parser bs4 used here before, so the tree
is the same: ``ac:foo`` / ``ri:foo`` tag and attribute names are kept
(lowercased, prefix and all), self-closing XHTML tags (``<ri:page .../>``,
``<p />``, ``<time/>``) are honoured, and HTML error recovery is the
browser's (``<li>a<li>b`` are siblings, a stray ``<td>`` closes the previous
cell).  lxml would turn ``<![CDATA[...]]>`` into a comment, so CDATA is
escaped into ordinary text *before* parsing: code bodies survive exactly.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from lxml import etree

__all__ = ["storage_to_markdown", "mentioned_user_ids"]

logger = logging.getLogger(__name__)

# Unterminated CDATA (truncated bodies) runs to the end rather than leaking "<![CDATA[".
_CDATA = re.compile(r"<!\[CDATA\[(.*?)(?:\]\]>|\Z)", re.S)
_CONFLUENCE_TAG = re.compile(r"<(?:ac|ri):", re.I)
_ANY_TAG = re.compile(r"<[^>]*>")
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*>")
_HSPACE = re.compile(r"[ \t\xa0]+")
_RI_USER = re.compile(r"<ri:user\b([^>]*)>", re.I)
_USER_ATTR = re.compile(r"""ri:(?:account-id|userkey|username)\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.I)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_LONG_BACKTICKS = re.compile(r"`{3,}")
_FENCE_OPEN = re.compile(r"^[ \t>]*(`{3,}|~{3,})")
_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")
_INNER_SPACES = re.compile(r"(?<=\S) {2,}")

# <br/> becomes this marker; _tidy turns it into a Markdown hard break ("\")
# only between two lines of text, where a hard break means something.
_BR = "\x00"

_PANEL_LABELS = {"info": "Info", "note": "Note", "warning": "Warning", "tip": "Tip", "panel": ""}
_USER_ID_ATTRS = ("ri:account-id", "ri:userkey", "ri:username")


@dataclass(frozen=True)
class _Ctx:
    root: _Node
    base_url: str
    user_names: Mapping[str, str]
    page_urls: Mapping[str, str]
    space_key: str | None
    attachment_url: Callable[[str], str] | None
    confluence: bool = True  # False: no ac:/ri: tag in the body, only plain HTML to fix up


# --------------------------------------------------------------------------- API


def storage_to_markdown(
    storage: str | None,
    *,
    base_url: str = "",
    user_names: Mapping[str, str] | None = None,
    page_urls: Mapping[str, str] | None = None,
    space_key: str | None = None,
    attachment_url: Callable[[str], str] | None = None,
) -> str:
    """Convert a storage-format body to Markdown; "" for None/empty, never raises."""
    if not storage:
        return ""
    if isinstance(storage, bytes):
        storage = storage.decode("utf-8", "replace")
    try:
        prepared = _prepare(storage)
        root = _parse(prepared)
        if root is None:  # nothing but comments / whitespace
            return ""
        confluence = _CONFLUENCE_TAG.search(prepared) is not None
        ctx = _Ctx(root, base_url or "", user_names or {}, page_urls or {}, space_key, attachment_url, confluence)
        _rewrite_confluence_tags(ctx)
        return _tidy(_MARKDOWN.convert(root))
    except Exception as exc:  # e.g. a document nested too deep: one bad page must not fail the sync
        logger.warning("Storage body not convertible to Markdown (%s); falling back to plain text", type(exc).__name__)
        return _tidy(_plain_text(storage))


def mentioned_user_ids(storage: str | None) -> set[str]:
    """Every ri:user account-id / userkey / username in the body (for bulk name lookup)."""
    if not storage:
        return set()
    # A regex over the raw text is far cheaper than a parse; code bodies are removed
    # first so an example "<ri:user>" inside a code macro is not taken for a mention.
    text = _CDATA.sub("", storage)
    ids = set()
    for attrs in _RI_USER.findall(text):
        for double, single in _USER_ATTR.findall(attrs):
            value = html.unescape(double or single).strip()
            if value:
                ids.add(value)
    return ids


# ------------------------------------------------------------------ parse helpers


def _prepare(storage: str) -> str:
    """Make the raw body safe for the HTML parser: CDATA as escaped text, no XML declaration."""
    storage = _XML_DECL.sub("", storage.replace(_BR, ""), count=1)
    if "<" not in storage:  # bare text: one paragraph, as it always was
        return f"<p>{storage}</p>"
    return _CDATA.sub(lambda m: html.escape(m.group(1), quote=False), storage)


def _plain_text(storage: str) -> str:
    text = html.unescape(_ANY_TAG.sub(" ", _CDATA.sub(lambda m: m.group(1), storage)))
    return "\n".join(line.strip() for line in _HSPACE.sub(" ", text.replace(_BR, "")).splitlines())


class _TooDeep(Exception):
    """libxml2 stopped at its nesting limit and dropped the rest of the body."""


def _parse(prepared: str) -> _Node | None:
    # One parser per call: lxml parsers are not thread-safe, and one costs ~1 µs.  huge_tree lifts
    # libxml2's nesting limit of 256; past the 2048 it still enforces, the tail of the body is
    # dropped, so fall back to plain text instead.
    builder = _TreeBuilder()
    parser = etree.HTMLParser(target=builder, huge_tree=True)
    root = etree.fromstring(prepared, parser)
    if any(error.type == etree.ErrorTypes.ERR_RESOURCE_LIMIT for error in parser.error_log):
        raise _TooDeep  # the plain-text fallback keeps the dropped text
    return root if root.contents else None


# ------------------------------------------------------------------- the tree
#
# Not lxml's elements (text in .text/.tail, proxies): the rewrites and the
# Markdown writer want what markdownify saw: a list of children per tag, where
# text runs are separate items (plain str), siblings are found by position, and
# comments stay as (silent) siblings.


class _Comment(str):
    """A comment (or processing instruction): no output, but it is a sibling."""


class _ScriptText(str):
    """Text of <script>/<style>/<template>: output as text, but not part of get_text()."""


_SCRIPT_LIKE = frozenset(("script", "style", "template"))


class _Node:
    """An element: just the bs4 Tag operations the handlers below use."""

    __slots__ = ("name", "attrs", "contents", "parent")

    def __init__(self, name: str, attrs: dict, contents: list | None = None, parent: _Node | None = None):
        self.name = name
        self.attrs = attrs
        self.contents = []
        self.parent = parent
        for child in contents or ():
            self.append(child)

    def get(self, key: str, default=None):
        return self.attrs.get(key, default)

    def __getitem__(self, key: str):
        return self.attrs[key]

    def __setitem__(self, key: str, value) -> None:
        self.attrs[key] = value

    def descendants(self) -> Iterator[_Node]:
        """Descendant elements in document order (iterative: nesting depth is the parser's business)."""
        stack = [iter(self.contents)]
        while stack:
            for child in stack[-1]:
                if type(child) is _Node:
                    yield child
                    stack.append(iter(child.contents))
                    break
            else:
                stack.pop()

    def find(self, names) -> _Node | None:
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
                if type(child) is _Node:
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
        if type(child) is _Node:
            child.extract()
            child.parent = self
        self.contents.insert(index, child)

    def insert_before(self, child) -> None:
        self.parent.insert(self.parent.contents.index(self), child)

    def extract(self) -> None:
        if self.parent is not None:
            self.parent.contents.remove(self)
            self.parent = None

    decompose = extract  # descendants keep their parent: see _attached()

    def unwrap(self) -> None:
        index = self.parent.contents.index(self)
        for child in reversed(_contents(self)):
            self.parent.insert(index, child)
        self.extract()


class _TreeBuilder:
    """lxml parser target that builds the _Node tree from the parse events, as bs4 did.

    Events rather than lxml's own tree: after a stray ``</html>`` libxml2's tree
    builder drops the rest of the body, while the events still carry it.
    Like bs4, a whitespace-only text run outside <pre>/<textarea> becomes one
    space or newline.
    """

    _KEEP_WHITESPACE = frozenset(("pre", "textarea"))

    def __init__(self) -> None:
        self.root = _Node("[document]", {})
        self.stack = [self.root]
        self.text: list[str] = []

    def start(self, tag: str, attrib) -> None:
        self._flush()
        parent = self.stack[-1]
        node = _Node(tag, dict(attrib), None, parent)
        parent.contents.append(node)
        self.stack.append(node)

    def end(self, tag: str) -> None:
        self._flush()
        names = [node.name for node in self.stack]
        if tag in names[1:]:  # close it and anything left open inside it
            del self.stack[len(names) - 1 - names[::-1].index(tag) :]

    def data(self, text: str) -> None:
        self.text.append(text)

    def comment(self, text: str) -> None:
        self._flush()
        self.stack[-1].contents.append(_Comment(text))

    def close(self) -> _Node:
        self._flush()
        return self.root

    def _flush(self) -> None:
        if not self.text:
            return
        text, self.text = "".join(self.text), []
        if not text.strip(" \n\t\f\r") and not any(n.name in self._KEEP_WHITESPACE for n in self.stack):
            text = "\n" if "\n" in text else " "
        node = self.stack[-1]
        node.contents.append(_ScriptText(text) if node.name in _SCRIPT_LIKE else text)


def _attached(node: _Node, root: _Node) -> bool:
    while node.parent is not None:
        node = node.parent
    return node is root


def _rewrite_confluence_tags(ctx: _Ctx) -> None:
    # Document order = outer before inner, so a macro reads its own parameters
    # before anything inside it is touched.  Handlers move the bodies they keep
    # (the inner tags are then handled later in this same loop) and decompose the rest.
    # Fast path: a body without any ac:/ri: tag (plain HTML, e.g. a view body) only
    # needs its links, images and <time> fixed.
    todo = [
        tag
        for tag in ctx.root.descendants()
        if tag.name in _HTML_HANDLERS or (ctx.confluence and ":" in tag.name)
    ]
    for tag in todo:
        if not _attached(tag, ctx.root):  # inside something already decomposed
            continue
        handler = _TAG_HANDLERS.get(tag.name) or _HTML_HANDLERS.get(tag.name) or _unwrap
        handler(ctx, tag)


# ------------------------------------------------------------ tree-editing helpers


def _new(name: str, *children, **attrs) -> _Node:
    return _Node(name, {k.replace("_", "-"): v for k, v in attrs.items()}, children)


def _replace(tag: _Node, *nodes) -> None:
    for node in nodes:
        tag.insert_before(node)
    tag.decompose()


def _unwrap(ctx: _Ctx, tag: _Node) -> None:
    tag.unwrap()


def _drop(ctx: _Ctx, tag: _Node) -> None:
    tag.decompose()


def _as_div(ctx: _Ctx, tag: _Node) -> None:
    # Layout sections/cells are blocks; a div keeps the paragraph breaks.
    tag.name = "div"
    tag.attrs = {}


def _contents(tag: _Node | None) -> list:
    """Take the children out of `tag`, to be put somewhere else."""
    if tag is None:
        return []
    children, tag.contents = tag.contents, []
    for child in children:
        if type(child) is _Node:
            child.parent = None
    return children


def _prepend(container: _Node, *nodes) -> None:
    """Insert nodes at the start of the first paragraph, so a label shares its line."""
    first = next((c for c in container.contents if not (isinstance(c, str) and not c.strip())), None)
    target = first if type(first) is _Node and first.name in ("p", "div") else container
    for node in reversed(nodes):
        target.insert(0, node)


def _children(tag: _Node, name: str) -> list[_Node]:
    return [c for c in tag.contents if type(c) is _Node and c.name == name]


def _child(tag: _Node, name: str) -> _Node | None:
    return next((c for c in tag.contents if type(c) is _Node and c.name == name), None)


def _param(macro: _Node, name: str) -> str:
    tag = _param_tag(macro, name)
    return tag.get_text().strip() if tag is not None else ""


def _param_tag(macro: _Node, name: str) -> _Node | None:
    for param in _children(macro, "ac:parameter"):
        if (param.get("ac:name") or "").lower() == name:
            return param
    return None


def _rich_body(macro: _Node) -> _Node | None:
    return _child(macro, "ac:rich-text-body")


def _plain_body(macro: _Node) -> str | None:
    body = _child(macro, "ac:plain-text-body")
    return body.get_text() if body is not None else None


# ---------------------------------------------------------------- URLs and names


def _absolute(ctx: _Ctx, url: str) -> str:
    url = (url or "").strip().replace(" ", "%20")
    base = ctx.base_url.rstrip("/")
    if not url or not base or url.startswith("#") or _SCHEME.match(url):
        return url
    if url.startswith("//"):
        return urljoin(base, url)
    if url.startswith("/"):
        # Hrefs may or may not repeat the context path ("/wiki", "/confluence").
        parts = urlsplit(base)
        root, path = f"{parts.scheme}://{parts.netloc}", parts.path.rstrip("/")
        if path and (url == path or url.startswith(path + "/")):
            return root + url
        return base + url
    return urljoin(base + "/", url)


def _page_url(ctx: _Ctx, title: str, space: str | None) -> str | None:
    target_space = space or ctx.space_key
    if target_space and f"{target_space}:{title}" in ctx.page_urls:
        return ctx.page_urls[f"{target_space}:{title}"]
    # A bare title is only trusted when it cannot point into another space.
    if not (space and ctx.space_key and space != ctx.space_key):
        return ctx.page_urls.get(title)
    return None


def _attachment_href(ctx: _Ctx, filename: str) -> str | None:
    if not filename or ctx.attachment_url is None:
        return None
    return _absolute(ctx, ctx.attachment_url(filename))


def _mention(ctx: _Ctx, user: _Node) -> str:
    ids = [user.get(attr) for attr in _USER_ID_ATTRS if user.get(attr)]
    for user_id in ids:
        if ctx.user_names.get(user_id):
            return "@" + ctx.user_names[user_id]
    return f"@user:{ids[0]}" if ids else "@user"


def _link_or_text(ctx: _Ctx, href: str | None, label: list) -> list:
    if not href:
        return label
    return [_new("a", *label, href=href)]


# ------------------------------------------------------------------ ac: elements


def _link(ctx: _Ctx, tag: _Node) -> None:
    target = next((c for c in tag.contents if type(c) is _Node and c.name.startswith("ri:")), None)
    if target is not None and target.name == "ri:user":
        _replace(tag, _mention(ctx, target))  # a mention shows the person, whatever the link body says
        return
    href, default = _link_target(ctx, tag, target)
    label = _link_label(tag) or ([default] if default else [])
    _replace(tag, *_link_or_text(ctx, href, label))


def _link_target(ctx: _Ctx, tag: _Node, target: _Node | None) -> tuple[str | None, str]:
    """(href or None, fallback link text) for an ac:link's ri: resource."""
    kind = target.name if target is not None else ""
    if kind in ("ri:page", "ri:blog-post"):
        title = target.get("ri:content-title") or ""
        href = _page_url(ctx, title, target.get("ri:space-key")) if title else None
        anchor = (tag.get("ac:anchor") or "").replace(" ", "-")
        return (f"{href}#{anchor}" if href and anchor else href), title
    if kind == "ri:attachment":
        filename = target.get("ri:filename") or ""
        return _attachment_href(ctx, filename), filename
    if kind == "ri:url":
        return _absolute(ctx, target.get("ri:value") or ""), target.get("ri:value") or ""
    if kind == "ri:space":
        return None, target.get("ri:space-key") or ""
    return None, tag.get("ac:anchor") or ""  # in-page anchor or unknown resource: text only


def _link_label(tag: _Node) -> list:
    rich = _child(tag, "ac:link-body")
    if rich is not None and (rich.get_text().strip() or rich.find(True)):
        return _contents(rich)
    plain = _child(tag, "ac:plain-text-link-body")
    text = plain.get_text() if plain is not None else ""
    return [text] if text.strip() else []


def _image(ctx: _Ctx, tag: _Node) -> None:
    attachment, url = tag.find("ri:attachment"), tag.find("ri:url")
    if attachment is not None:
        filename = attachment.get("ri:filename") or ""
        src = _attachment_href(ctx, filename) or filename.replace(" ", "%20")
        alt = tag.get("ac:alt") or filename
    elif url is not None:
        src, alt = _absolute(ctx, url.get("ri:value") or ""), tag.get("ac:alt") or ""
    else:
        tag.decompose()
        return
    _replace(tag, _new("img", src=src, alt=alt))


def _emoticon(ctx: _Ctx, tag: _Node) -> None:
    shortname = tag.get("ac:emoji-shortname") or ""
    name = tag.get("ac:name") or ""
    text = shortname if shortname.startswith(":") else f":{shortname or name}:" if shortname or name else ""
    _replace(tag, text)


def _html_link(ctx: _Ctx, tag: _Node) -> None:
    if tag.get("href"):
        tag["href"] = _absolute(ctx, tag["href"])


def _html_image(ctx: _Ctx, tag: _Node) -> None:
    if tag.get("src"):
        tag["src"] = _absolute(ctx, tag["src"])


def _time(ctx: _Ctx, tag: _Node) -> None:
    _replace(tag, tag.get("datetime") or tag.get_text())


def _task_list(ctx: _Ctx, tag: _Node) -> None:
    tasks = _children(tag, "ac:task") if tag.name == "ac:task-list" else [tag]
    _replace(tag, _new("ul", *(_task_item(ctx, task) for task in tasks)))


def _task_item(ctx: _Ctx, task: _Node) -> _Node:
    status = _child(task, "ac:task-status")
    done = status is not None and status.get_text().strip().lower() == "complete"
    item = _new("li", *_contents(_child(task, "ac:task-body")))
    _prepend(item, "[x] " if done else "[ ] ")
    return item


def _adf_extension(ctx: _Ctx, tag: _Node) -> None:
    # Cloud's editor-only nodes carry an HTML fallback meant for exactly this.
    fallback = tag.find("ac:adf-fallback")
    if fallback is not None:
        _replace(tag, _new("div", *_contents(fallback)))
    else:
        tag.unwrap()


def _plain_text_body(ctx: _Ctx, tag: _Node) -> None:
    _replace(tag, tag.get_text())


def _ri_text(ctx: _Ctx, tag: _Node) -> None:
    # ri: references outside a link/macro we understand: keep the human-readable part.
    if tag.name == "ri:user":
        _replace(tag, _mention(ctx, tag))
        return
    for attr in ("ri:content-title", "ri:filename", "ri:value", "ri:space-key"):
        if tag.get(attr):
            _replace(tag, tag[attr])
            return
    tag.decompose()


# ------------------------------------------------------------------------ macros


def _macro(ctx: _Ctx, tag: _Node) -> None:
    name = (tag.get("ac:name") or "").lower()
    _MACROS.get(name, _unknown_macro)(ctx, tag, name)


def _code(ctx: _Ctx, macro: _Node, name: str) -> None:
    language = _param(macro, "language") if name == "code" else ""
    title = _param(macro, "title")
    pre = _new("pre", _plain_body(macro) or "", data_language=language)
    nodes = [_new("p", _new("strong", title)), pre] if title else [pre]
    _replace(macro, *nodes)


def _panel(ctx: _Ctx, macro: _Node, name: str) -> None:
    quote = _new("blockquote", *_contents(_rich_body(macro)))
    label, title = _PANEL_LABELS[name], _param(macro, "title")
    if title:
        heading = f"{label}: {title}" if label else title
        quote.insert(0, _new("p", _new("strong", heading)))
    elif label:
        _prepend(quote, _new("strong", f"{label}:"), " ")
    _replace(macro, quote)


def _expand(ctx: _Ctx, macro: _Node, name: str) -> None:
    title = _param(macro, "title")
    heading = [_new("p", _new("strong", title))] if title else []
    _replace(macro, _new("div", *heading, *_contents(_rich_body(macro))))


def _status(ctx: _Ctx, macro: _Node, name: str) -> None:
    title = _param(macro, "title")
    _replace(macro, *([f"[{title}]"] if title else []))


def _jira(ctx: _Ctx, macro: _Node, name: str) -> None:
    _replace(macro, _param(macro, "key"))


def _body_only(ctx: _Ctx, macro: _Node, name: str) -> None:
    _replace(macro, *_contents(_rich_body(macro)))


def _include(ctx: _Ctx, macro: _Node, name: str) -> None:
    page = macro.find(("ri:page", "ri:blog-post"))
    title = page.get("ri:content-title") if page is not None else ""
    if not title:
        macro.decompose()
        return
    href = _page_url(ctx, title, page.get("ri:space-key"))
    what = "included excerpt" if name == "excerpt-include" else "included page"
    _replace(macro, _new("p", f"({what}: ", *_link_or_text(ctx, href, [title]), ")"))


def _view_file(ctx: _Ctx, macro: _Node, name: str) -> None:
    attachment = macro.find("ri:attachment")
    filename = attachment.get("ri:filename") if attachment is not None else ""
    if not filename:
        macro.decompose()
        return
    _replace(macro, *_link_or_text(ctx, _attachment_href(ctx, filename), [filename]))


def _profile(ctx: _Ctx, macro: _Node, name: str) -> None:
    user = macro.find("ri:user")
    _replace(macro, *([_mention(ctx, user)] if user is not None else []))


def _markdown_macro(ctx: _Ctx, macro: _Node, name: str) -> None:
    # The body already is Markdown: pass it through unescaped (see convert_cf_raw).
    _replace(macro, _new("cf-raw", _plain_body(macro) or ""))


def _dropped(ctx: _Ctx, macro: _Node, name: str) -> None:
    macro.decompose()


def _unknown_macro(ctx: _Ctx, macro: _Node, name: str) -> None:
    body = _rich_body(macro)
    if body is not None:
        _replace(macro, _new("div", *_contents(body)))
        return
    text = _plain_body(macro)
    _replace(macro, *([_new("pre", text)] if text and text.strip() else []))


_MACROS: dict[str, Callable[[_Ctx, _Node, str], None]] = {
    "code": _code,
    "noformat": _code,
    **{name: _panel for name in _PANEL_LABELS},
    "expand": _expand,
    "status": _status,
    "jira": _jira,
    "excerpt": _body_only,
    "include": _include,
    "excerpt-include": _include,
    **{name: _view_file for name in ("view-file", "viewpdf", "viewdoc", "viewxls", "viewppt")},
    "profile": _profile,
    "markdown": _markdown_macro,
    **{name: _dropped for name in ("toc", "toc-zone-marker", "children", "anchor")},
}

_TAG_HANDLERS: dict[str, Callable[[_Ctx, _Node], None]] = {
    "ac:structured-macro": _macro,
    "ac:macro": _macro,  # pre-5.0 / Data Center legacy spelling
    "ac:link": _link,
    "ac:image": _image,
    "ac:emoticon": _emoticon,
    "ac:task-list": _task_list,
    "ac:task": _task_list,
    "ac:placeholder": _drop,
    "ac:parameter": _drop,
    "ac:task-status": _drop,
    "ac:task-id": _drop,
    "ac:task-uuid": _drop,
    "ac:plain-text-body": _plain_text_body,
    "ac:plain-text-link-body": _plain_text_body,
    "ac:layout": _as_div,
    "ac:layout-section": _as_div,
    "ac:layout-cell": _as_div,
    "ac:adf-extension": _adf_extension,
    "ri:user": _ri_text,
    "ri:page": _ri_text,
    "ri:blog-post": _ri_text,
    "ri:attachment": _ri_text,
    "ri:url": _ri_text,
    "ri:space": _ri_text,
    # everything else (ac:inline-comment-marker, ac:rich-text-body, ...) is unwrapped
}

# Plain HTML that still needs the page context (relative URLs, <time datetime>).
_HTML_HANDLERS: dict[str, Callable[[_Ctx, _Node], None]] = {
    "a": _html_link,
    "img": _html_image,
    "time": _time,
}


# --------------------------------------------------------------------- Markdown
#
# _Markdown is markdownify 1.2.3's MarkdownConverter, cut down to the options we
# use (ATX headings, "-" bullets, "*" emphasis, no "_" escaping, table header
# inference) plus our overrides (<br/> marker, fenced <pre> with a language,
# images everywhere, one-line table cells, cf-raw).  The whitespace and newline
# rules are markdownify's, step for step, so the Markdown is the same.
#
# Instead of a set of every ancestor's name, a tag passes down only the four
# context flags the rules ever ask about.

_PRE, _LI, _INLINE, _NOFORMAT = "pre", "li", "_inline", "_noformat"

_HEADING = re.compile(r"h(\d+)")
_EXTRACT_NEWLINES = re.compile(r"^(\n*)((?:.*[^\n])?)(\n*)$", re.S)
_NEWLINE_WHITESPACE = re.compile(r"[\t \r\n]*[\r\n][\t \r\n]*")
_WHITESPACE = re.compile(r"[\t ]+")
_ALL_WHITESPACE = re.compile(r"[\t \r\n]+")
_LINE_WITH_CONTENT = re.compile(r"^(.*)", re.M)
_BACKTICKS = re.compile(r"`+")

# Blocks: whitespace-only text next to / just inside them is layout, not content.
_BLOCKS = frozenset(
    "p blockquote article div section ol ul li dl dt dd table thead tbody tfoot tr td th".split()
)


def _is_block(name: str) -> bool:
    return name in _BLOCKS or _HEADING.match(name) is not None


class _Markdown:
    def __init__(self) -> None:
        self._tag_info: dict[str, tuple] = {}

    def convert(self, root: _Node) -> str:
        return self._tag(root, frozenset())

    def _info(self, name: str) -> tuple:
        """(block?, flags this tag adds for its children, conversion function or None), per tag name."""
        info = self._tag_info.get(name)
        if info is None:
            heading = _HEADING.match(name)
            adds = {flag for flag, on in ((_PRE, name == "pre"), (_LI, name == "li"),
                                          (_INLINE, heading is not None or name in ("td", "th")),
                                          (_NOFORMAT, name in ("pre", "code", "kbd", "samp"))) if on}
            convert = _CONVERTERS.get(name)
            if convert is None and heading is not None:
                level = int(heading.group(1))
                convert = lambda el, text, flags: _heading(level, text, flags)  # noqa: E731
            info = self._tag_info[name] = (_is_block(name), frozenset(adds), convert)
        return info

    def _tag(self, node: _Node, flags: frozenset) -> str:
        block, adds, convert = self._info(node.name)
        inner = flags | adds if adds else flags
        contents = node.contents
        last = len(contents) - 1
        pieces = []
        for i, child in enumerate(contents):
            kind = type(child)
            if kind is _Node:
                piece = self._tag(child, inner)
            elif kind is _Comment:
                continue
            else:
                prev = contents[i - 1] if i else None
                after = contents[i + 1] if i < last else None
                if not child.strip() and ((block and (not prev or not after)) or _blocky(prev) or _blocky(after)):
                    continue  # layout whitespace around / inside a block
                piece = _text(child, inner, block, prev, after)
            if piece:
                pieces.append(piece)
        text = "".join(pieces) if _PRE in inner else _join_collapsing_newlines(pieces)
        return convert(node, text, flags) if convert is not None else text


def _blocky(sibling) -> bool:
    """markdownify's should_remove_whitespace_outside: a block or <pre> element."""
    return type(sibling) is _Node and (sibling.name == "pre" or _is_block(sibling.name))


def _text(text: str, flags: frozenset, in_block: bool, prev, after) -> str:
    # The substring tests only skip regexes that would change nothing (most text).
    if _PRE not in flags:
        if "\n" in text or "\r" in text:
            text = _NEWLINE_WHITESPACE.sub("\n", text)
        if "\t" in text or "  " in text:
            text = _WHITESPACE.sub(" ", text)
    if _NOFORMAT not in flags:
        # "*" would be emphasis; text that looks like a tag would be read as inline HTML.
        text = text.replace("*", r"\*")
        if "<" in text:
            text = _TAG_START.sub(r"\\<", text)
    if _blocky(prev) or (in_block and not prev):
        text = text.lstrip(" \t\r\n")
    if _blocky(after) or (in_block and not after):
        text = text.rstrip()
    return text


def _join_collapsing_newlines(pieces: list[str]) -> str:
    """Join, with the newlines where two pieces meet merged into at most a blank line."""
    out = [""]
    for piece in pieces:
        if piece[0] != "\n" and piece[-1] != "\n":
            out += ("", piece, "")
            continue
        leading, content, trailing = _EXTRACT_NEWLINES.match(piece).groups()
        if out[-1] and leading:
            leading = "\n" * min(2, max(len(out.pop()), len(leading)))
        out += (leading, content, trailing)
    return "".join(out)


def _chomp(text: str) -> tuple[str, str, str]:
    """Move one leading/trailing space outside inline markup: "<b> x</b>" -> " **x**"."""
    prefix = " " if text and text[0] == " " else ""
    suffix = " " if text and text[-1] == " " else ""
    return prefix, suffix, text.strip()


def _inline(markup: str):
    def convert(el: _Node, text: str, flags: frozenset) -> str:
        if _NOFORMAT in flags:
            return text
        prefix, suffix, text = _chomp(text)
        return f"{prefix}{markup}{text}{markup}{suffix}" if text else ""

    return convert


def _a(el: _Node, text: str, flags: frozenset) -> str:
    if _NOFORMAT in flags:
        return text
    prefix, suffix, text = _chomp(text)
    if not text:
        return ""
    href, title = el.get("href"), el.get("title")
    if text.replace(r"\_", "_") == href and not title:
        return f"<{href}>"
    title_part = ' "%s"' % title.replace('"', r"\"") if title else ""
    return f"{prefix}[{text}]({href}{title_part}){suffix}" if href else text


def _blockquote(el: _Node, text: str, flags: frozenset) -> str:
    text = (text or "").strip(" \t\r\n")
    if _INLINE in flags:
        return " " + text + " "
    if not text:
        return "\n"
    return "\n" + _LINE_WITH_CONTENT.sub(lambda m: "> " + m.group(1) if m.group(1) else ">", text) + "\n\n"


def _br(el: _Node, text: str, flags: frozenset) -> str:
    return " " + text if _INLINE in flags else _BR + "\n" + text


def _code(el: _Node, text: str, flags: frozenset) -> str:
    if _NOFORMAT in flags:
        return text
    prefix, suffix, text = _chomp(text)
    if not text:
        return ""
    ticks = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
    if ticks:
        text = f" {text} "
    delimiter = "`" * (ticks + 1)
    return f"{prefix}{delimiter}{text}{delimiter}{suffix}"


def _div(el: _Node, text: str, flags: frozenset) -> str:
    if _INLINE in flags:
        return " " + text.strip() + " "
    text = text.strip()
    return f"\n\n{text}\n\n" if text else ""


def _dd(el: _Node, text: str, flags: frozenset) -> str:
    text = (text or "").strip()
    if _INLINE in flags:
        return " " + text + " "
    if not text:
        return "\n"
    text = _LINE_WITH_CONTENT.sub(lambda m: "    " + m.group(1) if m.group(1) else "", text)
    return ":" + text[1:] + "\n"


def _dt(el: _Node, text: str, flags: frozenset) -> str:
    text = _ALL_WHITESPACE.sub(" ", (text or "").strip())
    if _INLINE in flags:
        return " " + text + " "
    return f"\n\n{text}\n" if text else "\n"


def _heading(level: int, text: str, flags: frozenset) -> str:
    if _INLINE in flags:
        return text
    text = _ALL_WHITESPACE.sub(" ", text.strip())
    return "\n\n%s %s\n\n" % ("#" * max(1, min(6, level)), text)


def _hr(el: _Node, text: str, flags: frozenset) -> str:
    return "\n\n---\n\n"


def _img(el: _Node, text: str, flags: frozenset) -> str:
    # Unlike markdownify's default, images stay inside table cells and headings.
    alt = (el.get("alt") or "").replace("[", "\\[").replace("]", "\\]")
    return f"![{alt}]({el.get('src') or ''})"


def _video(el: _Node, text: str, flags: frozenset) -> str:
    if _INLINE in flags:
        return text
    src = el.get("src") or next((s.get("src") for s in el.descendants() if s.name == "source" and "src" in s.attrs), "") or ""
    poster = el.get("poster") or ""
    if src and poster:
        return f"[![{text}]({poster})]({src})"
    if src:
        return f"[{text}]({src})"
    return f"![{text}]({poster})" if poster else text


def _list(el: _Node, text: str, flags: frozenset) -> str:
    if _LI in flags:  # nested list: no trailing newline
        return "\n" + text.rstrip()
    after = _next_content_sibling(el)
    before_paragraph = after is not None and getattr(after, "name", None) not in ("ul", "ol")
    return "\n\n" + text + ("\n" if before_paragraph else "")


def _next_content_sibling(el: _Node):
    """The next sibling that is an element or non-blank text (not a comment)."""
    siblings = el.parent.contents
    for sibling in siblings[siblings.index(el) + 1 :]:
        if type(sibling) is _Node or (type(sibling) is not _Comment and sibling.strip()):
            return sibling
    return None


def _li(el: _Node, text: str, flags: frozenset) -> str:
    text = (text or "").strip()
    if not text:
        return "\n"
    parent = el.parent
    if parent is not None and parent.name == "ol":
        start = str(parent.get("start") or "")
        earlier = _previous_elements(el)
        bullet = "%d. " % ((int(start) if start.isnumeric() else 1) + sum(1 for s in earlier if s.name == "li"))
    else:
        bullet = "- "
    indent = " " * len(bullet)
    text = _LINE_WITH_CONTENT.sub(lambda m: indent + m.group(1) if m.group(1) else "", text)
    return bullet + text[len(bullet) :] + "\n"


def _previous_elements(el: _Node) -> list[_Node]:
    siblings = el.parent.contents
    return [s for s in siblings[: siblings.index(el)] if type(s) is _Node]


def _p(el: _Node, text: str, flags: frozenset) -> str:
    if _INLINE in flags:
        return " " + text.strip(" \t\r\n") + " "
    text = text.strip(" \t\r\n")
    return f"\n\n{text}\n\n" if text else ""


def _pre(el: _Node, text: str, flags: frozenset) -> str:
    code = el.get_text().strip("\n")
    if _INLINE in flags:  # e.g. inside a table cell: no room for a block
        return _code(el, " ".join(code.split()), flags)
    runs = _LONG_BACKTICKS.findall(code)
    fence = "`" * max(3, max(map(len, runs), default=0) + 1)
    language = "".join((el.get("data-language") or "").split()).replace("`", "")
    return f"\n\n{fence}{language}\n{code}\n{fence}\n\n"


def _q(el: _Node, text: str, flags: frozenset) -> str:
    return '"' + text + '"'


def _nothing(el: _Node, text: str, flags: frozenset) -> str:
    return ""


def _table(el: _Node, text: str, flags: frozenset) -> str:
    return "\n\n" + text.strip() + "\n\n"


def _caption(el: _Node, text: str, flags: frozenset) -> str:
    return text.strip() + "\n\n"


def _figcaption(el: _Node, text: str, flags: frozenset) -> str:
    return "\n\n" + text.strip() + "\n\n"


def _colspan(cell: _Node, limit: int) -> int:
    colspan = cell.get("colspan") or ""
    return max(1, min(limit, int(colspan))) if colspan.isdigit() else 1


def _td(el: _Node, text: str, flags: frozenset) -> str:
    # Pipe tables hold one line per cell: flatten paragraphs/lists, escape pipes.
    return " " + " ".join(text.split()).replace("|", "\\|") + " |" * _colspan(el, 100)


def _named(node: _Node, names: tuple) -> list[_Node]:
    return [d for d in node.descendants() if d.name in names]


def _tr(el: _Node, text: str, flags: frozenset) -> str:
    # markdownify's header rules: a first row of <th>, or the only row of a <thead>, is the
    # header; a first row with no <thead> in the table is taken as the header (inferred).
    parent = el.parent
    cells = _named(el, ("td", "th"))
    first_row = not _previous_elements(el)
    head_row = all(cell.name == "th" for cell in cells) or (parent.name == "thead" and len(_named(parent, ("tr",))) == 1)
    head_row_missing = first_row and (
        parent.name != "tbody" or (parent.parent is None or not _named(parent.parent, ("thead",)))
    )
    width = sum(_colspan(cell, 1000) for cell in cells)
    if first_row and (head_row or head_row_missing):
        return "|" + text + "\n" + "| " + " | ".join(["---"] * width) + " |\n"
    if first_row and (parent.name == "table" or (parent.name == "tbody" and not _previous_elements(parent))):
        overline = "| " + " | ".join([""] * width) + " |\n" + "| " + " | ".join(["---"] * width) + " |\n"
        return overline + "|" + text + "\n"
    return "|" + text + "\n"


def _cf_raw(el: _Node, text: str, flags: frozenset) -> str:
    return "\n\n" + el.get_text().strip("\n") + "\n\n"


def _document(el: _Node, text: str, flags: frozenset) -> str:
    return text.strip("\n")


_CONVERTERS: dict[str, Callable[[_Node, str, frozenset], str]] = {
    "[document]": _document,
    "a": _a,
    "b": _inline("**"),
    "strong": _inline("**"),
    "em": _inline("*"),
    "i": _inline("*"),
    "del": _inline("~~"),
    "s": _inline("~~"),
    "sub": _inline(""),
    "sup": _inline(""),
    "blockquote": _blockquote,
    "br": _br,
    "code": _code,
    "kbd": _code,
    "samp": _code,
    "div": _div,
    "article": _div,
    "section": _div,
    "dl": _div,
    "dd": _dd,
    "dt": _dt,
    "hr": _hr,
    "img": _img,
    "video": _video,
    "ul": _list,
    "ol": _list,
    "li": _li,
    "p": _p,
    "pre": _pre,
    "q": _q,
    "script": _nothing,
    "style": _nothing,
    "table": _table,
    "caption": _caption,
    "figcaption": _figcaption,
    "td": _td,
    "th": _td,
    "tr": _tr,
    "cf-raw": _cf_raw,
}

_MARKDOWN = _Markdown()


def _tidy(markdown: str) -> str:
    """Strip trailing spaces, keep at most one blank line, resolve <br/> markers.

    Fenced code is copied verbatim: its spacing is content.
    """
    lines = markdown.replace("\r\n", "\n").split("\n")
    out: list[str] = []
    fence = ""
    for i, line in enumerate(lines):
        if fence:
            out.append(line)
            if _closes(line, fence):
                fence = ""
            continue
        line = line.replace("\xa0", " ").rstrip()
        if line.endswith(_BR):
            line = line.rstrip(_BR).rstrip()
            following = lines[i + 1] if i + 1 < len(lines) else ""
            if _has_text(line) and _has_text(following):
                line += "\\"
        line = _INNER_SPACES.sub(" ", line.replace(_BR, "").rstrip())
        opening = _FENCE_OPEN.match(line)
        if opening:
            fence = opening.group(1)
        if not line and (not out or not out[-1]):
            continue
        out.append(line)
    return "\n".join(out).strip("\n")


def _closes(line: str, fence: str) -> bool:
    rest = line.lstrip(" \t>").rstrip()
    return len(rest) >= len(fence) and rest == fence[0] * len(rest)


def _has_text(line: str) -> bool:
    return bool(line.replace(_BR, "").strip(" \t>"))
