"""Confluence *storage format* (XHTML + ``ac:``/``ri:`` macros) -> readable Markdown.

Pipeline: lxml parses the body into a tree of small ``Node`` objects
(``markdown_tree``, built from its parse events, as bs4 did), every ``ac:`` /
``ri:`` element is rewritten into plain HTML (``<pre>``, ``<blockquote>``,
``<a>``, ``<img>``, text), ``markdown_writer`` writes the Markdown and
``_tidy`` cleans it up.  Each macro handler is a few lines; anything we do
not recognise degrades to its body text (or nothing), never raw XML.

Why not BeautifulSoup + markdownify (what this module used to be): the output
rules are markdownify's (``markdown_writer.Markdown`` is a port of its
``MarkdownConverter`` with our options and overrides, and gives the same
Markdown), but both libraries spend most of their time on per-node
generality we do not use: bs4 builds its tree through Python callbacks for
every parser event, markdownify copies a set of parent tag names and runs
several isinstance/regex checks per node.  A sync converts tens of thousands
of bodies on a small machine, so this path was its main CPU cost; the lean
version is several times faster.

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
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from lxml import etree

from source_confluence.text.markdown_tree import Node, TreeBuilder, take_contents
from source_confluence.text.markdown_writer import BR, MARKDOWN

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
_FENCE_OPEN = re.compile(r"^[ \t>]*(`{3,}|~{3,})")
_INNER_SPACES = re.compile(r"(?<=\S) {2,}")

_PANEL_LABELS = {"info": "Info", "note": "Note", "warning": "Warning", "tip": "Tip", "panel": ""}
_USER_ID_ATTRS = ("ri:account-id", "ri:userkey", "ri:username")


@dataclass(frozen=True)
class _Ctx:
    root: Node
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
        root, marked = _parse(prepared)
        if root is None:  # nothing but comments / whitespace
            return ""
        confluence = _CONFLUENCE_TAG.search(prepared) is not None
        ctx = _Ctx(root, base_url or "", user_names or {}, page_urls or {}, space_key, attachment_url, confluence)
        _rewrite_confluence_tags(ctx, marked)
        return _tidy(MARKDOWN.convert(root))
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
    storage = _XML_DECL.sub("", storage.replace(BR, ""), count=1)
    if "<" not in storage:  # bare text: one paragraph, as it always was
        return f"<p>{storage}</p>"
    return _CDATA.sub(lambda m: html.escape(m.group(1), quote=False), storage)


def _plain_text(storage: str) -> str:
    text = html.unescape(_ANY_TAG.sub(" ", _CDATA.sub(lambda m: m.group(1), storage)))
    return "\n".join(line.strip() for line in _HSPACE.sub(" ", text.replace(BR, "")).splitlines())


class _TooDeep(Exception):
    """libxml2 stopped at its nesting limit and dropped the rest of the body."""


class _Parsers(threading.local):
    """One parser and tree builder per thread, reused for every body: lxml parsers are not thread-safe, and
    creating one with a Python target inspects the target's methods (about a tenth of a small body's time)."""

    def __init__(self) -> None:
        self.builder = TreeBuilder(mark_names=frozenset(_HTML_HANDLERS))
        # huge_tree lifts libxml2's nesting limit of 256; past the 2048 it still enforces, the tail of the
        # body is dropped, so _parse falls back to plain text instead.
        self.parser = etree.HTMLParser(target=self.builder, huge_tree=True)


def _parse(prepared: str) -> tuple[Node | None, list[Node]]:
    """(the body's tree or None, its ac:/ri: elements and the HTML ones _HTML_HANDLERS fixes, in document order)."""
    builder, parser = _PARSERS.builder, _PARSERS.parser
    try:
        root = etree.fromstring(prepared, parser)
        # The error log is the last parse's.
        if any(error.type == etree.ErrorTypes.ERR_RESOURCE_LIMIT for error in parser.error_log):
            raise _TooDeep  # the plain-text fallback keeps the dropped text
        return (root if root.contents else None), builder.marked
    finally:
        builder.reset()  # ready for the next body, whatever this one did; and it must not keep this one alive


def _attached(node: Node, root: Node) -> bool:
    while node.parent is not None:
        node = node.parent
    return node is root


def _rewrite_confluence_tags(ctx: _Ctx, marked: list[Node]) -> None:
    # `marked`: the elements _parse noted, in document order = outer before inner, so a macro reads its
    # own parameters before anything inside it is touched.  Handlers move the bodies they keep (the inner
    # tags are then handled later in this same loop) and decompose the rest.  A body without any ac:/ri:
    # tag (plain HTML, e.g. a view body) only needs its links, images and <time> fixed.
    for tag in marked:
        if not ctx.confluence and tag.name not in _HTML_HANDLERS:
            continue
        if not _attached(tag, ctx.root):  # inside something already decomposed
            continue
        handler = _TAG_HANDLERS.get(tag.name) or _HTML_HANDLERS.get(tag.name) or _unwrap
        handler(ctx, tag)


# ------------------------------------------------------------ tree-editing helpers


def _new(name: str, *children, **attrs) -> Node:
    return Node(name, {k.replace("_", "-"): v for k, v in attrs.items()}, children)


def _replace(tag: Node, *nodes) -> None:
    for node in nodes:
        tag.insert_before(node)
    tag.decompose()


def _unwrap(ctx: _Ctx, tag: Node) -> None:
    tag.unwrap()


def _drop(ctx: _Ctx, tag: Node) -> None:
    tag.decompose()


def _as_div(ctx: _Ctx, tag: Node) -> None:
    # Layout sections/cells are blocks; a div keeps the paragraph breaks.
    tag.name = "div"
    tag.attrs = {}


def _prepend(container: Node, *nodes) -> None:
    """Insert nodes at the start of the first paragraph, so a label shares its line."""
    first = next((c for c in container.contents if not (isinstance(c, str) and not c.strip())), None)
    target = first if type(first) is Node and first.name in ("p", "div") else container
    for node in reversed(nodes):
        target.insert(0, node)


def _children(tag: Node, name: str) -> list[Node]:
    return [c for c in tag.contents if type(c) is Node and c.name == name]


def _child(tag: Node, name: str) -> Node | None:
    return next((c for c in tag.contents if type(c) is Node and c.name == name), None)


def _param(macro: Node, name: str) -> str:
    tag = _param_tag(macro, name)
    return tag.get_text().strip() if tag is not None else ""


def _param_tag(macro: Node, name: str) -> Node | None:
    for param in _children(macro, "ac:parameter"):
        if (param.get("ac:name") or "").lower() == name:
            return param
    return None


def _rich_body(macro: Node) -> Node | None:
    return _child(macro, "ac:rich-text-body")


def _plain_body(macro: Node) -> str | None:
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


def _mention(ctx: _Ctx, user: Node) -> str:
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


def _link(ctx: _Ctx, tag: Node) -> None:
    target = next((c for c in tag.contents if type(c) is Node and c.name.startswith("ri:")), None)
    if target is not None and target.name == "ri:user":
        _replace(tag, _mention(ctx, target))  # a mention shows the person, whatever the link body says
        return
    href, default = _link_target(ctx, tag, target)
    label = _link_label(tag) or ([default] if default else [])
    _replace(tag, *_link_or_text(ctx, href, label))


def _link_target(ctx: _Ctx, tag: Node, target: Node | None) -> tuple[str | None, str]:
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


def _link_label(tag: Node) -> list:
    rich = _child(tag, "ac:link-body")
    if rich is not None and (rich.get_text().strip() or rich.find(True)):
        return take_contents(rich)
    plain = _child(tag, "ac:plain-text-link-body")
    text = plain.get_text() if plain is not None else ""
    return [text] if text.strip() else []


def _image(ctx: _Ctx, tag: Node) -> None:
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


def _emoticon(ctx: _Ctx, tag: Node) -> None:
    shortname = tag.get("ac:emoji-shortname") or ""
    name = tag.get("ac:name") or ""
    text = shortname if shortname.startswith(":") else f":{shortname or name}:" if shortname or name else ""
    _replace(tag, text)


def _html_link(ctx: _Ctx, tag: Node) -> None:
    if tag.get("href"):
        tag["href"] = _absolute(ctx, tag["href"])


def _html_image(ctx: _Ctx, tag: Node) -> None:
    if tag.get("src"):
        tag["src"] = _absolute(ctx, tag["src"])


def _time(ctx: _Ctx, tag: Node) -> None:
    _replace(tag, tag.get("datetime") or tag.get_text())


def _task_list(ctx: _Ctx, tag: Node) -> None:
    tasks = _children(tag, "ac:task") if tag.name == "ac:task-list" else [tag]
    _replace(tag, _new("ul", *(_task_item(ctx, task) for task in tasks)))


def _task_item(ctx: _Ctx, task: Node) -> Node:
    status = _child(task, "ac:task-status")
    done = status is not None and status.get_text().strip().lower() == "complete"
    item = _new("li", *take_contents(_child(task, "ac:task-body")))
    _prepend(item, "[x] " if done else "[ ] ")
    return item


def _adf_extension(ctx: _Ctx, tag: Node) -> None:
    # Cloud's editor-only nodes carry an HTML fallback meant for exactly this.
    fallback = tag.find("ac:adf-fallback")
    if fallback is not None:
        _replace(tag, _new("div", *take_contents(fallback)))
    else:
        tag.unwrap()


def _plain_text_body(ctx: _Ctx, tag: Node) -> None:
    _replace(tag, tag.get_text())


def _ri_text(ctx: _Ctx, tag: Node) -> None:
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


def _macro(ctx: _Ctx, tag: Node) -> None:
    name = (tag.get("ac:name") or "").lower()
    _MACROS.get(name, _unknown_macro)(ctx, tag, name)


def _code_macro(ctx: _Ctx, macro: Node, name: str) -> None:
    language = _param(macro, "language") if name == "code" else ""
    title = _param(macro, "title")
    pre = _new("pre", _plain_body(macro) or "", data_language=language)
    nodes = [_new("p", _new("strong", title)), pre] if title else [pre]
    _replace(macro, *nodes)


def _panel(ctx: _Ctx, macro: Node, name: str) -> None:
    quote = _new("blockquote", *take_contents(_rich_body(macro)))
    label, title = _PANEL_LABELS[name], _param(macro, "title")
    if title:
        heading = f"{label}: {title}" if label else title
        quote.insert(0, _new("p", _new("strong", heading)))
    elif label:
        _prepend(quote, _new("strong", f"{label}:"), " ")
    _replace(macro, quote)


def _expand(ctx: _Ctx, macro: Node, name: str) -> None:
    title = _param(macro, "title")
    heading = [_new("p", _new("strong", title))] if title else []
    _replace(macro, _new("div", *heading, *take_contents(_rich_body(macro))))


def _status(ctx: _Ctx, macro: Node, name: str) -> None:
    title = _param(macro, "title")
    _replace(macro, *([f"[{title}]"] if title else []))


def _jira(ctx: _Ctx, macro: Node, name: str) -> None:
    _replace(macro, _param(macro, "key"))


def _body_only(ctx: _Ctx, macro: Node, name: str) -> None:
    _replace(macro, *take_contents(_rich_body(macro)))


def _include(ctx: _Ctx, macro: Node, name: str) -> None:
    page = macro.find(("ri:page", "ri:blog-post"))
    title = page.get("ri:content-title") if page is not None else ""
    if not title:
        macro.decompose()
        return
    href = _page_url(ctx, title, page.get("ri:space-key"))
    what = "included excerpt" if name == "excerpt-include" else "included page"
    _replace(macro, _new("p", f"({what}: ", *_link_or_text(ctx, href, [title]), ")"))


def _view_file(ctx: _Ctx, macro: Node, name: str) -> None:
    attachment = macro.find("ri:attachment")
    filename = attachment.get("ri:filename") if attachment is not None else ""
    if not filename:
        macro.decompose()
        return
    _replace(macro, *_link_or_text(ctx, _attachment_href(ctx, filename), [filename]))


def _profile(ctx: _Ctx, macro: Node, name: str) -> None:
    user = macro.find("ri:user")
    _replace(macro, *([_mention(ctx, user)] if user is not None else []))


def _markdown_macro(ctx: _Ctx, macro: Node, name: str) -> None:
    # The body already is Markdown: pass it through unescaped (see markdown_writer._cf_raw).
    _replace(macro, _new("cf-raw", _plain_body(macro) or ""))


def _dropped(ctx: _Ctx, macro: Node, name: str) -> None:
    macro.decompose()


def _unknown_macro(ctx: _Ctx, macro: Node, name: str) -> None:
    body = _rich_body(macro)
    if body is not None:
        _replace(macro, _new("div", *take_contents(body)))
        return
    text = _plain_body(macro)
    _replace(macro, *([_new("pre", text)] if text and text.strip() else []))


_MACROS: dict[str, Callable[[_Ctx, Node, str], None]] = {
    "code": _code_macro,
    "noformat": _code_macro,
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

_TAG_HANDLERS: dict[str, Callable[[_Ctx, Node], None]] = {
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
_HTML_HANDLERS: dict[str, Callable[[_Ctx, Node], None]] = {
    "a": _html_link,
    "img": _html_image,
    "time": _time,
}

_PARSERS = _Parsers()  # after _HTML_HANDLERS, which its builder reads


# --------------------------------------------------------------------- clean-up
#
# Applied to the writer's output and to the plain-text fallback alike.


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
        # The substring tests only skip calls that would change nothing (most lines).
        if BR in line:
            if line.endswith(BR):
                line = line.rstrip(BR).rstrip()
                following = lines[i + 1] if i + 1 < len(lines) else ""
                if _has_text(line) and _has_text(following):
                    line += "\\"
            line = line.replace(BR, "").rstrip()
        if "  " in line:
            line = _INNER_SPACES.sub(" ", line)
        if "`" in line or "~" in line:
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
    return bool(line.replace(BR, "").strip(" \t>"))
