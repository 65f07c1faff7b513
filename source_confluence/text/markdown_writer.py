"""Markdown writer for the rewritten node tree (see ``markdown_tree``).

``Markdown`` is a port of markdownify 1.2.3's ``MarkdownConverter``
(https://github.com/matthewwithanm/python-markdownify, MIT licence,
copyright 2012-2018 Matthew Tretter), cut down to the options we use (ATX
headings, "-" bullets, "*" emphasis, no "_" escaping, table header
inference) plus our overrides (<br/> marker, fenced <pre> with a language,
images everywhere, one-line table cells, cf-raw).  The whitespace and
newline rules are markdownify's, step for step, so the Markdown is the same.

Why a port and not markdownify itself: speed (see ``markdown``'s
docstring).  markdownify copies a set of every ancestor's tag name and runs
several isinstance/regex checks per node; here a tag passes down only the
four context flags the rules ever ask about, and per-tag facts are computed
once per tag name.

Input: a tree in which ``markdown`` has already replaced every ``ac:`` /
``ri:`` element by plain HTML.  Output: Markdown still holding ``BR``
markers for ``markdown._tidy`` to resolve.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable

from source_confluence.text.markdown_tree import Comment, Node

__all__ = ["BR", "Markdown", "MARKDOWN"]

# <br/> becomes this marker; markdown._tidy turns it into a Markdown hard break ("\")
# only between two lines of text, where a hard break means something.
BR = "\x00"

# The context flags a tag passes down to its descendants (markdownify's parent_tags).
_PRE, _LI, _INLINE, _NOFORMAT = "pre", "li", "_inline", "_noformat"

_HEADING = re.compile(r"h(\d+)")
_NEWLINE_WHITESPACE = re.compile(r"[\t \r\n]*[\r\n][\t \r\n]*")
_WHITESPACE = re.compile(r"[\t ]+")
_ALL_WHITESPACE = re.compile(r"[\t \r\n]+")
_LINE_WITH_CONTENT = re.compile(r"^(.*)", re.M)
_BACKTICKS = re.compile(r"`+")
_LONG_BACKTICKS = re.compile(r"`{3,}")
_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")

# Blocks: whitespace-only text next to / just inside them is layout, not content.
_BLOCKS = frozenset(
    "p blockquote article div section ol ul li dl dt dd table thead tbody tfoot tr td th".split()
)


def _is_block(name: str) -> bool:
    return name in _BLOCKS or _HEADING.match(name) is not None


class Markdown:
    def __init__(self) -> None:
        self._tag_info: dict[str, tuple] = {}

    def convert(self, root: Node) -> str:
        _conversion.item_numbers = {}
        try:
            return self._tag(root, frozenset())
        finally:
            _conversion.item_numbers = None  # none kept between conversions (``_item_number``)

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

    def _tag(self, node: Node, flags: frozenset) -> str:
        # The hottest code of a sync's Markdown, one call per element: the per-name facts without a method call.
        block, adds, convert = self._tag_info.get(node.name) or self._info(node.name)
        inner = flags | adds if adds else flags
        contents = node.contents
        last = len(contents) - 1
        pieces = []
        for i, child in enumerate(contents):
            kind = type(child)
            if kind is Node:
                piece = self._tag(child, inner)
            elif kind is Comment:
                continue
            else:
                prev = contents[i - 1] if i else None
                after = contents[i + 1] if i < last else None
                # Whitespace next to a block, or at the start / end of one, is layout.
                strip_before = (block and not prev) or (type(prev) is Node and _blocky_name(prev.name))
                strip_after = (block and not after) or (type(after) is Node and _blocky_name(after.name))
                if (strip_before or strip_after) and not child.strip():
                    continue  # layout whitespace around / inside a block
                piece = _text(child, inner, strip_before, strip_after)
            if piece:
                pieces.append(piece)
        if len(pieces) < 2:  # nothing to join (most elements hold one piece)
            text = pieces[0] if pieces else ""
        else:
            text = "".join(pieces) if _PRE in inner else _join_collapsing_newlines(pieces)
        return convert(node, text, flags) if convert is not None else text


# One conversion's numbers of the items of each <ol>, by id() of the list and of the item (the tree does not change
# while it is written): counting an item's earlier siblings instead made a long list or table quadratic.
_conversion = threading.local()

_BLOCKY_NAMES: dict[str, bool] = {}


def _blocky_name(name: str) -> bool:
    """markdownify's should_remove_whitespace_outside for an element of this name: a block or <pre>."""
    blocky = _BLOCKY_NAMES.get(name)
    if blocky is None:
        blocky = _BLOCKY_NAMES[name] = name == "pre" or _is_block(name)
    return blocky


