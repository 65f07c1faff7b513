"""A response's JSON body, parsed once.

The error handler (is the body whole?), the paginator (where is the next page?) and the record
extractor all read the same body; parsing a 50-body page of results three times was a tenth of a
full sync's CPU. The parsed value, or the parse failure, is kept on the response object.
"""

import json
from typing import Any

import orjson
import requests

_ATTRIBUTE = "_confluence_json"


class _Invalid:
    def __init__(self, error: ValueError) -> None:
        self.error = error


def json_body(response: requests.Response) -> Any:
    """The decoded body; raises ValueError (as ``response.json()`` does) when it is not JSON."""
    cached = getattr(response, _ATTRIBUTE, None)
    if cached is None:
        try:
            cached = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            try:  # not UTF-8, or something orjson refuses that the standard library reads
                cached = json.loads(response.text)
            except ValueError as error:
                cached = _Invalid(error)
        setattr(response, _ATTRIBUTE, cached)
    if isinstance(cached, _Invalid):
        raise cached.error
    return cached
