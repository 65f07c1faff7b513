"""Time against site size, one line per client (run in bench/.venvs/plot: matplotlib 3.11.2)."""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

results, out = json.load(open(sys.argv[1])), sys.argv[2]
LINES = [("connector_full", "this connector, full sync", "o-"), ("connector_incremental", "this connector, incremental (1% changed)", "o--"),
         ("connector_full_no_markdown", "what-if: connector without Markdown conversion", "o-."),
         ("floor", "floor: count-balanced windows, 8 in flight", "*:"),
         ("ideal", "ideal client, one walk per space x type", "s:"),
         ("ideal_split", "ideal client, 12 windows per walk, 20 at a time", "D:"), ("airbyte_0_2_16", "official airbyte-source-confluence 0.2.16", "^-"),
         ("llamaindex", "LlamaIndex ConfluenceReader", "<-"), ("langchain", "LangChain ConfluenceLoader", "v-")]
fig, ax = plt.subplots(figsize=(12, 6))
# One colour per client, whatever the site shape: the real-shaped site is told apart by hollow markers.
COLOURS = {key: "C%d" % i for i, (key, _, _) in enumerate(LINES)}
shapes = list(dict.fromkeys(s.get("shape", "uniform") for s in results["sizes"]))
for shape in shapes:
    runs = [s for s in results["sizes"] if s.get("shape", "uniform") == shape]
    # The real-shaped site (recent edits, one big space) is drawn hollow beside the uniform one.
    hollow = {"markerfacecolor": "none", "alpha": 0.7} if shape != "uniform" else {}
    suffix = "" if len(shapes) == 1 else " [%s site]" % shape
    for key, label, style in LINES:
        pts = [(s["pages"], s[key]["wall_s"]) for s in runs if key in s and not s[key].get("timed_out")]
        if pts:
            line, = ax.plot([p[0] for p in pts], [p[1] for p in pts], style, label=label + suffix, color=COLOURS[key], **hollow)
            # A peer not run at the larger sizes: linear extrapolation from its largest measured size, dotted.
            if key in ("airbyte_0_2_16", "llamaindex", "langchain"):
                n, t = max(pts)
                more = [s["pages"] for s in runs if s["pages"] > n and key not in s]
                if more:
                    xs = [n] + more
                    ax.plot(xs, [t * x / n for x in xs], linestyle=":", marker=style[0], markerfacecolor="none",
                            color=line.get_color(), label=label + suffix + " (extrapolated)")
ax.set_xscale("log")
ax.set_yscale("log")
ax.set_xlabel("site size (pages; blog posts are 1/5 of that on top)")
ax.set_ylabel("wall time (s)")
lat = results["latency"]
# num_workers is absent (None) when the connector ran with its default config.
workers = ("num_workers %d" % results["num_workers"]) if results.get("num_workers") else "default config"
ax.set_title("Confluence sync time vs site size\n(%g ms/request + %g ms/body item + %g ms/other item; connector: %s)"
             % (lat["per_request_ms"], lat["per_body_item_ms"], lat["per_item_ms"], workers), fontsize=10)
ax.grid(True, which="both", alpha=0.3)
from matplotlib.ticker import FuncFormatter, NullFormatter  # noqa: E402
ax.xaxis.set_minor_formatter(NullFormatter())
ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: "{:,.0f}".format(v)))
ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: "{:,.0f}".format(v) if v >= 1 else "{:g}".format(v)))
ax.set_xticks(sorted({s["pages"] for s in results["sizes"]}))
ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
fig.tight_layout()
fig.savefig(out, dpi=120)
