"""Error types and the v1 / v2 / OAuth error envelopes."""
from __future__ import annotations


class ApiError(Exception):
    """Raised by handlers; rendered per API family (v1 `statusCode/data/message`, v2 `errors[]`)."""

    def __init__(self, status: int, message: str, code: str | None = None, headers: dict | None = None,
                 body=None, authorized: bool = True, valid: bool = True, raw: bytes | None = None,
                 content_type: str | None = "application/json"):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = headers or {}
        self.body = body
        self.authorized = authorized
        self.valid = valid
        self.raw = raw
        self.content_type = content_type


V2_CODES = {400: ("INVALID_REQUEST_PARAMETER", "Bad Request"), 401: ("UNAUTHORIZED", "Unauthorized"),
            403: ("FORBIDDEN", "Forbidden"), 404: ("NOT_FOUND", "Not Found"), 405: ("METHOD_NOT_ALLOWED", "Method Not Allowed"),
            410: ("GONE", "Gone"), 429: ("TOO_MANY_REQUESTS", "Too Many Requests"), 500: ("INTERNAL_SERVER_ERROR", "Internal Server Error"),
            503: ("SERVICE_UNAVAILABLE", "Service Unavailable"), 504: ("GATEWAY_TIMEOUT", "Gateway Timeout")}


def v1_body(status: int, message: str, authorized=True, valid=True, successful=False) -> dict:
    return {"statusCode": status, "data": {"authorized": authorized, "valid": valid, "errors": [], "successful": successful},
            "message": message}


def v2_body(status: int, title: str | None = None, code: str | None = None, detail=None) -> dict:
    c, t = V2_CODES.get(status, ("ERROR", "Error"))
    return {"errors": [{"status": status, "code": code or c, "title": title or t, "detail": detail}]}


GONE_MESSAGE = "com.atlassian.confluence.api.service.exceptions.pagesmodes.GoneException: This deprecated endpoint has been removed."


def gone() -> ApiError:
    return ApiError(410, GONE_MESSAGE, body=v1_body(410, GONE_MESSAGE, successful=True))
