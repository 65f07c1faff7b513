"""One command for the whole benchmark: `python -m bench.run [--sizes 3000,20000,100000] [--quick]`.

For each site shape (uniform, real) and size it starts the Confluence emulator (a separate process, HTTPS, the latency model below),
then runs one after another, each as its own child process:
  1. this connector: a first sync of `pages` and `blog_posts` with bodies (incremental mode without state,
     i.e. a full read that also leaves a state), then 1% of the pages are edited and it syncs again from
     that state;
  2. the official `airbyte-source-confluence==0.2.16` (its own venv under bench/.venvs/);
  3. LangChain's `ConfluenceLoader` and LlamaIndex's `ConfluenceReader` (each in its own venv);
  4. the floor (bench/floor.py): the fastest client for the same records with at most 8 requests in flight
     (full output: Markdown, effective-access look-ups, mention names; and once more with bodies only, as
     `floor_bodies`; after the edits, `floor_incremental` reads what changed with the same output), and the
     ideal client (bench/ideal.py): the fewest requests, every walk at once.
This tree's clients run from bench/.venvs/connector (the connector's runtime dependencies only, as its image).
Per run: wall time, requests (the emulator's own count, reset before each run), records, peak RSS of the
child (ru_maxrss from os.wait4). Writes bench/results.json, bench/RESULTS.md and bench/time_vs_size.png.
"""
from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import re
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
VENVS = BENCH / ".venvs"
WORK = BENCH / ".work"
MAIN_BIN = Path(sys.executable).parent  # the dev venv: the harness and the emulator
CLIENT_BIN = MAIN_BIN  # this tree's clients: the runtime-only venv once main() has built it (PEERS["connector"])

# The latency model: 120 ms a request, + 1.5 ms per returned item with a body, + 0.3 ms per item without.
# The emulator adds `per_item` to every item and `per_body_item` on top for items that carry a body.
LATENCY_MS, PER_ITEM_MS, PER_BODY_ITEM_MS = 120.0, 0.3, 1.2
SEED = 7
# Kept-alive connections, as Confluence's edge keeps them: with werkzeug's connection per request, every request
# cost the emulator a TLS handshake on the CPUs it shares with the client, a cost no real site charges.
EMULATOR_SERVER = "keepalive"
# bench/minimal_source.py's one stream, selected (kept here: importing that module imports airbyte-cdk).
MINIMAL_SOURCE_CATALOG = {"streams": [{"stream": {"name": "spaces", "json_schema": {}, "supported_sync_modes": ["full_refresh"]},
                                       "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"}]}
IDEAL_WINDOWS, IDEAL_CONCURRENCY = 12, 20
# The floor (bench/floor.py): the in-flight budget the goals hold the connector to, and how it fetches bodies.
# FLOOR_OUTPUT "full" is the connector's output (Markdown, access look-ups, mention names): the floor the 1.3x
# goal uses. Each run also measures the "bodies" floor (the listing only) as `floor_bodies`, for reference.
FLOOR_IN_FLIGHT, FLOOR_BODIES, FLOOR_OUTPUT = 8, "cql", "full"
# The connector runs with its default config (num_workers 8: the in-flight budget the goals hold it to)
# unless BENCH_NUM_WORKERS says otherwise.
NUM_WORKERS = int(os.environ["BENCH_NUM_WORKERS"]) if os.environ.get("BENCH_NUM_WORKERS") else None

# airbyte-cdk 0.80 (what airbyte-source-confluence 0.2.16 resolves to) does not import on Python 3.11+
# (a dataclass with a mutable default), so that venv is built with the newest Python <= 3.10 on PATH.
PEER_PYTHONS = {"airbyte": ["python3.10", "python3.9"]}
PEERS = {
    "airbyte": ["airbyte-source-confluence==0.2.16"],
    "langchain": ["langchain-community==0.4.2", "atlassian-python-api==4.0.7", "beautifulsoup4", "lxml"],
    # llama-index-readers-confluence 0.8.0 wants atlassian-python-api <5 (the same 4.0.7 as LangChain's) and
    # llama-index-core <0.15; its OCR extras (pytesseract, pdf2image) install but only run for attachments.
    "llamaindex": ["llama-index-readers-confluence==0.8.0", "llama-index-core==0.14.25", "atlassian-python-api==4.0.7"],
    "plot": ["matplotlib==3.11.2"],
}


