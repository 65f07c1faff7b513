"""Realistic storage-format (XHTML + ac:/ri: macros) bodies, and a simple `view` rendering."""
from __future__ import annotations

import html
import random
import re
import zlib

LANGS = ["python", "java", "sql", "bash", "javascript", "yaml"]
CODE = {
    "python": "def handler(event):\n    if event['count'] > 3 and event['x'] < 5:\n        return {'ok': True}\n",
    "java": "public class Main {\n  public static void main(String[] a) { System.out.println(\"<hi> & bye\"); }\n}\n",
    "sql": "SELECT id, title FROM content WHERE status = 'current' AND created > '2024-01-01';\n",
    "bash": "#!/bin/sh\nset -eu\ncurl -s \"$URL\" | jq '.results[] | .id'\n",
    "javascript": "const xs = [1, 2, 3].map((x) => x * 2);\nif (xs.length > 2 && xs[0] < 5) console.log(xs);\n",
    "yaml": "service:\n  name: ingest\n  replicas: 3\n",
}
WORDS = ("alpha beta gamma delta release roadmap incident customer onboarding pipeline quarterly budget "
         "migration review checklist architecture retention policy latency storage gateway backlog").split()


def _sentence_slow(rng: random.Random, n: int = 12) -> str:
    w = [rng.choice(WORDS) for _ in range(n)]
    return (" ".join(w)).capitalize() + "."


_NW = len(WORDS)
_KW = _NW.bit_length()


def _sentence_fast(rng: random.Random, n: int = 12) -> str:
    """The same draws as `rng.choice(WORDS)` n times (CPython's getrandbits rejection sampling), inlined: bodies
    are rendered lazily on the serving path, and this is most of their cost."""
    gb = rng.getrandbits
    w = []
    for _ in range(n):
        r = gb(_KW)
        while r >= _NW:
            r = gb(_KW)
        w.append(WORDS[r])
    return (" ".join(w)).capitalize() + "."


def _same_draws() -> bool:
    a, b = random.Random(12345), random.Random(12345)
    return all(_sentence_fast(a, 7) == _sentence_slow(b, 7) and a.random() == b.random() for _ in range(50))


_sentence = _sentence_fast if _same_draws() else _sentence_slow


def user_ref(site, account_id: str) -> str:
    u = site.users.get(account_id)
    if site.profile == "data_center":
        return '<ri:user ri:userkey="%s" />' % (u.user_key if u else account_id)
    return '<ri:user ri:account-id="%s" />' % account_id


