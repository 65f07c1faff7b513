"""Expected Confluence request URLs, and helpers to compare what the source actually sent."""

import base64
from typing import Dict, List, Optional
from urllib.parse import parse_qs, urlsplit

from source_confluence.access.ancestors import TREE_PROBE_CQL
from unit_tests.config_builder import CLOUD_ID, DC_BASE, GATEWAY, SITE


class ConfluenceUrls:
    """Where each endpoint lives for one kind of sign-in (site, API gateway or Data Center)."""

    def __init__(self, v1_root: str, v2_root: Optional[str]) -> None:
        self.v1_root = v1_root
        self.v2_root = v2_root

    @classmethod
    def cloud_site(cls, site: str = SITE) -> "ConfluenceUrls":
        return cls(f"{site}/wiki/rest/api", f"{site}/wiki/api/v2")

    @classmethod
    def gateway(cls, gateway: str = GATEWAY, cloud_id: str = CLOUD_ID) -> "ConfluenceUrls":
        return cls(f"{gateway}/ex/confluence/{cloud_id}/wiki/rest/api", f"{gateway}/ex/confluence/{cloud_id}/wiki/api/v2")

    @classmethod
    def data_center(cls, base: str = DC_BASE) -> "ConfluenceUrls":
        return cls(f"{base}/rest/api", None)

    @property
    def spaces(self) -> str:
        return f"{self.v2_root}/spaces" if self.v2_root else f"{self.v1_root}/space"

    @property
    def content_search(self) -> str:
        return f"{self.v1_root}/content/search"

    @property
    def group(self) -> str:
        return f"{self.v1_root}/group"

    @property
    def audit(self) -> str:
        return f"{self.v1_root}/audit"


def url_without_query(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def query_of(url: str) -> Dict[str, List[str]]:
    """The query as sent, case preserved (requests_mock's ``qs`` lower-cases values)."""
    return parse_qs(urlsplit(url).query, keep_blank_values=True)


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def bearer(token: str) -> str:
    return f"Bearer {token}"


def is_content_tree_probe(request) -> bool:
    """The one CQL request a Cloud sync of pages makes to learn whether the site has folders (access/ancestors.py)."""
    return "content/search" in request.url and (query_of(request.url).get("cql") or [""])[0] == TREE_PROBE_CQL


def requests_to(mocker, url: str) -> list:
    """Every request the source sent to ``url`` (query ignored), in order; the content-tree probe left out."""
    return [r for r in mocker.request_history if url_without_query(r.url) == url and not is_content_tree_probe(r)]