def runtime_requirements():
    """This project's runtime dependencies, as pyproject.toml pins them: what its Docker image installs."""
    import tomllib
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]


# This tree's clients (the connector, its what-if, the floor, the ideal client) run in a venv with the connector's
# runtime dependencies alone, as users run it from its image, with PYTHONPATH set to this tree. The dev venv's
# extras (PyAirbyte alone brings some 100 more distributions, boto3 among them, which the CDK's imports load)
# made `source-confluence spec` about 0.15 s slower (1.21 s against 1.37 s, the medians of six, bench/NOTES.md).
PEERS["connector"] = runtime_requirements()


def log(msg):
    print("[bench %s] %s" % (datetime.datetime.now().strftime("%H:%M:%S"), msg), flush=True)


# ----------------------------------------------------------------------------- environments
def ensure_venv(name):
    """bench/.venvs/<name> with its pinned packages; built once, reused while the stamp (interpreter + pins) matches."""
    import shutil
    venv = VENVS / name
    base = getattr(sys, "_base_executable", None) or sys.executable
    if name in PEER_PYTHONS:
        import glob
        found = [shutil.which(c) for c in PEER_PYTHONS[name]]
        for c in PEER_PYTHONS[name]:  # pyenv installs that are not the active version (their shims refuse to run)
            found += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/%s*/bin/%s" % (c[len("python"):], c))), reverse=True)
        found = [f for f in found if f and subprocess.run([f, "-c", "1"], capture_output=True).returncode == 0]
        if not found:
            log("no %s on PATH: %s is skipped" % (" or ".join(PEER_PYTHONS[name]), name))
            return None
        base = found[0]
    stamp = venv / ".bench-stamp"
    want = "\n".join([base] + PEERS[name])
    if stamp.exists() and stamp.read_text() == want:
        return venv / "bin"
    log("installing %s into %s (%s)" % (" ".join(PEERS[name]), venv, base))
    subprocess.run([base, "-m", "venv", "--clear", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run(pip + ["--upgrade", "pip"], check=True)
    subprocess.run(pip + PEERS[name], check=True)
    stamp.write_text(want)
    return venv / "bin"


# ----------------------------------------------------------------------------- emulator
class EmulatorProcess:
    def __init__(self, pages, shape="uniform", server=None):
        self.pages = pages
        cmd = [str(MAIN_BIN / "confluence-emulator"), "serve", "--profile", "cloud", "--port", "0", "--seed", str(SEED),
               "--pages", str(pages), "--site-shape", shape, "--tls", "--server", server or EMULATOR_SERVER, "--time-zone", "UTC", "--clock-start", "now", "--real-time", "--latency-ms", str(LATENCY_MS),
               "--latency-per-item-ms", str(PER_ITEM_MS), "--latency-per-body-item-ms", str(PER_BODY_ITEM_MS)]
        t0 = time.perf_counter()
        # this tree's emulator, whatever the venv's editable install points at
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the emulator did not start")
        self.info = json.loads(line)
        self.startup_s = time.perf_counter() - t0
        self.ca = self.info["ca_cert_path"]
        self.admin_url = self.info["admin_url"]
        self.http = requests.Session()

    def admin(self, method, path, payload=None):
        r = self.http.request(method, self.admin_url + path, json=payload, timeout=600, verify=self.ca)
        r.raise_for_status()
        return r.json()

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


# ----------------------------------------------------------------------------- measuring a child
RECORD_STREAM = re.compile(rb'"stream": ?"([^"]+)"')
MESSAGE_TYPE = re.compile(rb'^\{"type": ?"([A-Z_]+)"')
# A record's id, where its data starts with it (this connector's records and the official connector's do): counted
# per stream, it says whether a sync emitted a record twice (``repeated_records``).
RECORD_ID = re.compile(rb'"data": ?\{"id": ?"?([^",}]+)')


def measure(name, cmd, emu, env_extra=None, timeout=None, keep_state=False, first_request=False):
    """Run one client as a child; count RECORD lines by stream (or read its JSON summary line).

    With first_request, also the seconds from starting the child to its first request, from the emulator's
    request log (which stamps each request with this machine's clock): the client's start-up."""
    emu.admin("POST", "/requests/reset")
    env = dict(os.environ)
    # Trust the emulator's CA (REQUESTS_CA_BUNDLE beats a Session's verify in requests).
    env.update({"REQUESTS_CA_BUNDLE": emu.ca, "SSL_CERT_FILE": emu.ca, "CURL_CA_BUNDLE": emu.ca, "BENCH_CA_BUNDLE": emu.ca,
                "PYTHONUNBUFFERED": "1"})
    # No PYTHONPATH inherited from the harness: the official connector's package is also named source_confluence,
    # and this tree's would shadow it. Clients of this tree get it through env_extra.
    env.pop("PYTHONPATH", None)
    env.update(env_extra or {})
    # peers/trust/sitecustomize.py makes certifi (hence requests, even through Session.send) trust the emulator's CA.
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(BENCH / "peers" / "trust"), env.get("PYTHONPATH")) if p)
    log("%s: %s" % (name, " ".join(str(c) for c in cmd[:3])))
    t0, started_at = time.perf_counter(), time.time()
    proc = subprocess.Popen([str(c) for c in cmd], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=str(WORK))
    records, states, summary, errors = {}, {}, None, []
    ids, with_id = {}, {}  # stream -> the record ids seen, and how many records named one
    err_tail = []
    timed_out = [False]

    def drain_err():
        for line in proc.stderr:
            err_tail.append(line)
            del err_tail[:-40]
    te = threading.Thread(target=drain_err, daemon=True)
    te.start()
    killer = None
    if timeout:
        def kill():
            timed_out[0] = True
            proc.kill()
        killer = threading.Timer(timeout, kill)
        killer.start()
    for line in proc.stdout:
        m = MESSAGE_TYPE.match(line)
        kind = m.group(1) if m else None
        if kind == b"RECORD":
            m = RECORD_STREAM.search(line, 0, 400)
            s = m.group(1).decode() if m else "?"
            records[s] = records.get(s, 0) + 1
            m = RECORD_ID.search(line, 0, 600)
            if m:
                ids.setdefault(s, set()).add(m.group(1))
                with_id[s] = with_id.get(s, 0) + 1
        elif kind == b"STATE" and keep_state:
            msg = json.loads(line)
            st = msg["state"]
            st.pop("sourceStats", None)
            desc = st.get("stream", {}).get("stream_descriptor", {}).get("name")
            states[desc] = st
        elif kind == b"TRACE" and b'"error"' in line[:300]:
            errors.append(json.loads(line)["trace"]["error"].get("message"))
        elif line.startswith(b'{"records"'):
            summary = json.loads(line)
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if killer:
        killer.cancel()
    te.join(5)
    stats = emu.admin("GET", "/stats")
    if summary:
        records = summary["records"]
    result = {
        "client": name, "wall_s": round(wall, 2), "requests": stats["total"], "by_route": dict(stats["by_route"]),
        "by_status": dict(stats["by_status"]), "records": records, "records_total": sum(records.values()),
        "peak_rss_mb": round(ru.ru_maxrss / 1024.0, 1), "cpu_s": round(ru.ru_utime + ru.ru_stime, 2),
        "peak_in_flight": stats.get("peak_in_flight"),
        "exit_code": proc.returncode, "timed_out": timed_out[0], "errors": errors[:3],
    }
    if with_id and all(with_id.get(stream) == count for stream, count in records.items()):
        result["repeated_records"] = repeated_records(with_id, ids)
    if first_request:
        logged = [r for r in emu.admin("GET", "/requests")["requests"] if "time" in r]
        stamps = [r["time"] for r in logged]
        result["first_request_s"] = round(min(stamps) - started_at, 2) if stamps else None
        # The first request that reads content (a walk or a window count: its CQL names lastmodified): the end
        # of the start-up the issue lists (imports, manifest, config look-ups), which the connector overlaps.
        reads = [r["time"] for r in logged if "lastmodified" in (r.get("query") or "").lower()]
        result["first_read_request_s"] = round(min(reads) - started_at, 2) if reads else None
    if proc.returncode != 0 or errors:
        result["stderr_tail"] = b"".join(err_tail[-15:]).decode("utf-8", "replace")[-3000:]
    log("%s: %.1fs, %d requests, %s records, %.0f MB peak%s" % (
        name, wall, stats["total"], result["records_total"], result["peak_rss_mb"],
        " (TIMED OUT)" if timed_out[0] else "" if proc.returncode == 0 else " (exit %s)" % proc.returncode))
    return result, states


