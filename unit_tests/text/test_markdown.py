"""Tests for source_confluence.text.markdown (storage format -> Markdown).

Expected fragments are written by hand from the inputs, not pasted from output.
Only the tests marked with `needs_samples` read ../shared; they skip when it is absent.
"""

from __future__ import annotations

import json
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from source_confluence.text import markdown
from source_confluence.text.markdown import mentioned_user_ids, storage_to_markdown

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "confluence-api" / "samples"
needs_samples = pytest.mark.skipif(not SAMPLES.is_dir(), reason=f"shared Confluence samples not found at {SAMPLES}")

BASE = "https://acme.atlassian.net/wiki"
# An unescaped Confluence tag or a CDATA opener would be raw XML in the output.
# ("\\<ac:" is escaped user text; "]]>" can be legitimate code, so only the sample test bans it.)
REMNANTS = re.compile(r"(?<!\\)</?(?:ac|ri):|<!\[CDATA\[")


def md(storage, **kwargs):
    out = storage_to_markdown(storage, **kwargs)
    assert not REMNANTS.search(out), out
    return out


def macro(name, body="", /, **params):
    ps = "".join(f'<ac:parameter ac:name="{k}">{v}</ac:parameter>' for k, v in params.items())
    return f'<ac:structured-macro ac:name="{name}" ac:schema-version="1" ac:macro-id="m1">{ps}{body}</ac:structured-macro>'


def rich(html):
    return f"<ac:rich-text-body>{html}</ac:rich-text-body>"


def plain(text):
    return f"<ac:plain-text-body><![CDATA[{text}]]></ac:plain-text-body>"


# ----------------------------------------------------------------- basics


@pytest.mark.parametrize("empty", [None, ""])
def test_empty_input_gives_empty_string(empty):
    assert storage_to_markdown(empty) == ""
    assert mentioned_user_ids(empty) == set()


def test_headings_are_atx():
    out = md("".join(f"<h{n}>Level {n}</h{n}>" for n in range(1, 7)))
    assert out.split("\n\n") == ["# Level 1", "## Level 2", "### Level 3", "#### Level 4", "##### Level 5", "###### Level 6"]


def test_paragraphs_emphasis_break_and_rule():
    out = md(
        "<p>One <strong>bold</strong> <b>b</b> <em>it</em> <i>i</i> <s>gone</s> <del>old</del> <u>under</u></p>"
        "<p>first line<br/>second line</p><hr/><p>after</p>"
    )
    assert out == (
        "One **bold** **b** *it* *i* ~~gone~~ ~~old~~ under\n\n"
        "first line\\\nsecond line\n\n---\n\nafter"
    )


def test_trailing_and_double_breaks_do_not_leave_stray_backslashes():
    assert md("<p>a<br/><br/>b<br /></p>") == "a\n\nb"


def test_entities_are_decoded():
    assert md("<p>It&rsquo;s&nbsp;here &amp; &#8220;quoted&#8221; &#x2014; ok</p>") == "It\u2019s here & \u201cquoted\u201d \u2014 ok"


def test_text_that_looks_like_a_tag_is_escaped_not_left_as_markup():
    out = md("<p>write &lt;ac:link&gt; and a &lt; b</p>")
    assert out == "write \\<ac:link> and a < b"


# ------------------------------------------------------------------ lists


def test_nested_unordered_and_ordered_lists():
    out = md("<ul><li>a<ul><li>a1</li><li>a2</li></ul></li><li><p>b</p></li></ul><ol><li>one</li><li>two<ol><li>two-a</li></ol></li></ol>")
    assert "- a\n  - a1\n  - a2\n- b" in out
    assert "1. one\n2. two\n   1. two-a" in out


def test_task_list_statuses_and_nesting():
    body = (
        "<ac:task-list>"
        "<ac:task><ac:task-id>1</ac:task-id><ac:task-status>complete</ac:task-status><ac:task-body>Ship it</ac:task-body></ac:task>"
        "<ac:task><ac:task-id>2</ac:task-id><ac:task-status>incomplete</ac:task-status>"
        "<ac:task-body><p>Write docs</p><ac:task-list><ac:task><ac:task-status>incomplete</ac:task-status>"
        "<ac:task-body>sub task</ac:task-body></ac:task></ac:task-list></ac:task-body></ac:task>"
        "</ac:task-list>"
    )
    out = md(body)
    assert out.startswith("- [x] Ship it\n- [ ] Write docs")
    assert "  - [ ] sub task" in out
    assert "complete" not in out.replace("[x]", "")  # status words are not content