def _text(text: str, flags: frozenset, strip_before: bool, strip_after: bool) -> str:
    # The substring tests only skip regexes that would change nothing (most text).
    if _PRE not in flags:
        if "\n" in text or "\r" in text:
            text = _NEWLINE_WHITESPACE.sub("\n", text)
        if "\t" in text or "  " in text:
            text = _WHITESPACE.sub(" ", text)
    if _NOFORMAT not in flags:
        # "*" would be emphasis; text that looks like a tag would be read as inline HTML.
        if "*" in text:
            text = text.replace("*", r"\*")
        if "<" in text:
            text = _TAG_START.sub(r"\\<", text)
    if strip_before:
        text = text.lstrip(" \t\r\n")
    if strip_after:
        text = text.rstrip()
    return text


def _join_collapsing_newlines(pieces: list[str]) -> str:
    """Join, with the newlines where two pieces meet merged into at most a blank line."""
    out = []
    pending = ""  # the previous piece's trailing newlines, not yet written
    for piece in pieces:
        if piece[0] != "\n" and piece[-1] != "\n":
            if pending:
                out.append(pending)
                pending = ""
            out.append(piece)
            continue
        # The piece's leading newlines, its content, its trailing newlines (all of it leading if blank).
        unled = piece.lstrip("\n")
        content = unled.rstrip("\n")
        leading = piece[: len(piece) - len(unled)]
        if pending and leading:
            leading = "\n" * min(2, max(len(pending), len(leading)))
        elif pending:
            out.append(pending)
        out.append(leading)
        out.append(content)
        pending = unled[len(content) :]
    if pending:
        out.append(pending)
    return "".join(out)


def _chomp(text: str) -> tuple[str, str, str]:
    """Move one leading/trailing space outside inline markup: "<b> x</b>" -> " **x**"."""
    prefix = " " if text and text[0] == " " else ""
    suffix = " " if text and text[-1] == " " else ""
    return prefix, suffix, text.strip()


def _inline(markup: str):
    def convert(el: Node, text: str, flags: frozenset) -> str:
        if _NOFORMAT in flags:
            return text
        prefix, suffix, text = _chomp(text)
        return f"{prefix}{markup}{text}{markup}{suffix}" if text else ""

    return convert


def _a(el: Node, text: str, flags: frozenset) -> str:
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


def _blockquote(el: Node, text: str, flags: frozenset) -> str:
    text = (text or "").strip(" \t\r\n")
    if _INLINE in flags:
        return " " + text + " "
    if not text:
        return "\n"
    return "\n" + _LINE_WITH_CONTENT.sub(lambda m: "> " + m.group(1) if m.group(1) else ">", text) + "\n\n"


def _br(el: Node, text: str, flags: frozenset) -> str:
    return " " + text if _INLINE in flags else BR + "\n" + text


def _code(el: Node, text: str, flags: frozenset) -> str:
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


def _div(el: Node, text: str, flags: frozenset) -> str:
    if _INLINE in flags:
        return " " + text.strip() + " "
    text = text.strip()
    return f"\n\n{text}\n\n" if text else ""


def _dd(el: Node, text: str, flags: frozenset) -> str:
    text = (text or "").strip()
    if _INLINE in flags:
        return " " + text + " "
    if not text:
        return "\n"
    text = _LINE_WITH_CONTENT.sub(lambda m: "    " + m.group(1) if m.group(1) else "", text)
    return ":" + text[1:] + "\n"


def _dt(el: Node, text: str, flags: frozenset) -> str:
    text = _ALL_WHITESPACE.sub(" ", (text or "").strip())
    if _INLINE in flags:
        return " " + text + " "
    return f"\n\n{text}\n" if text else "\n"


def _heading(level: int, text: str, flags: frozenset) -> str:
    if _INLINE in flags:
        return text
    text = _ALL_WHITESPACE.sub(" ", text.strip())
    return "\n\n%s %s\n\n" % ("#" * max(1, min(6, level)), text)


def _hr(el: Node, text: str, flags: frozenset) -> str:
    return "\n\n---\n\n"


def _img(el: Node, text: str, flags: frozenset) -> str:
    # Unlike markdownify's default, images stay inside table cells and headings.
    alt = (el.get("alt") or "").replace("[", "\\[").replace("]", "\\]")
    return f"![{alt}]({el.get('src') or ''})"


def _video(el: Node, text: str, flags: frozenset) -> str:
    if _INLINE in flags:
        return text
    src = el.get("src") or next((s.get("src") for s in el.descendants() if s.name == "source" and "src" in s.attrs), "") or ""
    poster = el.get("poster") or ""
    if src and poster:
        return f"[![{text}]({poster})]({src})"
    if src:
        return f"[{text}]({src})"
    return f"![{text}]({poster})" if poster else text


def _list(el: Node, text: str, flags: frozenset) -> str:
    if _LI in flags:  # nested list: no trailing newline
        return "\n" + text.rstrip()
    after = _next_content_sibling(el)
    before_paragraph = after is not None and getattr(after, "name", None) not in ("ul", "ol")
    return "\n\n" + text + ("\n" if before_paragraph else "")


