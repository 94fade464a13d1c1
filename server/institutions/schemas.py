"""Schemas for institutions and agreements."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from server.institutions.models import AgreementStatus
from server.web.schemas import FreeText, PageArgsSchema


class InstitutionSchema(Schema):
    id = fields.Integer(dump_only=True)
    code = fields.String(required=True, validate=validate.Regexp(r"^[A-Z]\d{11}$", error="机构编码应为1位大写字母加11位数字"))
    name = fields.String(required=True, validate=validate.Length(min=2, max=128))
    kind = fields.String(required=True, validate=validate.OneOf(
        ("乡镇卫生院", "社区卫生服务中心", "社区卫生服务站", "村卫生室"), error="机构类别无效"))
    medical_community_id = fields.Integer(allow_none=True, load_default=None)
    address = fields.String(load_default="", validate=validate.Length(max=255))


class AgreementSchema(Schema):
    id = fields.Integer(dump_only=True)
    institution_id = fields.Integer(required=True)
    agreement_no = fields.String(required=True, validate=validate.Length(min=4, max=64))
    period_start = fields.Date(required=True)
    period_end = fields.Date(required=True)
    status = fields.Enum(AgreementStatus, by_value=True, dump_only=True)

    @validates_schema
    def _period(self, data, **kwargs):
        if data.get("period_start") and data.get("period_end") and data["period_end"] < data["period_start"]:
            raise ValidationError({"period_end": "结束日期不能早于开始日期"})


class AgreementStatusChangeSchema(Schema):
    status = fields.Enum(AgreementStatus, by_value=True, required=True,
                         metadata={"description": "目标状态：active/suspended/terminated/not_renewed"})
    reason = FreeText(required=True, validate=validate.Length(min=2, max=500, error="请填写2到500字的原因"))


class AgreementEventSchema(Schema):
    id = fields.Integer()
    from_status = fields.Enum(AgreementStatus, by_value=True, allow_none=True)
    to_status = fields.Enum(AgreementStatus, by_value=True)
    reason = fields.String()
    account_id = fields.Integer(allow_none=True)
    at = fields.DateTime()


class AgreementQuerySchema(PageArgsSchema):
    institution_id = fields.Integer(load_default=None)
