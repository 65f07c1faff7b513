"""Put on PYTHONPATH by bench/run.py for every measured child: trust the emulator's generated CA.

`REQUESTS_CA_BUNDLE` is read only by `requests.Session.request`; clients that call `Session.send` directly
(the CDK 0.80 inside airbyte-source-confluence 0.2.16) verify against certifi's bundle. Pointing
`certifi.where()` at the emulator's CA, before requests is imported, covers both.
"""
import os

_ca = os.environ.get("BENCH_CA_BUNDLE")
if _ca:
    try:
        import certifi

        certifi.where = lambda: _ca
    except ImportError:
        pass