# ----------------------------------------------------------------------------- the clients
def write_json(path, obj):
    path.write_text(json.dumps(obj))
    return path


def connector_files(emu, tag):
    info = emu.info
    config = {"base_url": info["base_url"], "deployment": "cloud", "credentials": dict(info["credentials"]["api_token"]),
              "cql_time_zone": info["time_zone"], **({"num_workers": NUM_WORKERS} if NUM_WORKERS else {})}
    streams = []
    for name in ("pages", "blog_posts"):
        streams.append({"stream": {"name": name, "json_schema": {}, "supported_sync_modes": ["full_refresh", "incremental"],
                                   "source_defined_cursor": True, "default_cursor_field": ["lastModifiedAt"]},
                        "sync_mode": "incremental", "cursor_field": ["lastModifiedAt"], "destination_sync_mode": "append_dedup",
                        "primary_key": [["id"]]})
    return write_json(WORK / ("connector-config-%s.json" % tag), config), write_json(WORK / ("connector-catalog-%s.json" % tag), {"streams": streams})


def median_index(runs):
    """Which run of several of one client to report: a failed one if any (repeats never hide a failure), else the
    median by wall time (the upper middle of an even number)."""
    for i, run in enumerate(runs):
        if run.get("exit_code") or run.get("timed_out"):
            return i
    return sorted(range(len(runs)), key=lambda i: runs[i]["wall_s"])[len(runs) // 2]


def measure_repeated(runs, name, cmd, emu, request_log=None, **kwargs):
    """``measure`` ``runs`` times: the reported run (``median_index``), with every run's wall time in ``wall_s_runs``
    when there were several, and the first run's states.

    Why: on a small shared VM the same sync's wall time varied by a quarter from one minute to the next (19.5 s
    and 25.4 s for one code in one session); one run per client let that noise decide the goals. Each run reads
    as cold as the first: ``measure`` resets the request log, which drops the emulator's encoded records.
    ``request_log``: ``(tag, sync)`` to keep the reported run's request log (``keep_request_log``)."""
    done, logs, first_states = [], [], None
    for i in range(runs):
        label = name if runs == 1 else "%s (run %d of %d)" % (name, i + 1, runs)
        result, states = measure(label, cmd, emu, **kwargs)
        first_states = states if first_states is None else first_states
        done.append(result)
        if request_log:
            logs.append(emu.admin("GET", "/requests"))
    reported = median_index(done)
    chosen = dict(done[reported])
    if runs > 1:
        chosen["wall_s_runs"] = [run["wall_s"] for run in done]
    if request_log:
        keep_request_log(logs[reported], *request_log)
    return chosen, first_states


def repeated_records(with_id, ids):
    """Per stream, how many records repeated an id already emitted in the same sync (0: each record once)."""
    return {stream: count - len(ids.get(stream, ())) for stream, count in with_id.items()}


def keep_request_log(log, tag, sync):
    """The emulator's log of a measured sync (``GET /requests``), for `python -m bench.request_log` (where the time went)."""
    write_json(WORK / ("requests-%s-%s.json" % (tag, sync)), log)


def cursor_minutes(states):
    """Each content type's cursor after the full sync, as a CQL minute (the site is in UTC), for bench.ideal --since."""
    minutes = []
    for stream, ctype in (("pages", "page"), ("blog_posts", "blogpost")):
        cursor = states[stream]["stream"]["stream_state"]["lastModifiedAt"]
        minutes.append("%s=%s" % (ctype, datetime.datetime.fromisoformat(cursor.replace("Z", "+00:00")).strftime("%Y-%m-%d %H:%M")))
    return ",".join(minutes)


def edit_one_percent(emu):
    site = emu.admin("GET", "/site")
    ids = site["page_ids"]
    step = 100
    chosen = ids[::step]
    body = "<p>Edited by the benchmark at %s.</p>" % datetime.datetime.utcnow().isoformat()

    def edit(cid):
        r = requests.patch(emu.admin_url + "/content/%s" % cid, json={"body": body, "message": "bench edit"}, timeout=60, verify=emu.ca)
        return r.status_code
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(edit, chosen))
    bad = [c for c in codes if c >= 400]
    log("edited %d of %d pages (1%%)%s" % (len(chosen), len(ids), "; %d failed" % len(bad) if bad else ""))
    return len(chosen)