def render(site, c):
    """Deterministic (site.seed, content id, version) body -> (storage, None); the view is rendered on demand
    (`Site.view_html`, with `storage_to_view(storage, site)`)."""
    rng = random.Random(zlib.crc32(('%s:%s:%d' % (site.seed, c.id, len(c.versions))).encode()))
    if c.type == "comment":
        s = "<p>%s</p>" % html.escape(_sentence(rng, 9))
        if rng.random() < 0.3:
            s += "<p>%s %s</p>" % (user_ref(site, c.author), html.escape(_sentence(rng, 5)))
        return s, None
    space = site.spaces.get(c.space_key)
    title = html.escape(c.title)
    parts = []
    parts.append("<h1>%s</h1>" % title)
    parts.append("<p>%s <strong>%s</strong> %s</p>" % (html.escape(_sentence(rng)), html.escape(rng.choice(WORDS)),
                                                          html.escape(_sentence(rng, 8))))
    parts.append('<ac:structured-macro ac:name="info" ac:schema-version="1" ac:macro-id="m-%s-1"><ac:rich-text-body>'
                 "<p>%s</p></ac:rich-text-body></ac:structured-macro>" % (c.id, html.escape(_sentence(rng, 7))))
    parts.append("<h2>Overview</h2><ul><li>%s</li><li>%s</li><li><p>Nested</p><ol><li>%s</li><li>%s</li></ol></li></ul>"
                 % tuple(html.escape(_sentence(rng, 5)) for _ in range(4)))
    lang = rng.choice(LANGS)
    parts.append('<ac:structured-macro ac:name="code" ac:schema-version="1" ac:macro-id="m-%s-2">'
                 '<ac:parameter ac:name="language">%s</ac:parameter><ac:parameter ac:name="title">example.%s</ac:parameter>'
                 "<ac:plain-text-body><![CDATA[%s]]></ac:plain-text-body></ac:structured-macro>" % (c.id, lang, lang, CODE[lang]))
    parts.append("<table><tbody><tr><th>Metric</th><th>Value</th><th>Owner</th></tr>"
                 + "".join("<tr><td>%s</td><td>%d</td><td>%s</td></tr>" % (rng.choice(WORDS), rng.randint(1, 999),
                                                                            user_ref(site, c.author).replace("<ri:", "<ac:link><ri:").replace(" />", " /></ac:link>"))
                           for _ in range(3))
                 + "</tbody></table>")
    kind = rng.choice(["note", "warning", "tip"])
    parts.append('<ac:structured-macro ac:name="%s" ac:schema-version="1"><ac:parameter ac:name="title">%s</ac:parameter>'
                 "<ac:rich-text-body><p>%s</p></ac:rich-text-body></ac:structured-macro>" % (kind, kind.title(), html.escape(_sentence(rng, 6))))
    if c.parent_id and c.parent_id in site.content:
        p = site.content[c.parent_id]
        parts.append('<p>Parent: <ac:link><ri:page ri:content-title="%s" ri:space-key="%s" /></ac:link></p>'
                     % (html.escape(p.title, quote=True), c.space_key))
        parts.append('<ac:structured-macro ac:name="include" ac:schema-version="1"><ac:parameter ac:name=""><ac:link>'
                     '<ri:page ri:content-title="%s" /></ac:link></ac:parameter></ac:structured-macro>' % html.escape(p.title, quote=True))
    parts.append("<p>Owner: <ac:link>%s</ac:link> &mdash; reviewed by <ac:link>%s</ac:link></p>"
                 % (user_ref(site, c.author), user_ref(site, c.owner or c.author)))
    imgs = [a for a in site.children(c, "attachment") if a.media_type and a.media_type.startswith("image/")] if c.type in ("page", "blogpost") and c.num % 4 == 0 else []
    if imgs:
        parts.append('<p><ac:image ac:height="150"><ri:attachment ri:filename="%s" /></ac:image></p>' % html.escape(imgs[0].filename, quote=True))
    parts.append("<ac:task-list><ac:task><ac:task-id>1</ac:task-id><ac:task-status>incomplete</ac:task-status>"
                 "<ac:task-body>%s</ac:task-body></ac:task><ac:task><ac:task-id>2</ac:task-id><ac:task-status>complete</ac:task-status>"
                 "<ac:task-body>%s</ac:task-body></ac:task></ac:task-list>" % (html.escape(_sentence(rng, 4)), html.escape(_sentence(rng, 4))))
    parts.append('<p>Status: <ac:structured-macro ac:name="status" ac:schema-version="1"><ac:parameter ac:name="colour">Green</ac:parameter>'
                 '<ac:parameter ac:name="title">%s</ac:parameter></ac:structured-macro></p>' % rng.choice(["DONE", "IN PROGRESS", "BLOCKED"]))
    parts.append('<ac:structured-macro ac:name="expand" ac:schema-version="1"><ac:parameter ac:name="title">Details</ac:parameter>'
                 "<ac:rich-text-body><p>%s</p></ac:rich-text-body></ac:structured-macro>" % html.escape(_sentence(rng, 10)))
    parts.append('<p>See <a href="https://example.com/docs/%s">external docs</a> and &lt;escaped&gt; &amp; text.</p>' % rng.choice(WORDS))
    for section in range(site.body_repeat.get(c.id, 0)):  # a huge page: many more sections of the same kinds
        parts.append("<h2>Section %d</h2><p>%s</p><table><tbody>%s</tbody></table>" % (
            section + 1, html.escape(" ".join(_sentence(rng, 14) for _ in range(6))),
            "".join("<tr><td>%s</td><td>%d</td></tr>" % (rng.choice(WORDS), rng.randint(1, 99999)) for _ in range(12))))
    if len(c.versions) > 1:
        parts.append("<p>Revision %d: %s</p>" % (len(c.versions), html.escape(c.versions[-1].message or "updated")))
    s = "".join(parts)
    return s, None


