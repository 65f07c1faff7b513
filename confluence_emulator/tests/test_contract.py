"""Responses from the running emulator validated against Atlassian's official OpenAPI response schemas."""
import json
from functools import lru_cache

import pytest

from .conftest import Client, specs_dir

pytestmark = pytest.mark.contract

SPECS = {"v2": "confluence-cloud-v2.openapi.json", "v1": "confluence-cloud-v1.swagger.v3.json",
         "v1old": "confluence-cloud-v1.swagger.v3.2021-11-23.json", "dc": "confluence-dc-10.0.3.swagger.v3.json"}


@lru_cache(maxsize=None)
def load(name):
    d = specs_dir()
    if not (d / SPECS[name]).exists():
        pytest.skip("Atlassian OpenAPI specs not found at %s (set CONFLUENCE_API_SPECS); contract tests skipped" % d)
    return json.loads((d / SPECS[name]).read_text())


def validate(spec_name, path, body, status="200", method="get"):
    from openapi_schema_validator import OAS30Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4
    spec = load(spec_name)
    resp = spec["paths"][path][method]["responses"][status]
    while "$ref" in resp:
        resp = spec["components"]["responses"][resp["$ref"].split("/")[-1]]
    schema = resp["content"]["application/json"]["schema"]
    registry = Registry().with_resource(uri="spec.json", resource=Resource.from_contents(spec, default_specification=DRAFT4))

    def fix(o):
        if isinstance(o, dict):
            return {k: (("spec.json" + v) if k == "$ref" and isinstance(v, str) and v.startswith("#") else fix(v)) for k, v in o.items()}
        if isinstance(o, list):
            return [fix(x) for x in o]
        return o
    errs = []
    for e in OAS30Validator(fix(schema), registry=registry).iter_errors(body):
        p = list(e.path)
        if p and p[-1] in ("parentId", "parentType") and e.instance is None:
            continue  # documented spec gap: parentId/parentType may be null but are not declared nullable
        errs.append("%s: %s" % ("/".join(map(str, p)), e.message[:200]))
    assert not errs, "\n".join(errs[:20])


FULL_EXPAND = ("body.storage,body.view,version,history,history.lastUpdated,space,ancestors,metadata.labels,container,"
               "restrictions.read.restrictions.user,restrictions.read.restrictions.group,children.attachment,children.comment")

CLOUD_V1 = [
    ("v1", "/wiki/rest/api/content/search", "/content/search?cql=type=page&limit=5&expand=" + FULL_EXPAND),
    ("v1", "/wiki/rest/api/content/search", "/content/search?cql=type=comment&limit=5&expand=container,version,extensions"),
    ("v1", "/wiki/rest/api/search", "/search?cql=type=page&limit=5"),
    ("v1", "/wiki/rest/api/group", "/group?limit=5"),
    ("v1", "/wiki/rest/api/audit", "/audit?limit=5"),
    ("v1", "/wiki/rest/api/user/current", "/user/current"),
    ("v1", "/wiki/rest/api/settings/systemInfo", "/settings/systemInfo"),
    ("v1old", "/wiki/rest/api/space", "/space?expand=description.plain,icon,homepage"),
    ("v1old", "/wiki/rest/api/content", "/content?limit=5&expand=" + FULL_EXPAND),
    ("v1old", "/wiki/rest/api/content/{id}/child/attachment", "/content/{att_parent}/child/attachment"),
    ("v1old", "/wiki/rest/api/content/{id}/child/comment", "/content/{com_parent}/child/comment?depth=all&location=footer,inline"),
    ("v1old", "/wiki/rest/api/content/{id}/label", "/content/{lab_page}/label"),
    ("v1", "/wiki/rest/api/content/{id}/restriction", "/content/{page}/restriction"),
    ("v1", "/wiki/rest/api/search/user", "/search/user?cql=type=user&limit=5"),
    ("v1", "/wiki/rest/api/search/user", "/search/user?cql=type=user&start=5&limit=5"),
    ("v1", "/wiki/rest/api/user/bulk", "/user/bulk?accountId={user1}&accountId={user2}"),
]

