"""Runnable examples: the connector driven by PyAirbyte, Airbyte's own Python runner.

* ``python -m demo.run_demo`` (``make demo``): the emulator's demo site into ``demo/confluence.duckdb``,
  with no internet access.
* ``python -m demo.real_site``: the same for a real Confluence, configured from environment variables.
"""
