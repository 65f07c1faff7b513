"""Throughput benchmark (a script, not a test): v2 /pages with storage bodies, latency off.

    python -m confluence_emulator.bench_serve [--pages 20000] [--seconds 5]
Prints build time and page records/s served over HTTP by one emulator process.
"""
import argparse
import time

import requests

from confluence_emulator import Emulator


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--pages", type=int, default=20000)
    p.add_argument("--seconds", type=float, default=5)
    a = p.parse_args()
    t0 = time.perf_counter()
    emu = Emulator(profile="cloud", seed=1, pages=a.pages)
    print("site build: %.2fs for %d pages" % (time.perf_counter() - t0, a.pages))
    with emu:
        c = emu.info["credentials"]["api_token"]
        s = requests.Session()
        s.auth = (c["email"], c["api_token"])
        host = emu.info["base_url"]
        n, t0 = 0, time.perf_counter()
        url = host + "/wiki/api/v2/pages?limit=250&body-format=storage"
        while time.perf_counter() - t0 < a.seconds:
            b = s.get(url).json()
            n += len(b["results"])
            nxt = b["_links"].get("next")
            url = host + nxt if nxt else host + "/wiki/api/v2/pages?limit=250&body-format=storage"
        dt = time.perf_counter() - t0
        print("v2 pages with storage bodies: %d records in %.2fs = %.0f records/s" % (n, dt, n / dt))
        n, t0 = 0, time.perf_counter()
        url = host + "/wiki/rest/api/content/search?cql=type=page&limit=50&expand=body.storage,version,space"
        while time.perf_counter() - t0 < a.seconds:
            b = s.get(url).json()
            n += len(b["results"])
            nxt = b["_links"].get("next")
            url = b["_links"]["base"] + nxt if nxt else host + "/wiki/rest/api/content/search?cql=type=page&limit=50&expand=body.storage,version,space"
        dt = time.perf_counter() - t0
        print("v1 content/search with body.storage: %d records in %.2fs = %.0f records/s" % (n, dt, n / dt))


if __name__ == "__main__":
    main()