V2 = [
    ("/spaces", "/spaces?limit=5&description-format=plain"),
    ("/pages", "/pages?limit=5&body-format=storage"),
    ("/blogposts", "/blogposts?limit=5&body-format=storage"),
    ("/pages/{id}", "/pages/{page}?body-format=storage&include-labels=true&include-versions=true"),
    ("/spaces/{id}/pages", "/spaces/{space}/pages?limit=5"),
    ("/pages/{id}/attachments", "/pages/{att_parent}/attachments"),
    ("/attachments", "/attachments?limit=5"),
    ("/pages/{id}/footer-comments", "/pages/{com_parent}/footer-comments?body-format=storage"),
    ("/footer-comments", "/footer-comments?body-format=storage&limit=10"),
    ("/inline-comments", "/inline-comments?body-format=storage&limit=10"),
    ("/labels", "/labels"),
    ("/pages/{id}/labels", "/pages/{lab_page}/labels"),
    ("/pages/{id}/ancestors", "/pages/{deep}/ancestors"),
    ("/pages/{id}/versions", "/pages/{page}/versions"),
    ("/spaces/{id}/permissions", "/spaces/{space}/permissions"),
]


def ids(emu):
    s = emu.site
    pages = [c for c in s.content.values() if c.type == "page" and c.status == "current" and c.read_users is None]
    att = next(c for c in s.content.values() if c.type == "attachment")
    com = next(c for c in s.content.values() if c.type == "comment" and s.content[c.container_id].type == "page")
    lab = next(c for c in pages if c.labels)
    deep = max(pages, key=lambda c: len(s.ancestors(c)))
    return {"page": pages[3].id, "att_parent": att.container_id, "com_parent": com.container_id, "lab_page": lab.id,
            "deep": deep.id, "space": str(s.spaces["ENG"].id), "user1": sorted(s.users)[0], "user2": sorted(s.users)[1]}


@pytest.mark.parametrize("spec,path,url", CLOUD_V1)
def test_cloud_v1(cloud, spec, path, url):
    cl = Client(cloud)
    r = cl.get(cl.v1 + url.format(**ids(cloud)))
    assert r.status_code == 200, r.text
    validate(spec, path, r.json())


@pytest.mark.parametrize("path,url", V2)
def test_cloud_v2(cloud, path, url):
    cl = Client(cloud)
    r = cl.get(cl.v2 + url.format(**ids(cloud)))
    assert r.status_code == 200, r.text
    validate("v2", path, r.json())


@pytest.mark.parametrize("path,url", V2[:4])
def test_gateway_v2(gateway, path, url):
    info = gateway.info
    c = info["credentials"]["scoped_api_token"]
    import requests
    r = requests.get(info["api_gateway_url"] + "/ex/confluence/%s/wiki/api/v2" % info["cloud_id"] + url.format(**ids(gateway)),
                     auth=(c["email"], c["api_token"]), timeout=30)
    assert r.status_code == 200, r.text
    validate("v2", path, r.json())


DC = [
    ("/rest/api/content/search", "/content/search?cql=type=page&limit=5&expand=" + FULL_EXPAND),
    ("/rest/api/content", "/content?limit=5&expand=" + FULL_EXPAND),
    ("/rest/api/content/scan", "/content/scan?limit=5&expand=body.storage,version"),
    ("/rest/api/search", "/search?cql=type=page&limit=5"),
    ("/rest/api/space", "/space?limit=5&expand=description.plain,homepage"),
    ("/rest/api/group", "/group?limit=5"),
    ("/rest/api/content/{id}/child/attachment", "/content/{att_parent}/child/attachment"),
    ("/rest/api/content/{id}/child/comment", "/content/{com_parent}/child/comment?depth=all"),
    ("/rest/api/content/{id}", "/content/{page}?expand=" + FULL_EXPAND),
    ("/rest/api/space/{spaceKey}/permissions", "/space/DOCS/permissions"),
    ("/rest/api/space/{spaceKey}/permissions", "/space/HR/permissions"),
    ("/rest/api/group/{groupName}/member", "/group/confluence-users/member?limit=3"),
    ("/rest/api/space", "/space?spaceKey=DOCS&expand=permissions"),
    ("/rest/api/user/list", "/user/list"),
    ("/rest/api/user/list", "/user/list?start=2&limit=3"),
]


@pytest.mark.parametrize("path,url", DC)
def test_dc(dc, path, url):
    cl = Client(dc)
    r = cl.get(cl.v1 + url.format(**ids(dc)))
    assert r.status_code == 200, r.text
    # the DC spec documents the attachment listing GET only under "201" (spec quirk)
    validate("dc", path, r.json(), status="201" if path.endswith("child/attachment") else "200")
