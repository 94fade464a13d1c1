"""One error shape for every failure: `{"code", "message", "details"}`, message in Chinese."""
from __future__ import annotations

import structlog
from flask import Flask, jsonify
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from server.errors import DomainError
from server.extensions import db

log = structlog.get_logger(__name__)

_HTTP_CODES = {
    400: ("BAD_REQUEST", "请求格式有误"),
    401: ("UNAUTHENTICATED", "请先登录"),
    403: ("FORBIDDEN", "无权执行此操作"),
    404: ("NOT_FOUND", "记录不存在或无权查看"),
    405: ("METHOD_NOT_ALLOWED", "不支持的请求方法"),
    409: ("CONFLICT", "与现有数据冲突"),
    413: ("PAYLOAD_TOO_LARGE", "请求内容过大"),
    415: ("UNSUPPORTED_MEDIA_TYPE", "请使用 JSON 格式提交"),
    422: ("VALIDATION_ERROR", "请求参数有误"),
    428: ("PRECONDITION_REQUIRED", "缺少必要的请求头"),
    429: ("TOO_MANY_REQUESTS", "请求过于频繁，请稍后再试"),
}


def error_body(code: str, message: str, details: dict | None = None) -> dict:
    return {"code": code, "message": message, "details": details or {}}


def register(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain(err: DomainError):
        db.session.rollback()
        return jsonify(error_body(err.code, err.message, err.details)), err.status, err.headers

    @app.errorhandler(HTTPException)
    def _http(err: HTTPException):
        db.session.rollback()
        code, message = _HTTP_CODES.get(err.code or 500, ("HTTP_ERROR", "请求失败"))
        details = {}
        # webargs puts marshmallow's field messages under data["messages"]["json"|"query"|...].
        messages = getattr(err, "data", {}).get("messages") if hasattr(err, "data") else None
        if messages:
            details = {"fields": _flatten_locations(messages)}
        return jsonify(error_body(code, message, details)), err.code or 500

    @app.errorhandler(StaleDataError)
    def _stale(_err):
        db.session.rollback()
        return jsonify(error_body("CONCURRENT_UPDATE", "数据已被他人修改，请刷新后重试")), 409

    @app.errorhandler(IntegrityError)
    def _integrity(err: IntegrityError):
        db.session.rollback()
        log.warning("integrity_error", error=str(err.orig)[:300])
        return jsonify(error_body("CONFLICT", "与现有数据冲突")), 409

    @app.errorhandler(Exception)
    def _unexpected(err: Exception):
        db.session.rollback()
        log.exception("unhandled_error", error_type=type(err).__name__)
        return jsonify(error_body("INTERNAL_ERROR", "系统繁忙，请稍后再试")), 500


def _flatten_locations(messages: dict) -> dict:
    merged: dict = {}
    for location_messages in messages.values():
        if isinstance(location_messages, dict):
            merged.update(location_messages)
    return merged
