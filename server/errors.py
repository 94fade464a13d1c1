"""Domain errors: each carries a stable machine code, a Chinese message and an HTTP status.

Services raise these; the web layer maps them once to `{"code", "message", "details"}`.
"""
from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status = 400
    code = "BAD_REQUEST"
    message = "请求有误"

    def __init__(self, message: str | None = None, *, code: str | None = None,
                 details: dict[str, Any] | None = None) -> None:
        self.message = message or self.message
        self.code = code or self.code
        self.details = details or {}
        super().__init__(f"{self.code}: {self.message}")

    @property
    def headers(self) -> dict[str, str]:
        """HTTP headers the answer carries besides the body."""
        return {}


class ValidationFailed(DomainError):
    status = 422
    code = "VALIDATION_ERROR"
    message = "请求参数有误"


class Unauthenticated(DomainError):
    status = 401
    code = "UNAUTHENTICATED"
    message = "请先登录"


class Forbidden(DomainError):
    status = 403
    code = "FORBIDDEN"
    message = "无权执行此操作"


class NotFound(DomainError):
    status = 404
    code = "NOT_FOUND"
    message = "记录不存在或无权查看"


class Conflict(DomainError):
    status = 409
    code = "CONFLICT"
    message = "与现有数据冲突"


class RuleViolation(DomainError):
    """A request that is well-formed but breaks a business rule (region rules, state machine)."""

    status = 422
    code = "RULE_VIOLATION"
    message = "不符合业务规则"


class TooManyRequests(DomainError):
    """Too many attempts: refused until `retry_after` seconds have passed."""

    status = 429
    code = "TOO_MANY_REQUESTS"
    message = "请求过于频繁，请稍后再试"

    def __init__(self, retry_after: int, message: str | None = None, *, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}
