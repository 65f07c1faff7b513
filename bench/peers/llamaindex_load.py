"""LlamaIndex's ConfluenceReader over the emulator (run inside bench/.venvs/llamaindex).

    python llamaindex_load.py CONFIG.json
Pages and blog posts can only be read together through `cql` (its space_key mode reads pages only), so the
reader gets `type in (page, blogpost)` with the same statuses this connector reads, and `load_data` its
defaults otherwise: no attachments, no limit. The reader asks CQL `content/search` for `body.export_view`
(it has no storage option; Confluence caps that expand at 25 a page), keeps every page of results in a list,
then turns each body into text (its HtmlTextParser: markdownify). Cloud's API token goes as Basic
`email:token` (user_name/password): its `api_token` argument is sent as a Bearer token, which a Cloud site
refuses.
"""
import json
import sys

from llama_index.readers.confluence import ConfluenceReader

cfg = json.load(open(sys.argv[1]))
reader = ConfluenceReader(base_url=cfg["base_url"] + "/wiki", user_name=cfg["email"], password=cfg["api_token"], cloud=True)
docs = reader.load_data(cql='type in (page, blogpost) AND status in ("current", "archived")')
json.dump({"records": {"documents": len(docs)}}, sys.stdout)
sys.stdout.write("\n")