# ----------------------------------------------------------------- tables


def test_table_with_header_row_colspan_and_block_cells():
    out = md(
        "<table><colgroup><col/><col/><col/></colgroup><tbody>"
        "<tr><th>Name</th><th>Notes</th><th>Owner</th></tr>"
        '<tr><td colspan="2"><p>first para</p><p>second para</p></td><td><ul><li>x</li><li>a|b</li></ul></td></tr>'
        "<tr><td>r2</td><td><strong>bold</strong></td><td>z</td></tr>"
        "</tbody></table>"
    )
    lines = out.splitlines()
    assert lines[0] == "| Name | Notes | Owner |"
    assert lines[1] == "| --- | --- | --- |"
    # the two-column cell keeps the column count; paragraphs and list items are flattened onto one line
    assert lines[2].startswith("| first para second para | |")
    assert "x" in lines[2] and "a\\|b" in lines[2]
    assert lines[3] == "| r2 | **bold** | z |"
    assert len(lines) == 4


def test_table_without_th_uses_first_row_as_header():
    lines = md("<table><tbody><tr><td>a</td><td>b</td></tr><tr><td>1</td><td>2</td></tr></tbody></table>").splitlines()
    assert lines == ["| a | b |", "| --- | --- |", "| 1 | 2 |"]


# ------------------------------------------------------------- code macros


def test_code_macro_keeps_cdata_exactly_with_language():
    code = 'if a < b && c > 0:\n    print("<b>&amp;</b>")\n\n\n\n    return  '
    out = md("<p>before</p>" + macro("code", plain(code), language="python", linenumbers="true") + "<p>after</p>")
    assert out == f"before\n\n```python\n{code}\n```\n\nafter"


def test_noformat_and_backticks_inside_code():
    out = md(macro("noformat", plain("run ```this``` now")))
    assert out == "````\nrun ```this``` now\n````"


def test_code_with_split_cdata_terminator():
    # Confluence stores "]]>" inside code as "]]]]><![CDATA[>"
    assert md(macro("code", "<ac:plain-text-body><![CDATA[a ]]]]><![CDATA[> b]]></ac:plain-text-body>")) == "```\na ]]> b\n```"


def test_code_macro_title_and_code_inside_list():
    out = md("<ul><li>step" + macro("code", plain("make\n  all"), language="bash", title="Build") + "</li></ul>")
    assert "**Build**" in out
    assert "  ```bash\n  make\n    all\n  ```" in out


# ------------------------------------------------------------------ panels


@pytest.mark.parametrize("name,label", [("info", "Info"), ("note", "Note"), ("warning", "Warning"), ("tip", "Tip")])
def test_panel_macros_become_labelled_blockquotes(name, label):
    out = md(macro(name, rich("<p>Mind the <em>gap</em>.</p><p>Second paragraph.</p>"), icon="true"))
    assert out == f"> **{label}:** Mind the *gap*.\n>\n> Second paragraph."


def test_panel_with_title_and_nested_code():
    out = md(macro("panel", rich("<p>Inside</p>" + macro("code", plain("x = 1"), language="py")), title="Deploy steps", bgColor="#fff"))
    assert out == "> **Deploy steps**\n>\n> Inside\n>\n> ```py\n> x = 1\n> ```"


def test_info_with_title_keeps_kind():
    assert md(macro("warning", rich("<p>Do not.</p>"), title="Danger")).startswith("> **Warning: Danger**\n>\n> Do not.")


# ------------------------------------------------------------ other macros


def test_expand_macro_title_then_body():
    out = md(macro("expand", rich("<p>Hidden text</p>"), title="Details"))
    assert out == "**Details**\n\nHidden text"


@pytest.mark.parametrize("name", ["toc", "children", "anchor"])
def test_navigation_macros_are_dropped(name):
    assert md("<p>a</p>" + macro(name, maxLevel="2", all="true") + "<p>b</p>") == "a\n\nb"


def test_status_macro_is_bracketed_title():
    out = md("<p>State: " + macro("status", colour="Green", title="In progress") + "</p>")
    assert out == "State: [In progress]"
    assert "Green" not in out


def test_jira_macro_is_issue_key():
    out = md("<p>See " + macro("jira", server="System JIRA", serverId="abc-123", key="PROJ-42") + " today</p>")
    assert out == "See PROJ-42 today"