def warm_up(emu):
    """Render every body once before the first measured client, with the latency model off, and measure nothing.

    The emulator renders a body the first time it is asked for and keeps it; a real site has its bodies stored.
    Without this the first client measured (this connector) would pay the rendering for every later one. The
    pass is the floor client (bench/floor.py) with `--output bodies`. The emulator also caches encoded records by expand, which the
    connector's expand does not share, and the edits after the connector's full sync drop that cache whole, so
    the floor and the ideal client read as cold as the connector does."""
    saved = emu.admin("GET", "/faults")
    emu.admin("PUT", "/faults", {"latency_ms": 0, "latency_per_item_ms": 0, "latency_per_body_item_ms": 0})
    try:
        t0 = time.perf_counter()
        # the listing only: the full floor's expand is the connector's, whose encoded records must stay cold
        done = subprocess.run([str(c) for c in floor_command(emu, output="bodies")], capture_output=True, cwd=str(ROOT), env=floor_env(emu))
        if done.returncode:  # its summary line names what failed; the command line is not logged
            raise RuntimeError("the warm-up failed: %s" % done.stdout.decode("utf-8", "replace")[-500:])
        log("warm-up: every body rendered in %.1fs (not measured)" % (time.perf_counter() - t0))
    finally:
        emu.admin("PUT", "/faults", dict(saved, _replace=True))


