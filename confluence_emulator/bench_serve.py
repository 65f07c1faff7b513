"""Throughput benchmark (a script, not a test): records with storage bodies served per second, latency off.

    python -m confluence_emulator.bench_serve [--pages 20000] [--seconds 5] [--tls]

The emulator runs as its own process (`confluence-emulator serve`) pinned to ONE core (sched_setaffinity);
this client runs on another core when there is one, so the figures are what one server core sustains.
It walks, with a keep-alive session:

* the connector's exact request: Cloud v1 `content/search?cql=type=page&limit=250&expand=<CONNECTOR_EXPAND>`
  (clamped to 50 by the body cap, as on the real site) and the same on Data Center at `limit=50` (offset paging);
* v2 `pages?limit=250&body-format=storage` (Cloud).

and prints records/s for each. A first pass follows the next links from the start until the end of the site or
`--seconds` (every record is built for the first time: bodies rendered, records encoded); the connector's Cloud
request is then walked again from the start, where the emulator answers from its cache of encoded records.
Use enough `--pages` that the first pass does not reach the end of the site within `--seconds`.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import requests

CONNECTOR_EXPAND = ("body.storage,version,space,history,ancestors,metadata.labels,"
                    "restrictions.read.restrictions.user,restrictions.read.restrictions.group")


def start_server(profile, pages, core, tls=False):
    cmd = [sys.executable, "-m", "confluence_emulator.cli", "serve", "--profile", profile, "--seed", "1",
           "--pages", str(pages)] + (["--tls"] if tls else [])

    def pin():
        if core is not None and hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, {core})
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, preexec_fn=pin, text=True)
    info = json.loads(p.stdout.readline())
    return p, info


def server_cpu_seconds(pid):
    """utime + stime of the server process (Linux /proc), or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def walk(session, first_url, base_for_next, seconds, pid, warmup=1.0, wrap=False):
    """Follow next links for `seconds` (after a warm-up) or, unless `wrap`, until the end of the listing;
    -> (records, wall seconds, requests, server CPU seconds)."""
    url = first_url
    n = reqs = 0
    t_end_warm = time.perf_counter() + warmup
    t0 = cpu0 = None
    while True:
        now = time.perf_counter()
        if t0 is None and now >= t_end_warm:
            t0, n, reqs, cpu0 = now, 0, 0, server_cpu_seconds(pid)
        if t0 is not None and now - t0 >= seconds:
            break
        r = session.get(url)
        r.raise_for_status()
        b = light_parse(r.content)
        n += b["n"]
        reqs += 1
        nxt = b["_links"].get("next")
        if not nxt and not wrap and t0 is not None:
            break
        url = base_for_next(b) + nxt if nxt else first_url
    cpu1 = server_cpu_seconds(pid)
    return n, time.perf_counter() - t0, reqs, (cpu1 - cpu0) if cpu0 is not None and cpu1 is not None else None


def light_parse(raw: bytes) -> dict:
    """Just enough of a list response for the walk, so the client's JSON parsing does not set the pace: the
    envelope's `_links` is its last key, and v1 envelopes carry `size`. (`--full-parse` parses everything.)"""
    if FULL_PARSE:
        b = json.loads(raw)
        return {"n": len(b["results"]), "_links": b["_links"]}
    i = raw.rfind(b'"_links":{')
    links = json.loads(raw[i + 9:-1])
    j = raw.rfind(b'"size":', 0, i)
    if j >= 0 and raw.rfind(b"]", 0, i) < j:
        n = int(raw[j + 7:raw.index(b",", j)])
    else:
        n = len(json.loads(raw)["results"])
    return {"n": n, "_links": links}


FULL_PARSE = False


def report(label, n, dt, reqs, cpu):
    line = "  %s: %d records, %d requests in %.2fs = %.0f records/s" % (label, n, reqs, dt, n / dt)
    if cpu:
        line += " (server CPU %.2fs = %.0f records per server CPU-second)" % (cpu, n / cpu)
    print(line)
    return {"records_per_s": round(n / dt), "records_per_server_cpu_s": round(n / cpu) if cpu else None}


def session_for(info):
    s = requests.Session()
    if info.get("ca_cert_path"):
        s.verify = info["ca_cert_path"]
        s.trust_env = False  # else REQUESTS_CA_BUNDLE from the environment wins over session.verify
    if info["profile"] == "data_center":
        c = info["credentials"]["personal_access_token"]
        s.headers["Authorization"] = "Bearer " + c["personal_access_token"]
    else:
        c = info["credentials"]["api_token"]
        s.auth = (c["email"], c["api_token"])
    return s


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--pages", type=int, default=20000)
    p.add_argument("--seconds", type=float, default=5)
    p.add_argument("--tls", action="store_true", help="serve over HTTPS (the client pays the TLS cost too)")
    p.add_argument("--full-parse", action="store_true", help="parse every response fully on the client")
    a = p.parse_args(argv)
    global FULL_PARSE
    FULL_PARSE = a.full_parse
    ncpu = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    server_core = None
    if hasattr(os, "sched_getaffinity"):
        cores = sorted(os.sched_getaffinity(0))
        server_core = cores[0]
        if len(cores) > 1:
            os.sched_setaffinity(0, set(cores[1:]))
    print("server pinned to core %s; client on %s (%d cores available)" % (
        server_core, "the other cores" if ncpu > 1 else "the same core", ncpu))
    out = {}
    for profile in ("cloud", "data_center"):
        t0 = time.perf_counter()
        proc, info = start_server(profile, a.pages, server_core, a.tls)
        try:
            print("%s: site build + start %.2fs for %d pages" % (profile, time.perf_counter() - t0, a.pages))
            s = session_for(info)
            host = info["base_url"]
            if profile == "cloud":
                url = host + "/wiki/rest/api/content/search?cql=type=page&limit=250&expand=" + CONNECTOR_EXPAND
                out["cloud_v1_connector_search"] = report("cloud v1 content/search, connector expand (limit 250 -> 50), first pass",
                                                          *walk(s, url, lambda b: b["_links"]["base"], a.seconds, proc.pid))
                out["cloud_v1_connector_search_repeat"] = report(
                    "cloud v1 content/search, connector expand, walked again (cached records)",
                    *walk(s, url, lambda b: b["_links"]["base"], a.seconds, proc.pid, warmup=0, wrap=True))
                url = host + "/wiki/api/v2/pages?limit=250&body-format=storage"
                out["cloud_v2_pages_storage"] = report("cloud v2 pages, body-format=storage (limit 250), first pass",
                                                       *walk(s, url, lambda b: host, a.seconds, proc.pid))
            else:
                url = host + "/rest/api/content/search?cql=type=page&limit=50&expand=" + CONNECTOR_EXPAND
                out["dc_v1_connector_search"] = report("DC v1 content/search, connector expand (limit 50, offset), first pass",
                                                       *walk(s, url, lambda b: b["_links"]["base"], a.seconds, proc.pid))
        finally:
            proc.terminate()
            proc.wait(10)
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
