"""What-if, not the shipped connector: `source-confluence` with the per-record storage→Markdown conversion
replaced by nothing (`bodyMarkdown` comes out null). Everything else (requests, CDK, concurrency,
transformations, output) is the real connector. It isolates what the conversion costs, to say what
making it optional or moving it off the read path would gain. Used by bench/run.py only."""
import sys

import source_confluence.sync.markdown_pool as markdown_pool
import source_confluence.components.records as records

# Both places that convert: a page of results at once (the extractor) and a lone record (the fallback).
markdown_pool.MarkdownPool.submit_all = lambda self, jobs, wait=None: (lambda: [None] * len(jobs))
records.storage_to_markdown = lambda *args, **kwargs: None

# main, as the console script: with its process settings (thread switches, garbage collection, startup.py).
from source_confluence.run import main  # noqa: E402

if __name__ == "__main__":
    sys.argv[0] = "source-confluence"
    main()