def floor_command(emu, bodies=FLOOR_BODIES, output=FLOOR_OUTPUT):
    return [CLIENT_BIN / "python", "-m", "bench.floor", "--base-url", emu.info["base_url"], "--ca", emu.ca,
            "--in-flight", str(FLOOR_IN_FLIGHT), "--bodies", bodies, "--output", output]


def floor_env(emu, base=None):
    """The floor's credentials go in its environment, not on its command line."""
    cred = emu.info["credentials"]["api_token"]
    env = dict(os.environ if base is None else base)
    env.update({"BENCH_EMAIL": cred["email"], "BENCH_TOKEN": cred["api_token"], "REQUESTS_CA_BUNDLE": emu.ca, "PYTHONPATH": str(ROOT)})
    return env


def run_size(pages, shape, args, bins):
    out = {"pages": pages, "shape": shape}
    log("=== %s site of %d pages: starting the emulator" % (shape, pages))
    emu = EmulatorProcess(pages, shape, args.server)
    try:
        out["site"] = emu.info["counts"]
        out["emulator_server"] = emu.info.get("server", "werkzeug")
        out["emulator_startup_s"] = round(emu.startup_s, 1)
        spaces = [s["key"] for s in emu.admin("GET", "/site")["spaces"]]
        tag = "%s-%d" % (shape, pages)
        cfg, cat = connector_files(emu, tag)
        # `python -m source_confluence.run` is the console script's entry point: the runtime venv has no install of this tree
        conn = [CLIENT_BIN / "python", "-m", "source_confluence.run", "read", "--config", cfg, "--catalog", cat]
        out["connector_code"] = code_version()
        warm_up(emu)
        this_tree = {"PYTHONPATH": str(ROOT)}  # the connector measured is this tree's, whatever the venv installed
        # The clients the goals compare run `runs` times at this size, the median reported (measure_repeated).
        runs = args.repeats if pages <= args.repeat_max_size else 1
        out["runs"] = runs
        out["connector_full"], states = measure_repeated(runs, "connector full", conn, emu, request_log=(tag, "full"),
                                                         env_extra=this_tree, timeout=args.timeout, keep_state=True, first_request=True)
        state_path = write_json(WORK / ("connector-state-%s.json" % tag), list(states.values()))
        out["changed_pages"] = edit_one_percent(emu)
        out["connector_incremental"], _ = measure_repeated(runs, "connector incremental", conn + ["--state", state_path], emu,
                                                           request_log=(tag, "incremental"), env_extra=this_tree,
                                                           timeout=args.timeout, first_request=True)
        if args.connector_only:
            return out
        # The floor runs before the ideal client, whose walks share its expand (the emulator caches encoded
        # records by expand until the next edit): so it reads as cold as the connector's full sync did.
        out["floor"], _ = measure_repeated(runs, "floor (%s output), %d in flight" % (FLOOR_OUTPUT, FLOOR_IN_FLIGHT),
                                           floor_command(emu), emu, env_extra=floor_env(emu, {}), timeout=args.timeout,
                                           first_request=True)
        out["floor"]["output"] = FLOOR_OUTPUT  # runs before it have a bodies-only floor here (bench/report.py)
        # What start-up costs on airbyte-cdk itself: a one-stream declarative source, started as Airbyte's manifest-only
        # image starts one, to its first request (bench/minimal_source.py).
        minimal_catalog = write_json(WORK / "minimal-source-catalog.json", MINIMAL_SOURCE_CATALOG)
        out["minimal_cdk_source"], _ = measure_repeated(runs, "a minimal airbyte-cdk declarative source",
                                                        [CLIENT_BIN / "python", "-m", "bench.minimal_source", "read", "--config", cfg,
                                                         "--catalog", minimal_catalog], emu, env_extra=this_tree,
                                                        timeout=args.timeout, first_request=True)
        # The network-only floor (the listing, no look-ups, no Markdown), for reference: its expand differs from
        # the full floor's, so it reads cold too.
        out["floor_bodies"], _ = measure("floor (bodies only), %d in flight" % FLOOR_IN_FLIGHT, floor_command(emu, output="bodies"),
                                         emu, env_extra=floor_env(emu, {}), timeout=args.timeout)
        out["floor_bodies"]["output"] = "bodies"

        # What-if: the same connector without the per-record Markdown conversion (see connector_without_markdown.py).
        nomd = [CLIENT_BIN / "python", BENCH / "connector_without_markdown.py", "read", "--config", cfg, "--catalog", cat]
        out["connector_full_no_markdown"], _ = measure("connector full, no markdown (what-if)", nomd, emu, env_extra=this_tree,
                                                       timeout=args.timeout)

        cred = emu.info["credentials"]["api_token"]
        ideal = [CLIENT_BIN / "python", "-m", "bench.ideal", "--base-url", emu.info["base_url"], "--email", cred["email"],
                 "--token", cred["api_token"], "--spaces", ",".join(spaces), "--ca", emu.ca]
        out["ideal"], _ = measure("ideal", ideal, emu, env_extra={"PYTHONPATH": str(ROOT)}, timeout=args.timeout)
        # The same, with every (space, type) walk split into 12 lastmodified windows, 20 at a time: concurrency
        # inside a big space too, at the rate Atlassian's burst limit allows (~100 GET/s: 20 x ~200 ms).
        split = ideal + ["--windows", str(IDEAL_WINDOWS), "--concurrency", str(IDEAL_CONCURRENCY), "--now", emu.admin("GET", "/site")["clock"]]
        out["ideal_split"], _ = measure("ideal, split", split, emu, env_extra={"PYTHONPATH": str(ROOT)}, timeout=args.timeout)
        # The floor for the incremental sync: only what changed since the full sync's cursor, no lookback, no look-ups.
        since = ["--since", cursor_minutes(states)]
        out["ideal_incremental"], _ = measure_repeated(runs, "ideal, incremental", ideal + since, emu,
                                                       env_extra={"PYTHONPATH": str(ROOT)}, timeout=args.timeout)
        # The same incremental read with the connector's output: what its look-ups cost whatever the number of changes.
        out["floor_incremental"], _ = measure_repeated(runs, "floor (%s output), incremental" % FLOOR_OUTPUT, floor_command(emu) + since,
                                                       emu, env_extra=floor_env(emu, {}), timeout=args.timeout, first_request=True)
        out["floor_incremental"]["output"] = FLOOR_OUTPUT

        if pages <= args.peers_max_size and bins.get("airbyte"):
            host = emu.info["base_url"].split("://", 1)[1]
            ab_cfg = write_json(WORK / ("airbyte-config-%s.json" % tag), {"domain_name": host, "email": cred["email"], "api_token": cred["api_token"]})
            ab_cat = write_json(WORK / ("airbyte-catalog-%s.json" % tag), {"streams": [
                {"stream": {"name": n, "json_schema": {}, "supported_sync_modes": ["full_refresh"]}, "sync_mode": "full_refresh",
                 "destination_sync_mode": "overwrite"} for n in ("pages", "blog_posts")]})
            out["airbyte_0_2_16"], _ = measure("official airbyte-source-confluence 0.2.16",
                                               [bins["airbyte"] / "source-confluence", "read", "--config", ab_cfg, "--catalog", ab_cat],
                                               emu, timeout=args.peer_timeout)
        if pages <= args.peers_max_size and bins.get("llamaindex"):
            li_cfg = write_json(WORK / ("llamaindex-config-%s.json" % tag), {"base_url": emu.info["base_url"], **cred})
            out["llamaindex"], _ = measure("LlamaIndex ConfluenceReader", [bins["llamaindex"] / "python", BENCH / "peers" / "llamaindex_load.py", li_cfg],
                                           emu, timeout=args.peer_timeout)
        if pages <= args.peers_max_size:
            lc_cfg = write_json(WORK / ("langchain-config-%s.json" % tag), {"base_url": emu.info["base_url"], **cred})
            out["langchain"], _ = measure("langchain ConfluenceLoader", [bins["langchain"] / "python", BENCH / "peers" / "langchain_load.py", lc_cfg],
                                          emu, timeout=args.peer_timeout)
    finally:
        emu.stop()
    return out


