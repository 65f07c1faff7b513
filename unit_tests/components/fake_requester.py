"""A requester that answers ``send_request`` from a table, for components that make their own look-ups."""

import json
from typing import Any, Dict, List, Mapping, Optional

import requests


class FakeRequester:
    """Answers ``send_request`` from a table of path -> JSON (or status code), and records what was asked."""

    def __init__(self, answers: Mapping[str, Any]) -> None:
        self.answers = dict(answers)
        self.calls: List[Dict[str, Any]] = []

    def send_request(self, path: str, request_params: Optional[Mapping[str, Any]] = None, **_: Any) -> requests.Response:
        params = dict(request_params or {})
        self.calls.append({"path": path, **params})
        answer = self.answers[path](params) if callable(self.answers.get(path)) else self.answers.get(path, 404)
        response = requests.Response()
        response.status_code = answer if isinstance(answer, int) else 200
        response._content = json.dumps({} if isinstance(answer, int) else answer).encode()
        response.headers["Content-Type"] = "application/json"
        response.request = requests.Request("GET", "https://acme.test/wiki/api/v2/" + path).prepare()
        return response