def test_excerpt_macro_is_its_body():
    assert md(macro("excerpt", rich("<p>The short version.</p>"), hidden="false")) == "The short version."


def test_include_and_excerpt_include_link_when_known():
    include = macro("include", "", **{"": '<ac:link><ri:page ri:content-title="Shared Setup" ri:space-key="OPS"/></ac:link>'})
    excerpt = macro("excerpt-include", "", **{"": '<ac:link><ri:page ri:content-title="Summary"/></ac:link>'})
    urls = {"OPS:Shared Setup": "https://acme/ops/setup"}
    out = md(include + excerpt, page_urls=urls, space_key="ENG")
    assert "(included page: [Shared Setup](https://acme/ops/setup))" in out
    assert "(included excerpt: Summary)" in out


@pytest.mark.parametrize("name", ["view-file", "viewpdf"])
def test_view_file_macros_link_to_attachment(name):
    body = macro(name, "", name='<ri:attachment ri:filename="Q3 report.pdf"/>', height="250")
    assert md(body, attachment_url=lambda f: f"{BASE}/download/attachments/1/{f}") == (
        f"[Q3 report.pdf]({BASE}/download/attachments/1/Q3%20report.pdf)"
    )
    assert md(body) == "Q3 report.pdf"


def test_unknown_macros_keep_body_text_never_markup():
    assert md(macro("details", rich("<p>Owner: Ann</p>"), id="x")) == "Owner: Ann"
    assert md(macro("plantuml", plain("A -> B"))) == "```\nA -> B\n```"
    assert md("<p>x</p>" + macro("recently-updated", max="5") + "<p>y</p>") == "x\n\ny"
    assert "secret" not in md(macro("mystery", rich("<p>kept</p>"), token="secret"))


def test_legacy_ac_macro_spelling():
    assert md('<ac:macro ac:name="code"><ac:plain-text-body><![CDATA[x<y]]></ac:plain-text-body></ac:macro>') == "```\nx<y\n```"


# ------------------------------------------------------------------- links


def test_html_links_absolute_kept_relative_resolved():
    out = md('<p><a href="https://example.org/a?b=1">ext</a> <a href="/spaces/ENG/pages/1">rel</a> <a href="/wiki/x">ctx</a></p>', base_url=BASE)
    assert "[ext](https://example.org/a?b=1)" in out
    assert f"[rel]({BASE}/spaces/ENG/pages/1)" in out
    assert "[ctx](https://acme.atlassian.net/wiki/x)" in out


def test_relative_links_on_data_center_context_path():
    out = md('<p><a href="/display/DOC/Home">a</a> <a href="/confluence/display/DOC/Home">b</a></p>', base_url="https://wiki.example.com/confluence")
    assert out == "[a](https://wiki.example.com/confluence/display/DOC/Home) [b](https://wiki.example.com/confluence/display/DOC/Home)"


def test_page_links_use_page_urls_or_fall_back_to_text():
    body = (
        '<p><ac:link><ri:page ri:content-title="Runbook"/></ac:link>, '
        '<ac:link ac:anchor="setup"><ri:page ri:content-title="Guide" ri:space-key="DOC"/><ac:plain-text-link-body><![CDATA[the <guide>]]></ac:plain-text-link-body></ac:link>, '
        '<ac:link><ri:page ri:content-title="Unknown Page"/><ac:link-body>see <strong>this</strong></ac:link-body></ac:link></p>'
    )
    urls = {"ENG:Runbook": "https://acme/runbook", "DOC:Guide": "https://acme/guide"}
    out = md(body, page_urls=urls, space_key="ENG")
    assert out == "[Runbook](https://acme/runbook), [the \\<guide>](https://acme/guide#setup), see **this**"


def test_bare_title_lookup_is_not_used_across_spaces():
    body = '<p><ac:link><ri:page ri:content-title="Home" ri:space-key="OTHER"/></ac:link></p>'
    assert md(body, page_urls={"Home": "https://acme/eng-home"}, space_key="ENG") == "Home"
    assert md(body, page_urls={"Home": "https://acme/home"}) == "[Home](https://acme/home)"


