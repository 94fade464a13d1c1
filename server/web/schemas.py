"""Base schemas: error shape, paging, masked personal data, money, and Chinese field messages."""
from __future__ import annotations

import functools

from marshmallow import Schema, fields, validate

from server.common import pii
from server.common.paging import MAX_PAGE, MAX_PER_PAGE, PageRequest

# Marshmallow's default messages are English; residents and staff read Chinese.
_FIELD_MESSAGES = {
    fields.Field: {"required": "必填", "null": "不能为空", "validator_failed": "取值无效"},
    fields.String: {"invalid": "应为字符串"},
    fields.Integer: {"invalid": "应为整数", "too_large": "数值过大"},
    fields.Float: {"invalid": "应为数字", "special": "应为有效数字"},
    fields.Decimal: {"invalid": "应为数字", "special": "应为有效数字"},
    fields.Boolean: {"invalid": "应为布尔值"},
    fields.Date: {"invalid": "日期格式应为 YYYY-MM-DD", "format": "日期格式有误"},
    fields.DateTime: {"invalid": "时间格式应为 ISO 8601", "format": "时间格式有误"},
    fields.List: {"invalid": "应为列表"},
    fields.Dict: {"invalid": "应为对象"},
    fields.Nested: {"type": "应为对象"},
}


def localise_messages() -> None:
    """Install Chinese default field messages (idempotent; called by the app factory)."""
    for field_cls, messages in _FIELD_MESSAGES.items():
        field_cls.default_error_messages = {**field_cls.default_error_messages, **messages}
    Schema._default_error_messages = {
        **Schema._default_error_messages, "unknown": "不支持的字段", "type": "请求体应为 JSON 对象",
    }


class ErrorSchema(Schema):
    code = fields.String(required=True, metadata={"description": "稳定的机器可读错误码"})
    message = fields.String(required=True, metadata={"description": "中文错误说明"})
    details = fields.Dict(metadata={"description": "字段级错误等细节"})


class PageArgsSchema(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE, error=f"页码应在1到{MAX_PAGE}之间"))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=MAX_PER_PAGE,
                                                                        error=f"每页条数应在1到{MAX_PER_PAGE}之间"))



def split_page(args: dict) -> tuple[PageRequest, dict]:
    """Separate paging from the filters of a parsed list query."""
    filters = dict(args)
    return PageRequest(page=filters.pop("page"), per_page=filters.pop("per_page")), filters


@functools.cache
def page_schema(item_schema: type[Schema]) -> type[Schema]:
    """A `{items, total, page, per_page}` envelope around `item_schema`, named for OpenAPI."""
    name = item_schema.__name__.removesuffix("Schema") + "PageSchema"
    return type(name, (Schema,), {
        "items": fields.List(fields.Nested(item_schema), required=True),
        "total": fields.Integer(required=True),
        "page": fields.Integer(required=True),
        "per_page": fields.Integer(required=True),
    })


class DecimalString(fields.Decimal):
    """An exact decimal (a score, rate, ratio or quantity) as a string such as "85.500".

    A string keeps every digit that a JSON number would round through a float; it is
    documented as `type: string, format: decimal`, and a number is still accepted on input.
    """

    def __init__(self, **kwargs):
        kwargs["metadata"] = {"type": "string", "format": "decimal", **kwargs.get("metadata", {})}
        super().__init__(as_string=True, **kwargs)


class FreeText(fields.String):
    """Text a person writes in their own words (notes, reasons, evidence, descriptions): unlike
    every other string it may hold line breaks and tabs (server.web.input_guard)."""


class MaskedIdNumber(fields.String):
    """An ID number as the API shows it: never in full."""

    def _serialize(self, value, attr, obj, **kwargs):
        return pii.mask_id_number(value)


class MaskedPhone(fields.String):
    def _serialize(self, value, attr, obj, **kwargs):
        return pii.mask_phone(value)


class MaskedName(fields.String):
    """A name shown to someone not (yet) entitled to it: the first character only."""

    def _serialize(self, value, attr, obj, **kwargs):
        return pii.mask_name(value)


class StrictBoolean(fields.Boolean):
    """A JSON body's boolean is `true` or `false`, never "yes" or 1 that merely look true."""

    def _deserialize(self, value, attr, data, **kwargs):
        # `1 in {True}` holds in Python, so the type is checked rather than the value.
        if type(value) is not bool:
            raise self.make_error("invalid", input=value)
        return value


def consent_field(description: str) -> fields.Boolean:
    return StrictBoolean(required=True, metadata={"description": description})
