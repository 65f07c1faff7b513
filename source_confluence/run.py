"""`source-confluence spec|check|discover|read` (and `python -m source_confluence.run`): the console script.

It imports nothing heavy at the top: what it runs, with airbyte-cdk and the connector, is ``launch.py``,
imported by ``main``. Why: a process of the Markdown pool (``sync/markdown_pool.py``) starts by importing
the main module of the process that started it (multiprocessing's forkserver and spawn do that for
every child, so that functions pickled by reference to ``__main__`` can be found; only its
``if __name__ == "__main__"`` block is left out). With airbyte-cdk imported here, each of those processes
paid the connector's whole start-up again: 0.9 s of CPU and 57 MB more resident memory a process (74 MB
against 17 MB), on a machine whose CPUs a full sync keeps busy (bench/NOTES.md).

What must happen before any thread starts or anything imports airbyte-cdk is done at import, here, and is
cheap: at most two malloc arenas and large blocks kept out of them (``startup.py``).
"""

from source_confluence.startup import limit_malloc_arenas, map_large_blocks

limit_malloc_arenas()  # before any thread starts: a quarter less memory (startup.py)
map_large_blocks()  # huge bodies do not leave the arenas to grow for the rest of the sync (startup.py)


def main() -> None:
    """Run the command on the command line (``launch.main``)."""
    from source_confluence.launch import main as launch_main  # airbyte-cdk: not at import (module docstring)

    launch_main()


if __name__ == "__main__":
    main()
