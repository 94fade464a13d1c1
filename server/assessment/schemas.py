"""Schemas for assessment schemes: indicators and their scoring rules, validated as data."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from server.assessment.default_scheme import METRICS
from server.assessment.models import IndicatorGroup

FALLBACKS = ("full", "zero", "proportional")


def _decimal_string(value: str) -> None:
    try:
        Decimal(value)
    except (InvalidOperation, TypeError) as exc:
        raise ValidationError("应为十进制数字字符串") from exc


class IndicatorRuleSchema(Schema):
    metric = fields.String(required=True, validate=validate.OneOf(sorted(METRICS), error="未知的自动指标"))
    full_at = fields.String(required=True, validate=_decimal_string, metadata={"description": "达到即得满分"})
    zero_at = fields.String(required=True, validate=_decimal_string, metadata={"description": "达到即不得分"})
    min_denominator = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100000))
    fallback = fields.String(load_default="proportional", validate=validate.OneOf(FALLBACKS))
    weights = fields.Dict(keys=fields.String(validate=validate.OneOf(("self", "phone"))),
                          values=fields.String(validate=_decimal_string), load_default=None)

    @validates_schema
    def _distinct(self, data, **kwargs):
        if "full_at" in data and "zero_at" in data and Decimal(data["full_at"]) == Decimal(data["zero_at"]):
            raise ValidationError({"zero_at": "满分线与零分线不能相同"})


class IndicatorSchema(Schema):
    code = fields.String(required=True, validate=validate.Regexp(r"^[A-Z][A-Z0-9_]{0,31}$", error="指标编码格式有误"))
    group = fields.Enum(IndicatorGroup, by_value=True, required=True)
    name = fields.String(required=True, validate=validate.Length(min=2, max=128))
    points = fields.Decimal(required=True, as_string=True, places=3,
                            metadata={"type": "string", "format": "decimal", "description": "分值"})
    method = fields.String(required=True, validate=validate.OneOf(("auto", "manual")))
    rule = fields.Dict(load_default=dict)

    @validates_schema
    def _rule_fits_method(self, data, **kwargs):
        if data.get("points") is not None and not Decimal(0) < data["points"] <= Decimal(100):
            raise ValidationError({"points": "分值应大于0且不超过100"})
        if data.get("method") == "auto":
            errors = IndicatorRuleSchema().validate(data.get("rule") or {})
            if errors:
                raise ValidationError({"rule": errors})
        elif data.get("method") == "manual" and data.get("rule"):
            raise ValidationError({"rule": "人工评分指标不设自动规则"})


class SchemeSchema(Schema):
    id = fields.Integer(dump_only=True)
    year = fields.Integer(required=True, validate=validate.Range(min=2020, max=2100))
    name = fields.String(required=True, validate=validate.Length(min=2, max=128))
    locked = fields.Boolean(dump_only=True)
    copied_from_id = fields.Integer(dump_only=True, allow_none=True)
    indicators = fields.List(fields.Nested(IndicatorSchema), required=True,
                             validate=validate.Length(min=1, error="至少包含一个指标"))

    @validates_schema
    def _whole(self, data, **kwargs):
        indicators = data.get("indicators") or []
        codes = [i["code"] for i in indicators]
        if len(codes) != len(set(codes)):
            raise ValidationError({"indicators": "指标编码不能重复"})
        total = sum((i["points"] for i in indicators), Decimal(0))
        if indicators and total != Decimal(100):
            raise ValidationError({"indicators": f"各指标分值合计应为100分，当前为{total.normalize()}分"})
        missing = {g.value for g in IndicatorGroup} - {i["group"].value for i in indicators}
        if indicators and missing:
            raise ValidationError({"indicators": "须覆盖六类指标，缺少：" + "、".join(sorted(missing))})


class NewSchemeSchema(Schema):
    year = fields.Integer(required=True, validate=validate.Range(min=2020, max=2100))
    name = fields.String(required=True, validate=validate.Length(min=2, max=128))
    copy_from_id = fields.Integer(load_default=None, allow_none=True,
                                  metadata={"description": "复制的方案；为空则使用默认方案"})
