"""LangChain's ConfluenceLoader over the emulator (run inside bench/.venvs/langchain).

    python langchain_load.py CONFIG.json
Pages and blog posts can only be read together through `cql` (space_key mode reads pages only), so the
loader gets `type in (page, blogpost)` with the same statuses this connector reads. Storage format (the
default), no attachments, no comments, `include_restricted_content=True` (the default False makes one
extra restriction request per page), `max_pages` lifted from its silent default of 1,000.
"""
import json
import sys

from langchain_community.document_loaders import ConfluenceLoader

cfg = json.load(open(sys.argv[1]))
loader = ConfluenceLoader(
    url=cfg["base_url"] + "/wiki",
    username=cfg["email"],
    api_key=cfg["api_token"],
    cloud=True,
    cql='type in (page, blogpost) AND status in ("current", "archived")',
    include_restricted_content=True,
    include_archived_content=True,
    max_pages=10**9,
    limit=50,
)
n = 0
for doc in loader.lazy_load():
    n += 1
json.dump({"records": {"documents": n}}, sys.stdout)
sys.stdout.write("\n")
