"""Small Confluence payloads: list pages (v1 and v2) and the records inside them."""

from typing import Any, Dict, List, Optional


def list_page(
    results: List[Dict[str, Any]],
    next_link: Optional[str] = None,
    base: Optional[str] = None,
    start: Optional[int] = None,
    limit: Optional[int] = None,
) -> Dict[str, Any]:
    links: Dict[str, Any] = {}
    if next_link:
        links["next"] = next_link
    if base:
        links["base"] = base
    body: Dict[str, Any] = {"results": results, "_links": links}
    if start is not None:
        body.update(start=start, size=len(results))
    if limit is not None:
        body["limit"] = limit
    return body


def v2_space(space_id: str = "100", key: str = "ENG", name: str = "Engineering") -> Dict[str, Any]:
    return {
        "id": space_id,
        "key": key,
        "name": name,
        "type": "global",
        "status": "current",
        "authorId": "557058:author",
        "createdAt": "2024-01-02T03:04:05.000Z",
        "homepageId": "200",
        "description": {"plain": {"representation": "plain", "value": f"{name} space"}},
        "_links": {"webui": f"/spaces/{key}"},
    }


def dc_space(space_id: int = 98305, key: str = "ENG", name: str = "Engineering") -> Dict[str, Any]:
    return {
        "id": space_id,
        "key": key,
        "name": name,
        "type": "global",
        "status": "current",
        "description": {"plain": {"value": f"{name} space", "representation": "plain"}},
        "homepage": {"id": "65540", "type": "page", "title": "Home"},
        "history": {
            "createdBy": {"type": "known", "username": "admin", "userKey": "8a7f808a"},
            "createdDate": "2024-03-11T19:24:06.964+08:00",
        },
        "_links": {"webui": f"/display/{key}", "self": f"https://wiki.example.com/confluence/rest/api/space/{key}"},
    }


def content(
    content_id: str = "5001",
    space_key: str = "ENG",
    when: str = "2024-02-01T10:00:00.000Z",
    content_type: str = "page",
    title: str = "A page",
) -> Dict[str, Any]:
    """A v1 content object with body.storage,version,space,history,ancestors,metadata.labels expanded (Cloud)."""
    return {
        "id": content_id,
        "type": content_type,
        "status": "current",
        "title": title,
        "space": {"id": 100, "key": space_key, "name": "Engineering"},
        "history": {"createdBy": {"accountId": "557058:author"}, "createdDate": "2024-01-05T08:00:00.000Z"},
        "version": {"by": {"accountId": "557058:editor"}, "when": when, "number": 3, "message": "", "minorEdit": False},
        "ancestors": [],
        "metadata": {"labels": {"results": []}},
        "body": {"storage": {"value": "<p>Hello</p>", "representation": "storage"}},
        "_links": {"webui": f"/spaces/{space_key}/pages/{content_id}"},
    }


def group(name: str, group_id: Optional[str] = None) -> Dict[str, Any]:
    record: Dict[str, Any] = {"type": "group", "name": name, "_links": {"self": f"https://x/rest/api/group/{name}"}}
    if group_id:
        record["id"] = group_id
    return record


def audit_record(summary: str = "User added to group", creation_date: int = 1686026712358) -> Dict[str, Any]:
    return {
        "author": {"type": "user", "displayName": "System"},
        "remoteAddress": "",
        "creationDate": creation_date,
        "summary": summary,
        "description": "",
        "category": "Users and groups",
        "sysAdmin": False,
        "affectedObject": {"name": "confluence-users", "objectType": "Group"},
        "changedValues": [],
        "associatedObjects": [{"name": "alice", "objectType": "User"}],
    }


def error(status: int, message: str) -> Dict[str, Any]:
    return {"statusCode": status, "message": message}


def tree_node(node_id: str = "7001", node_type: str = "folder", title: str = "Team", when: str = "2024-02-01T10:00:00.000Z",
              space_key: str = "ENG") -> Dict[str, Any]:
    """A v1 folder/whiteboard/database/embed from CQL with version,space,history expanded (Cloud)."""
    return {
        "id": node_id,
        "type": node_type,
        "status": "current",
        "title": title,
        "space": {"id": 100, "key": space_key, "name": "Engineering"},
        "history": {"createdBy": {"accountId": "557058:author"}, "createdDate": "2024-01-05T08:00:00.000Z"},
        "version": {"by": {"accountId": "557058:editor"}, "when": when, "number": 2, "message": "", "minorEdit": False},
        "extensions": {"position": 4},
        "_links": {"webui": f"/spaces/{space_key}/{node_type}/{node_id}"},
    }


def v2_tree_node(node_id: str = "7001", node_type: str = "folder", parent_id: Optional[str] = "7000",
                 parent_type: Optional[str] = "folder", owner_id: str = "557058:owner", **extra: Any) -> Dict[str, Any]:
    """The v2 ``/{folders|whiteboards|databases|embeds}/{id}`` answer."""
    return {"id": node_id, "type": node_type, "status": "current", "title": "Team", "parentId": parent_id,
            "parentType": parent_type, "position": 1, "authorId": "557058:author", "ownerId": owner_id,
            "spaceId": "100", "version": {"number": 2}, **extra}
