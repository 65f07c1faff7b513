"""Text from Confluence content, with no Airbyte in it: usable and tested on its own.

- ``markdown``: storage XHTML to Markdown (``storage_to_markdown``) and the people a body mentions;
  ``markdown_tree`` and ``markdown_writer`` are its parse tree and writer.
- ``extraction``: plain text from attachment files (PDF, docx, pptx, xlsx, csv, txt, Markdown, HTML).

Nothing here imports ``airbyte_cdk``; ``unit_tests/text/test_package.py`` holds it to that.
"""
