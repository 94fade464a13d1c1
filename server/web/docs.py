"""OpenAPI additions that the schemas cannot express."""
from __future__ import annotations

from server.web.schemas import ErrorSchema

# Codes any authenticated endpoint may answer with; listed once in the document's description.
COMMON_CODES = ("UNAUTHENTICATED", "TOKEN_EXPIRED", "TOKEN_INVALID", "TOKEN_REVOKED", "FORBIDDEN", "NOT_FOUND",
                "VALIDATION_ERROR", "BAD_REQUEST", "JSON_TOO_DEEP", "PAYLOAD_TOO_LARGE", "CONFLICT",
                "CONCURRENT_UPDATE", "INTERNAL_ERROR")


def error_codes(*codes: str):
    """Name the domain error codes an operation may answer with (as `x-error-codes`).

    The mini-program team codes against the OpenAPI document, so the codes they must handle
    belong beside each operation, not only in the source.
    """
    def decorator(view):
        apidoc = dict(getattr(view, "_apidoc", {}))
        apidoc["manual_doc"] = {**apidoc.get("manual_doc", {}), "x-error-codes": list(codes)}
        view._apidoc = apidoc
        return view
    return decorator


# A throttled sign-in: 429 in the error shape, with how long to wait.
THROTTLED = {"schema": ErrorSchema, "description": "登录失败次数过多，请于 Retry-After 秒后再试",
             "headers": {"Retry-After": {"description": "需等待的秒数", "schema": {"type": "integer", "minimum": 1}}}}
