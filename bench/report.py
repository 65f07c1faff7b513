"""RESULTS.md and the plot from bench/results.json: `python -m bench.report` re-renders without re-running."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

CLIENTS = [("connector_full", "this connector, full sync"), ("connector_incremental", "this connector, incremental (1% of pages changed)"),
           ("connector_full_no_markdown", "what-if: this connector without Markdown conversion"),
           ("ideal", "ideal client: one walk per space × type, all at once"),
           ("ideal_split", "ideal client: 12 lastmodified windows per walk, 20 at a time (floor)"),
           ("ideal_incremental", "ideal client, incremental: one walk per type from the cursor (floor)"), ("airbyte_0_2_16", "official airbyte-source-confluence 0.2.16"),
           ("langchain", "LangChain ConfluenceLoader (langchain-community 0.4.2)")]


def fmt_records(r):
    recs = r["records"]
    return " + ".join("%s %d" % (k, v) for k, v in recs.items()) if len(recs) > 1 else str(r["records_total"])


def ratio(a, b):
    return a / b if b else float("nan")


def shape_of(s):
    """Runs before 2.0 had one (uniform) site shape and recorded none."""
    return s.get("shape", "uniform")


def table(results):
    rows = ["| site | pages | client | wall time (s) | requests | peak in flight | records | peak RSS (MB) | CPU (s) | time vs connector | requests vs connector |",
            "|---|---:|---|---:|---:|---:|---|---:|---:|---:|---:|"]
    for s in results["sizes"]:
        base = s["connector_full"]
        for key, label in CLIENTS:
            if key not in s:
                continue
            r = s[key]
            flag = " (killed at timeout)" if r.get("timed_out") else (" (exit %s)" % r["exit_code"] if r["exit_code"] else "")
            in_flight = r.get("peak_in_flight")
            rows.append("| %s | %s | %s%s | %.1f | %d | %s | %s | %.0f | %.1f | %.2fx | %.2fx |" % (
                shape_of(s), "{:,}".format(s["pages"]), label, flag, r["wall_s"], r["requests"], "–" if in_flight is None else in_flight,
                fmt_records(r), r["peak_rss_mb"], r["cpu_s"],
                ratio(r["wall_s"], base["wall_s"]), ratio(r["requests"], base["requests"])))
    return "\n".join(rows)


def extrapolate(results, key, pages, shape="uniform"):
    """A peer not run at this size: its time at the largest measured size, scaled linearly by pages (both peers
    page through the site sequentially at a fixed cost per request, so their time is linear in the site)."""
    done = [(x["pages"], x[key]["wall_s"]) for x in results["sizes"]
            if shape_of(x) == shape and key in x and not x[key].get("timed_out") and x["pages"] < pages]
    if not done:
        return None
    n, t = max(done)
    return t * pages / n


def goals(results):
    out = ["| site | pages | official / connector (goal ≥ 10x) | LangChain / connector (goal ≥ 3x) | connector / ideal (goal ≤ 1.3x) | peak in flight (goal ≤ 8) | incremental / full, requests (goal < 3%) | incremental / full, time (goal < 3%) | ideal incremental / connector full, time (floor) |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for s in results["sizes"]:
        c = s["connector_full"]["wall_s"]

        def cell(v, ok):
            return "%s %s" % (v, "✅" if ok else "❌")

        def peer(key, goal):
            r = s.get(key)
            if r and not r.get("timed_out"):
                return cell("%.1fx" % (r["wall_s"] / c), r["wall_s"] / c >= goal)
            est = extrapolate(results, key, s["pages"], shape_of(s))
            if est is None:
                return "not run"
            return cell("≈%.1fx (extrapolated\\*)" % (est / c), est / c >= goal)
        ab_c = peer("airbyte_0_2_16", 10)
        lc_c = peer("langchain", 3)
        floor = min(s[k]["wall_s"] for k in ("ideal", "ideal_split") if k in s)
        id_c = cell("%.2fx" % (c / floor), c / floor <= 1.3)
        inc = s["connector_incremental"]["wall_s"] / c
        inc_requests = s["connector_incremental"]["requests"] / s["connector_full"]["requests"]
        floor_inc = "%.1f%%" % (100 * s["ideal_incremental"]["wall_s"] / c) if "ideal_incremental" in s else "not run"
        in_flight = s["connector_full"].get("peak_in_flight")
        flight_c = "–" if in_flight is None else cell(str(in_flight), in_flight <= 8)
        out.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (shape_of(s), "{:,}".format(s["pages"]), ab_c, lc_c, id_c, flight_c,
                                                             cell("%.1f%%" % (100 * inc_requests), inc_requests < 0.03),
                                                             cell("%.1f%%" % (100 * inc), inc < 0.03), floor_inc))
    if any("extrapolated" in row for row in out):
        out.append("\n\\* Not run at this size (`--peers-max-size`): the peer's time at its largest measured size, scaled "
                   "linearly by pages. Both peers read the site one request at a time at a fixed cost per request. "
                   "An estimate, not a measurement.")
    for shape in dict.fromkeys(shape_of(s) for s in results["sizes"]):
        mem = {s["pages"]: s["connector_full"]["peak_rss_mb"] for s in results["sizes"] if shape_of(s) == shape}
        if 20000 in mem and 100000 in mem:
            m = mem[100000] / mem[20000]
            out.append("\nPeak memory of a full sync on the %s site, 100,000 pages against 20,000: %.0f MB / %.0f MB = **%.2fx** (goal ≤ 1.2x) %s"
                       % (shape, mem[100000], mem[20000], m, "✅" if m <= 1.2 else "❌"))
    return "\n".join(out)


def write(results, out_dir: Path, plot_bin=None):
    out_dir = Path(out_dir)
    png = out_dir / "time_vs_size.png"
    if plot_bin:
        subprocess.run([str(Path(plot_bin) / "python"), str(Path(__file__).parent / "plot.py"), str(out_dir / "results.json"), str(png)], check=True)
    notes_path = Path(__file__).parent / "NOTES.md"
    notes = notes_path.read_text() if notes_path.exists() else ""
    lat = results["latency"]
    md = """# Benchmark results

Generated by `python -m bench.run --sizes %s --shapes %s` (see `bench/README.md`); every figure below comes from that one
run (started %s, finished %s) on %d CPUs, Python %s. Raw figures: `bench/results.json`.

Emulator: profile `cloud` over HTTPS, seed 7, latency %g ms a request + %g ms per returned item with a body +
%g ms per item without; blog posts are one fifth of the pages on top. This connector ran with `num_workers=%d`.
Requests are counted by the emulator (reset before each run); peak RSS is the child process's `ru_maxrss`.

![time against site size](time_vs_size.png)

## All runs

%s

## Goals

%s

%s
""" % (",".join(str(n) for n in dict.fromkeys(s["pages"] for s in results["sizes"])),
       ",".join(dict.fromkeys(shape_of(s) for s in results["sizes"])), results["started"], results.get("finished", "?"),
       results["machine"]["cpus"], results["machine"]["python"], lat["per_request_ms"], lat["per_body_item_ms"],
       lat["per_item_ms"], results["num_workers"], table(results), goals(results), notes)
    (out_dir / "RESULTS.md").write_text(md)


if __name__ == "__main__":
    here = Path(__file__).parent
    res = json.loads((here / "results.json").read_text())
    write(res, here, here / ".venvs" / "plot" / "bin")