def _next_content_sibling(el: Node):
    """The next sibling that is an element or non-blank text (not a comment)."""
    siblings = el.parent.contents
    for sibling in siblings[siblings.index(el) + 1 :]:
        if type(sibling) is Node or (type(sibling) is not Comment and sibling.strip()):
            return sibling
    return None


def _li(el: Node, text: str, flags: frozenset) -> str:
    text = (text or "").strip()
    if not text:
        return "\n"
    parent = el.parent
    if parent is not None and parent.name == "ol":
        start = str(parent.get("start") or "")
        bullet = "%d. " % ((int(start) if start.isnumeric() else 1) + _item_number(parent, el))
    else:
        bullet = "- "
    indent = " " * len(bullet)
    text = _LINE_WITH_CONTENT.sub(lambda m: indent + m.group(1) if m.group(1) else "", text)
    return bullet + text[len(bullet) :] + "\n"


def _item_number(parent: Node, item: Node) -> int:
    """How many <li> come before ``item`` among ``parent``'s children (numbered once per list and conversion)."""
    # Outside Markdown.convert nothing clears the numbers, and an id() may be reused: count afresh then.
    numbers = getattr(_conversion, "item_numbers", None)
    if numbers is None:
        numbers = {}
    of_list = numbers.get(id(parent))
    if of_list is None:
        items = (child for child in parent.contents if type(child) is Node and child.name == "li")
        of_list = numbers[id(parent)] = {id(child): n for n, child in enumerate(items)}
    return of_list[id(item)]


def _first_element(el: Node) -> bool:
    """Whether no element comes before ``el`` among its siblings (text and comments may)."""
    for sibling in el.parent.contents:
        if type(sibling) is Node:
            return sibling is el
    return False


def _p(el: Node, text: str, flags: frozenset) -> str:
    if _INLINE in flags:
        return " " + text.strip(" \t\r\n") + " "
    text = text.strip(" \t\r\n")
    return f"\n\n{text}\n\n" if text else ""


def _pre(el: Node, text: str, flags: frozenset) -> str:
    code = el.get_text().strip("\n")
    if _INLINE in flags:  # e.g. inside a table cell: no room for a block
        return _code(el, " ".join(code.split()), flags)
    runs = _LONG_BACKTICKS.findall(code)
    fence = "`" * max(3, max(map(len, runs), default=0) + 1)
    language = "".join((el.get("data-language") or "").split()).replace("`", "")
    return f"\n\n{fence}{language}\n{code}\n{fence}\n\n"


def _q(el: Node, text: str, flags: frozenset) -> str:
    return '"' + text + '"'


def _nothing(el: Node, text: str, flags: frozenset) -> str:
    return ""


def _table(el: Node, text: str, flags: frozenset) -> str:
    return "\n\n" + text.strip() + "\n\n"


def _caption(el: Node, text: str, flags: frozenset) -> str:
    return text.strip() + "\n\n"


def _figcaption(el: Node, text: str, flags: frozenset) -> str:
    return "\n\n" + text.strip() + "\n\n"


def _colspan(cell: Node, limit: int) -> int:
    colspan = cell.get("colspan") or ""
    return max(1, min(limit, int(colspan))) if colspan.isdigit() else 1


def _td(el: Node, text: str, flags: frozenset) -> str:
    # Pipe tables hold one line per cell: flatten paragraphs/lists, escape pipes.
    return " " + " ".join(text.split()).replace("|", "\\|") + " |" * _colspan(el, 100)


def _named(node: Node, names: tuple) -> list[Node]:
    return [d for d in node.descendants() if d.name in names]


def _tr(el: Node, text: str, flags: frozenset) -> str:
    # markdownify's header rules: a first row of <th>, or the only row of a <thead>, is the
    # header; a first row with no <thead> in the table is taken as the header (inferred).
    parent = el.parent
    cells = _named(el, ("td", "th"))
    first_row = _first_element(el)
    head_row = all(cell.name == "th" for cell in cells) or (parent.name == "thead" and len(_named(parent, ("tr",))) == 1)
    head_row_missing = first_row and (
        parent.name != "tbody" or (parent.parent is None or not _named(parent.parent, ("thead",)))
    )
    width = sum(_colspan(cell, 1000) for cell in cells)
    if first_row and (head_row or head_row_missing):
        return "|" + text + "\n" + "| " + " | ".join(["---"] * width) + " |\n"
    if first_row and (parent.name == "table" or (parent.name == "tbody" and _first_element(parent))):
        overline = "| " + " | ".join([""] * width) + " |\n" + "| " + " | ".join(["---"] * width) + " |\n"
        return overline + "|" + text + "\n"
    return "|" + text + "\n"


def _cf_raw(el: Node, text: str, flags: frozenset) -> str:
    return "\n\n" + el.get_text().strip("\n") + "\n\n"


def _document(el: Node, text: str, flags: frozenset) -> str:
    return text.strip("\n")


_CONVERTERS: dict[str, Callable[[Node, str, frozenset], str]] = {
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

MARKDOWN = Markdown()
