"""How fast source_confluence.text.markdown converts storage bodies, and whether its output changed.

Not a test (pytest never collects bench/).  Usage:

    .venv/bin/python -m bench.markdown_speed                       # time the corpus: ms per body
    .venv/bin/python -m bench.markdown_speed --save /tmp/md_baseline.json   # record every output
    .venv/bin/python -m bench.markdown_speed --check /tmp/md_baseline.json  # compare every output to it
    .venv/bin/python -m bench.markdown_speed --profile             # cProfile of one pass, top functions

Corpus: every page and blog post body of two emulator sites (cloud, seed 3, 300 pages: mentions with
ri:account-id; data_center: ri:userkey), the storage body of every sample in
../shared/confluence-api/samples, and the inputs of a few hand-written edge cases.  Each body is
converted twice: as the connector calls it (base_url, space_key) and with every lookup filled in
(user names, page URLs, attachment URLs), so the check covers mentions, links and images too.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from source_confluence.text.markdown import mentioned_user_ids, storage_to_markdown  # noqa: E402

SAMPLES = ROOT.parent / "shared" / "confluence-api" / "samples"

EDGE_CASES = [
    "<p />text after an empty paragraph<p/>and <br>another<br />",
    "<P>Upper<STRONG>case</STRONG> tags</P><AC:STRUCTURED-MACRO AC:NAME=\"info\"><AC:RICH-TEXT-BODY><p>x</p></AC:RICH-TEXT-BODY></AC:STRUCTURED-MACRO>",
    '<ac:structured-macro ac:name="code"><ac:plain-text-body><![CDATA[a ]]]]><![CDATA[> b <p/> </ac:link> &amp;]]></ac:plain-text-body></ac:structured-macro>',
    '<p>a<ac:emoticon ac:name="smile" />b<ri:user ri:account-id="x" />c<ac:placeholder />d</p>',
    "<table><tr><td>a<td>b<tr><td>c</table>",
    "<p>plain <em>html</em> only, &lt;ac:link&gt; as text &amp; a <a href='/x'>link</a> <img src='y.png'/></p><ul><li>one<li>two</ul>",
    '<ac:layout><ac:layout-section ac:type="single"><ac:layout-cell><p>cell</p><p /></ac:layout-cell></ac:layout-section></ac:layout>',
    "<div><span/>text in span?</div><p>x</p>",
    "<p>a<script>var x = '<p>';</script>b<style>p{}</style>c<textarea><b>t</b></textarea>d<title>t</title></p>",
    "<![CDATA[top-level cdata <p>]]><p>after</p><!-- c --><?pi x?>",
    "<p>one</p>\n\n<p>two</p>  \n<pre>  pre\n  text </pre><code>x  y</code>",
    '<p>x</p><ac:structured-macro ac:name="code"><ac:plain-text-body><![CDATA[unterminated',
    "<h1>t<h2>u</h2>",
    "<p>nbsp&nbsp;&nbsp;x &#0; &#x110000; &bogus &amp</p>",
    "just text, no tags",
    "<ri:page ri:content-title='Loose'/> <ac:link><ri:page ri:content-title=\"T&amp;C\" ri:space-key=\"DOC\"/></ac:link>",
    '<p><ac:link><ri:user ri:userkey="8a7f808a"/></ac:link> <ac:link><ri:user ri:username="jdoe"/></ac:link></p>',
    '<ac:image ac:alt="alt text"><ri:url ri:value="https://x/y.png" /></ac:image><ac:image><ri:attachment ri:filename="a b.png"></ri:attachment></ac:image>',
    "<ul><li><p>a</p><ul><li>b<table><tr><td>c</td></tr></table></li></ul></li></ul>",
    "<p>x<br/><br/>y</p><p><time datetime='2024-01-02' /></p><p><time>March</time></p>",
    "<body><html><p>nested html</p></html></body>",
    "<p>&lt;![CDATA[not cdata]]&gt;</p>",
    "<frameset><p>frameset</p></frameset><noscript><p>ns</p></noscript>",
    "<select><option>a<option>b</select><p>q<p>r",
    # Item numbers and a table's first row, found without counting earlier siblings: text, comments and other
    # elements between the items, a start, nested lists, several tbody, whitespace before the first row.
    "<ol start='3'><li>a</li><!-- c --><li>b</li> <p>x</p><li>c<ol><li>n</li><li>m</li></ol></li></ol><ol start='x'><li>d</li></ol>",
    "<table> <!-- c --> <tbody> <tr><td>1</td><td colspan='2'>2</td></tr> <tr><td>3</td></tr></tbody><tbody><tr><td>4</td></tr></tbody></table>",
    "<table><thead> <tr><th>h</th></tr></thead><tbody><tr><td>1</td></tr></tbody></table><table><thead><tr><td>a</td></tr><tr><td>b</td></tr></thead></table>",
    "<ol>" + "".join("<li>item %d</li>" % i for i in range(120)) + "</ol>",
]


def emulator_bodies(pages: int = 300) -> list[str]:
    from confluence_emulator import Emulator

    bodies = []
    for profile in ("cloud", "data_center"):
        with Emulator(profile=profile, seed=3, pages=pages) as emu:
            bodies += [emu.site.storage(c) for c in emu.site.content.values() if c.type in ("page", "blogpost")]
    return bodies


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


def sample_bodies() -> list[str]:
    bodies = []
    for path in sorted(SAMPLES.glob("*.json")):
        bodies += _storage_values(json.loads(path.read_text(encoding="utf-8")))
    return bodies


def corpus() -> tuple[list[str], list[str]]:
    """(emulator bodies, sample + edge-case bodies)."""
    return emulator_bodies(), sample_bodies() + EDGE_CASES


def _rich_kwargs(body: str) -> dict:
    ids = sorted(mentioned_user_ids(body))
    return {
        "base_url": "https://acme.atlassian.net/wiki",
        "space_key": "ENG",
        "user_names": {uid: f"User {i}" for i, uid in enumerate(ids) if i % 2 == 0},
        "page_urls": _PageUrls(),
        "attachment_url": lambda name: f"/download/attachments/1/{name}",
    }


class _PageUrls(dict):
    """Every lookup hits: a page URL made from its title."""

    def __contains__(self, key):
        return True

    def __getitem__(self, key):
        return "https://acme.atlassian.net/wiki/p/" + key.replace(" ", "-")

    def get(self, key, default=None):
        return self[key]


def outputs(bodies: list[str]) -> list[list[str]]:
    return [
        [storage_to_markdown(b, base_url="https://acme.atlassian.net/wiki", space_key="ENG"), storage_to_markdown(b, **_rich_kwargs(b))]
        for b in bodies
    ]


def timing(bodies: list[str], rounds: int) -> tuple[float, float]:
    """(median ms per body, total ms per pass), best of `rounds` passes."""
    best = None
    for _ in range(rounds):
        per = []
        for b in bodies:
            t0 = time.perf_counter()
            storage_to_markdown(b, base_url="https://acme.atlassian.net/wiki", space_key="ENG")
            per.append(time.perf_counter() - t0)
        total = sum(per)
        if best is None or total < best[1]:
            best = (statistics.median(per) * 1000, total * 1000)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--save", type=Path, help="write every output to this JSON file")
    parser.add_argument("--check", type=Path, help="compare every output with this JSON file")
    parser.add_argument("--profile", action="store_true", help="cProfile one pass over the emulator bodies")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    emu, other = corpus()
    everything = emu + other
    sizes = sorted(len(b) for b in emu)
    print(f"corpus: {len(emu)} emulator bodies (median {sizes[len(sizes) // 2]} chars), {len(other)} sample/edge bodies")

    if args.profile:
        prof = cProfile.Profile()
        prof.enable()
        for b in emu:
            storage_to_markdown(b, base_url="https://acme.atlassian.net/wiki", space_key="ENG")
        prof.disable()
        pstats.Stats(prof).sort_stats("cumulative").print_stats(40)
        return 0

    if args.save or args.check:
        got = outputs(everything)
        record = {"bodies": everything, "outputs": got}
        if args.save:
            args.save.write_text(json.dumps(record, ensure_ascii=False, indent=0), encoding="utf-8")
            print(f"saved {len(got)} x 2 outputs to {args.save}")
        if args.check:
            want = json.loads(args.check.read_text(encoding="utf-8"))
            if want["bodies"] != everything:
                print("corpus differs from the baseline's: cannot compare")
                return 2
            diffs = [(i, k) for i, (w, g) in enumerate(zip(want["outputs"], got)) for k in range(2) if w[k] != g[k]]
            for i, k in diffs[:10]:
                print(f"--- body {i} (kwargs set {k}): {everything[i][:200]!r}")
                print(f"want: {want['outputs'][i][k][:600]!r}")
                print(f"got:  {got[i][k][:600]!r}")
            print(f"{len(diffs)} differing outputs of {2 * len(got)}")
            if diffs:
                return 1
        return 0

    storage_to_markdown(emu[0])  # warm-up (imports, caches)
    for label, bodies in (("emulator", emu), ("samples+edge", other)):
        median, total = timing(bodies, args.rounds)
        print(f"{label:>13}: median {median:.3f} ms/body, total {total:.1f} ms for {len(bodies)} bodies ({total / len(bodies):.3f} ms mean)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