# ----------------------------------------------------------------------------- main
def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.run")
    # The defaults are what bench/RESULTS.md was generated with (`make bench`): the sizes #16 names, and the peers,
    # which read one request at a time (about 17 minutes each at 100,000 pages), extrapolated above 20,000.
    p.add_argument("--sizes", default="3000,20000,100000")
    p.add_argument("--shapes", default="uniform,real",
                   help="emulator site shapes: uniform (edits spread over a year) and real (recent edits, one big space, huge bodies)")
    p.add_argument("--quick", action="store_true", help="only 2,000 pages (a smoke run of the whole harness)")
    p.add_argument("--peers-max-size", type=int, default=20000, help="skip the slow peers above this size (RESULTS.md extrapolates them)")
    p.add_argument("--timeout", type=float, default=3600, help="seconds for one run of the connector or the ideal client")
    p.add_argument("--peer-timeout", type=float, default=3600, help="seconds for one run of a peer")
    p.add_argument("--out", default=str(BENCH), help="where results.json, RESULTS.md and the PNG go")
    p.add_argument("--server", choices=["keepalive", "werkzeug"], default=EMULATOR_SERVER,
                   help="the emulator's HTTP server: kept-alive connections (as a real site) or one connection per request")
    p.add_argument("--repeats", type=int, default=3,
                   help="runs of each client the goals compare (this connector, the floors, the ideal incremental read); the median is reported")
    p.add_argument("--repeat-max-size", type=int, default=20000, help="sites larger than this run each client once")
    p.add_argument("--connector-only", action="store_true",
                   help="only this connector's two syncs, printed, not written: a quick loop while tuning it")
    args = p.parse_args(argv)
    sizes = [2000] if args.quick else [int(s) for s in args.sizes.split(",") if s.strip()]
    shapes = [s.strip() for s in args.shapes.split(",") if s.strip()]
    WORK.mkdir(parents=True, exist_ok=True)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    global CLIENT_BIN
    bins = {"connector": ensure_venv("connector")} if args.connector_only else {name: ensure_venv(name) for name in PEERS}
    CLIENT_BIN = bins["connector"]
    started = datetime.datetime.utcnow()
    spec_s = connector_spec_seconds()
    results = {"started": started.isoformat(timespec="seconds") + "Z", "machine": machine(), "num_workers": NUM_WORKERS,
               "peers_max_size": args.peers_max_size, "repeats": args.repeats, "repeat_max_size": args.repeat_max_size,
               "connector_spec_s": spec_s, "latency": {"per_request_ms": LATENCY_MS, "per_item_ms": PER_ITEM_MS, "per_body_item_ms": PER_ITEM_MS + PER_BODY_ITEM_MS},
               "sizes": []}
    out_dir = Path(args.out)
    if args.connector_only:
        for shape in shapes:
            for n in sizes:
                print(json.dumps(run_size(n, shape, args, bins), indent=1))
        return
    for shape in shapes:
        for n in sizes:
            results["sizes"].append(run_size(n, shape, args, bins))
        results["finished"] = datetime.datetime.utcnow().isoformat(timespec="seconds") + "Z"
        (out_dir / "results.json").write_text(json.dumps(results, indent=1))
    from bench import report
    report.write(results, out_dir, bins["plot"])
    log("wrote %s" % (out_dir / "RESULTS.md"))


def connector_spec_seconds(runs=3):
    """This connector's start-up without a site: the best of a few `source-confluence spec` runs (imports, the
    manifest, the protocol's output), in seconds."""
    best = None
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([str(CLIENT_BIN / "python"), "-m", "source_confluence.run", "spec"], capture_output=True, cwd=str(ROOT), check=True,
                       env=dict(os.environ, PYTHONPATH=str(ROOT)))
        took = time.perf_counter() - t0
        best = took if best is None else min(best, took)
    log("source-confluence spec: %.2fs (best of %d)" % (best, runs))
    return round(best, 2)


def code_version():
    """The commit the connector ran from, and whether source_confluence/ had uncommitted changes then."""
    def git(*a):
        r = subprocess.run(["git", *a], cwd=str(ROOT), capture_output=True, text=True)
        return r.stdout.strip() if r.returncode == 0 else None
    return {"commit": git("rev-parse", "--short", "HEAD"), "dirty": bool(git("status", "--porcelain", "source_confluence"))}


def machine():
    import platform
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}


if __name__ == "__main__":
    main()
