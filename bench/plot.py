"""Time against site size, one line per client (run in bench/.venvs/plot: matplotlib 3.11.2)."""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

results, out = json.load(open(sys.argv[1])), sys.argv[2]
LINES = [("connector_full", "this connector, full sync", "o-"), ("connector_incremental", "this connector, incremental (1% changed)", "o--"),
         ("connector_full_no_markdown", "what-if: connector without Markdown conversion", "o-."),
         ("ideal", "ideal client (floor)", "s:"), ("airbyte_0_2_16", "official airbyte-source-confluence 0.2.16", "^-"),
         ("langchain", "LangChain ConfluenceLoader", "v-")]
fig, ax = plt.subplots(figsize=(8, 5.2))
for key, label, style in LINES:
    pts = [(s["pages"], s[key]["wall_s"]) for s in results["sizes"] if key in s and not s[key].get("timed_out")]
    if pts:
        ax.plot([p[0] for p in pts], [p[1] for p in pts], style, label=label)
ax.set_xscale("log")
ax.set_yscale("log")
ax.set_xlabel("site size (pages; blog posts are 1/5 of that on top)")
ax.set_ylabel("wall time (s)")
lat = results["latency"]
ax.set_title("Confluence sync time vs site size\n(%g ms/request + %g ms/body item + %g ms/other item, %d workers)"
             % (lat["per_request_ms"], lat["per_body_item_ms"], lat["per_item_ms"], results["num_workers"]), fontsize=10)
ax.grid(True, which="both", alpha=0.3)
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(out, dpi=120)
