"""Talking to Confluence, below the manifest's requesters: where the API lives for a config and how the
look-ups made before the streams exist sign their requests (``endpoints.py``), and a response's JSON
body parsed once for everyone who reads it (``response_json.py``).
"""