def test_attachment_links():
    body = '<p><ac:link><ri:attachment ri:filename="design.docx"/><ac:plain-text-link-body><![CDATA[the design]]></ac:plain-text-link-body></ac:link></p>'
    assert md(body, attachment_url=lambda f: "https://acme/att/" + f) == "[the design](https://acme/att/design.docx)"
    assert md(body) == "the design"
    assert md('<p><ac:link><ri:attachment ri:filename="a.txt"/></ac:link></p>') == "a.txt"


def test_user_mentions():
    body = (
        '<p><ac:link><ri:user ri:account-id="557058:abc"/></ac:link> and '
        '<ac:link><ri:user ri:userkey="8a7f808a"/></ac:link> and '
        '<ac:link><ri:user ri:username="jdoe"/></ac:link></p>'
    )
    out = md(body, user_names={"557058:abc": "Ann Lee", "jdoe": "John Doe"})
    assert out == "@Ann Lee and @user:8a7f808a and @John Doe"


def test_url_links():
    out = md('<p><ac:link><ri:url ri:value="https://status.example.com"/><ac:link-body>status</ac:link-body></ac:link></p>')
    assert out == "[status](https://status.example.com)"


# ------------------------------------------------------------------ images


def test_images():
    body = (
        '<p><ac:image ac:height="250"><ri:attachment ri:filename="arch diagram.png"/></ac:image></p>'
        '<p><ac:image><ri:url ri:value="https://cdn.example.com/x.png"/></ac:image></p>'
        '<p><img src="https://cdn.example.com/y.gif" alt="y"/> <img src="/download/z.png"/></p>'
    )
    assert md(body, base_url=BASE, attachment_url=lambda f: f"{BASE}/download/attachments/9/{f}") == (
        f"![arch diagram.png]({BASE}/download/attachments/9/arch%20diagram.png)\n\n"
        "![](https://cdn.example.com/x.png)\n\n"
        f"![y](https://cdn.example.com/y.gif) ![]({BASE}/download/z.png)"
    )
    assert md(body).startswith("![arch diagram.png](arch%20diagram.png)")


def test_image_inside_table_cell_is_kept():
    out = md('<table><tr><th>Pic</th></tr><tr><td><ac:image><ri:attachment ri:filename="a.png"/></ac:image></td></tr></table>')
    assert "| ![a.png](a.png) |" in out


# ------------------------------------------------------- small inline elements


def test_emoticon_time_placeholder_and_comment_marker():
    body = (
        '<p><ac:emoticon ac:name="smile"/> met on <time datetime="2024-03-05"/>'
        '<ac:placeholder>Type your notes here</ac:placeholder>, '
        '<ac:inline-comment-marker ac:ref="a1b2">reviewed text</ac:inline-comment-marker> '
        '<ac:emoticon ac:name="blue-star" ac:emoji-shortname=":star:" ac:emoji-fallback="*"/></p>'
    )
    assert md(body) == ":smile: met on 2024-03-05, reviewed text :star:"


def test_layouts_become_paragraph_blocks():
    body = (
        '<ac:layout><ac:layout-section ac:type="two_equal"><ac:layout-cell><p>left</p></ac:layout-cell>'
        "<ac:layout-cell><p>right</p></ac:layout-cell></ac:layout-section></ac:layout>"
    )
    assert md(body) == "left\n\nright"


# ------------------------------------------------------------- user ids


def test_mentioned_user_ids_collects_every_id_kind():
    body = (
        '<p><ac:link><ri:user ri:account-id="557058:abc" /></ac:link>'
        "<ac:link><ri:user ri:userkey='8a7f808a'/></ac:link>"
        '<ac:link><RI:USER ri:username="j&amp;doe"/></ac:link>'
        + macro("profile", "", user='<ri:user ri:account-id="557058:def"/>')
        + macro("code", plain('<ri:user ri:account-id="not-a-mention"/>'))
        + "</p>"
    )
    assert mentioned_user_ids(body) == {"557058:abc", "8a7f808a", "j&doe", "557058:def"}


# ------------------------------------------------------- robustness / hygiene


MALFORMED = [
    '<p>unclosed <strong>bold <ac:structured-macro ac:name="code"><ac:plain-text-body><![CDATA[x < y',
    '<ac:link><ri:page ri:content-title="A"',
    "<<<>>> &bogus; <p",
    '<?xml version="1.0"?><!DOCTYPE html><!-- comment --><p>hi</p>',
    '</ac:rich-text-body></p>text<ac:parameter ac:name="x">orphan</ac:parameter>',
    "<div>" * 3000 + "deep",
    "\x00<p>nul</p>",
    "http://example.com/not-html",
    '<ac:structured-macro ac:name="info"><ac:rich-text-body><table><tr><td><ac:task-list><ac:task>',
    "<table><tr><td>a<td>b<tr><td>c</table>",
    "<ac:structured-macro><ri:user/></ac:structured-macro><ac:emoticon/><ac:image/><ac:link/>",
]