_RE_CODE = re.compile(r'<ac:structured-macro ac:name="code"[^>]*>(?:<ac:parameter[^>]*>[^<]*</ac:parameter>)*'
                      r"<ac:plain-text-body><!\[CDATA\[(.*?)\]\]></ac:plain-text-body></ac:structured-macro>", re.S)
_RE_PANEL = re.compile(r'<ac:structured-macro ac:name="(info|note|warning|tip|expand)"[^>]*>(?:<ac:parameter[^>]*>[^<]*</ac:parameter>)*'
                       r"<ac:rich-text-body>(.*?)</ac:rich-text-body></ac:structured-macro>", re.S)
_RE_STATUS = re.compile(r'<ac:structured-macro ac:name="status"[^>]*>.*?<ac:parameter ac:name="title">([^<]*)</ac:parameter></ac:structured-macro>', re.S)
_RE_INCLUDE = re.compile(r'<ac:structured-macro ac:name="include".*?</ac:structured-macro>', re.S)
_RE_PAGE = re.compile(r'<ac:link><ri:page ri:content-title="([^"]*)"[^>]*/></ac:link>')
_RE_USER = re.compile(r'<ac:link><ri:user ri:(?:account-id|userkey)="([^"]*)" /></ac:link>')
_RE_IMG = re.compile(r'<ac:image[^>]*><ri:attachment ri:filename="([^"]*)" /></ac:image>')
_RE_TASKS = re.compile(r"<ac:task>.*?<ac:task-status>(\w+)</ac:task-status><ac:task-body>(.*?)</ac:task-body></ac:task>", re.S)
_RE_RI_USER = re.compile(r'<ri:user ri:(?:account-id|userkey)="([^"]*)" />')


def storage_to_view(s: str, site=None) -> str:
    """A simple rendering of storage to HTML (macros expanded to plain markup)."""
    def uname(m):
        ident = m.group(1)
        u = site.user_by_any(ident) if site else None
        return '<a class="confluence-userlink user-mention" data-account-id="%s">%s</a>' % (ident, html.escape(u.display_name if u else ident))
    v = _RE_CODE.sub(lambda m: '<div class="code panel"><pre class="syntaxhighlighter-pre">%s</pre></div>' % html.escape(m.group(1)), s)
    v = _RE_PANEL.sub(lambda m: '<div class="confluence-information-macro confluence-information-macro-%s">%s</div>' % (m.group(1), m.group(2)), v)
    v = _RE_STATUS.sub(lambda m: '<span class="status-macro aui-lozenge">%s</span>' % m.group(1), v)
    v = _RE_INCLUDE.sub('<div class="included-page"></div>', v)
    v = _RE_PAGE.sub(lambda m: '<a href="/display/%s">%s</a>' % (m.group(1), m.group(1)), v)
    v = _RE_USER.sub(uname, v)
    v = _RE_RI_USER.sub(uname, v)
    v = _RE_IMG.sub(lambda m: '<img class="confluence-embedded-image" src="%s" />' % m.group(1), v)
    v = _RE_TASKS.sub(lambda m: '<li data-inline-task-status="%s">%s</li>' % (m.group(1), m.group(2)), v)
    v = v.replace("<ac:task-list>", '<ul class="inline-task-list">').replace("</ac:task-list>", "</ul>")
    return v