@pytest.mark.parametrize("junk", MALFORMED)
def test_malformed_input_never_raises_and_never_leaks_markup(junk):
    out = md(junk)
    assert isinstance(out, str)


def test_malformed_input_degrades_to_its_text():
    assert "unclosed" in md(MALFORMED[0]) and "x < y" in md(MALFORMED[0])
    assert md(MALFORMED[3]) == "hi"
    assert md(MALFORMED[5]) == "deep"  # too deep for the converter: plain-text fallback


def test_output_has_no_trailing_spaces_or_runs_of_blank_lines():
    out = md("<p>a   </p><p></p><p>&nbsp;</p><p> </p><div><br/><br/><br/></div><p>b  <br/></p>" + macro("toc") + "<p>c</p>")
    assert out == "a\n\nb\n\nc"


# ------------------------------------------------------- real sample bodies


def _load(name):
    return json.loads((SAMPLES / name).read_text(encoding="utf-8"))


def _storage_values(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "storage" and isinstance(value, dict) and isinstance(value.get("value"), str):
                yield value["value"]
            else:
                yield from _storage_values(value)
    elif isinstance(node, list):
        for value in node:
            yield from _storage_values(value)


@needs_samples
def test_sample_mcp_meeting_page():
    body = _load("mcp-atlassian__mock_page_response.json")["body"]["storage"]["value"]
    assert mentioned_user_ids(body) == {"user123"}
    out = md(body, user_names={"user123": "Jane Roe"})
    assert out.startswith("## :blue-star: Date\n\n2024-01-01\n\n## :blue-star: Participants\n\n- @Jane Roe\n\n")
    assert "## :blue-star: Goals\n\n- Example goal" in out
    assert out.endswith("@Jane Roe")  # the profile macro names its user
    assert "@user:user123" in md(body)


@needs_samples
def test_sample_cloud_page_with_layout_and_macro():
    body = _load("cloud-v1-content-page-expanded.airbyte.json")["record"]["body"]["storage"]["value"]
    out = md(body)
    assert out.startswith(
        "Say hello to your colleagues who want to know your name, pronouns, role, team and location (or if you're remote)."
    )
    assert "recently-updated" not in out and "f9d6b4ce" not in out and "5" not in out
    assert "color" not in out


@needs_samples
def test_sample_cloud_blogpost():
    body = _load("cloud-v1-content-blogpost-expanded.airbyte.json")["record"]["body"]["storage"]["value"]
    assert md(body) == "**Lorem Ipsum** is simply dummy text of the printing and typesetting industry. \u2026"


@needs_samples
def test_sample_data_center_search_result():
    body = _load("dc-v1-content-search-body-storage.epam.json")["body"]["results"][0]["body"]["storage"]["value"]
    out = md(body)
    assert out.startswith("We've decided to use the following estimation for the test cases for AQA:\n\n- S - 1h\n- M - 3H\n- L - 5H")


@needs_samples
def test_sample_cloud_v2_page():
    body = _load("cloud-v2-page-by-id.synth.json")["body"]["body"]["storage"]["value"]
    assert md(body) == "Page for Sev1 and Sev2 only."


@needs_samples
def test_sample_comments_have_view_body_only():
    # This fixture expands body.view, not body.storage; view HTML is plain HTML and converts too.
    comment = _load("mcp-atlassian__mock_comments_response.json")["results"][0]
    assert list(_storage_values(comment)) == []
    assert md(comment["body"]["view"]["value"]) == "Comment content here"


@needs_samples
def test_every_sample_storage_body_converts_without_markup_remnants():
    bodies = [body for path in sorted(SAMPLES.glob("*.json")) for body in _storage_values(_load(path.name))]
    assert len(bodies) >= 8
    for body in bodies:
        out = md(body, base_url=BASE)  # md() asserts no <ac:, <ri:, CDATA markers
        assert "ac:" not in out and "ri:" not in out and "]]>" not in out and "CDATA" not in out
        assert not re.search(r"\n{3,}| +$", out, re.M)


# ------------------------------------------- parser (lxml) traps and fast path


def test_self_closing_tags_do_not_swallow_what_follows():
    # lxml's HTML parser must not read <p /> or <time/> as an open element around the rest.
    assert md("<p>a</p><p />b<p/>c") == "a\n\nbc"  # empty paragraphs, not openers
    assert md('<p>on <time datetime="2024-05-06"/> then <span/>more</p>') == "on 2024-05-06 then more"
    assert md('<p>a<ac:emoticon ac:name="smile" />b<ac:placeholder />c</p>') == "a:smile:bc"


def test_cdata_with_markup_and_terminator_like_content_survives_lxml():
    # lxml would make CDATA a comment: it is escaped to text first, markup and all.
    code = 'if a[b[0]] > 1: print("<p/></ac:link> &amp;")'
    body = macro("code", "<ac:plain-text-body><![CDATA[" + code.replace("]]>", "]]]]><![CDATA[>") + "]]></ac:plain-text-body>")
    assert storage_to_markdown("<p>x</p>" + body + "<p>y</p>") == f"x\n\n```\n{code}\n```\n\ny"


def test_namespaced_tags_survive_lxml_in_any_case():
    # libxml2 lowercases but keeps the prefix: "ac:structured-macro", "ri:user", "ac:name".
    body = '<AC:STRUCTURED-MACRO AC:NAME="Info"><AC:RICH-TEXT-BODY><p>x <AC:LINK><RI:USER RI:ACCOUNT-ID="u1"/></AC:LINK></p></AC:RICH-TEXT-BODY></AC:STRUCTURED-MACRO>'
    assert md(body, user_names={"u1": "Ann"}) == "> **Info:** x @Ann"


def test_html_error_recovery_is_the_browsers():
    assert md("<ul><li>one<li>two</ul>") == "- one\n- two"
    assert md("<table><tr><td>a<td>b<tr><td>c</table>") == "| a | b |\n| --- | --- |\n| c |"


def test_plain_html_fast_path_still_fixes_links_images_and_time():
    body = '<p>see <a href="/x">x</a> <img src="/y.png" alt="y"/> on <time datetime="2024-01-02"/>, &lt;ac:link&gt; is text</p>'
    expected = f"see [x]({BASE}/x) ![y]({BASE}/y.png) on 2024-01-02, \\<ac:link> is text"
    assert md(body, base_url=BASE) == expected  # no ac:/ri: tag: the fast path
    forced = "<ac:inline-comment-marker>" + body + "</ac:inline-comment-marker>"  # same body through the full walk
    assert md(forced, base_url=BASE) == expected


def test_a_body_converts_alone_whatever_the_thread_converted_before():
    # One parser and tree builder per thread serve every body: nothing of the last body may stay.
    first = md(macro("info", rich("<p>first body</p>")) + '<p><a href="/one">one</a></p>', base_url=BASE)
    assert "first body" in first and f"({BASE}/one)" in first
    assert md("<p>" + "<div>" * 3000 + "too deep</p>") == "too deep"  # the plain-text fallback in between
    assert md("<p>second <em>body</em></p>") == "second *body*"
    assert md('<p>on <time datetime="2024-01-02"/></p>') == "on 2024-01-02"


def test_threads_converting_at_once_give_each_body_its_own_markdown():
    # The connector's stream threads convert bodies side by side (before the process pool starts).
    bodies = [
        f'<h2>Page {n}</h2><p>text {n} <ac:link><ri:user ri:account-id="u{n}"/></ac:link></p>'
        + macro("code", f"<ac:plain-text-body><![CDATA[print({n})]]></ac:plain-text-body>")
        for n in range(40)
    ]
    expected = [f"## Page {n}\n\ntext {n} @user:u{n}\n\n```\nprint({n})\n```" for n in range(40)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(storage_to_markdown, bodies * 10))
    assert results == expected * 10


def test_each_thread_parses_with_a_builder_of_its_own():
    # A builder holds the tree being built: two threads sharing one would mix their bodies' elements.
    threads = 4
    together = threading.Barrier(threads)

    def builder_of_this_thread():
        builder = markdown._PARSERS.builder
        together.wait(timeout=10)  # every thread holds its builder at once
        return builder

    with ThreadPoolExecutor(max_workers=threads) as pool:
        builders = [pool.submit(builder_of_this_thread) for _ in range(threads)]
        builders = [future.result() for future in builders]
    assert len({id(builder) for builder in builders}) == threads
