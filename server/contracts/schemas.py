"""Schemas for contracts and their history."""
from marshmallow import Schema, fields, validate

from server.contracts.states import ContractStatus
from server.web.schemas import PageArgsSchema


class ContractEventSchema(Schema):
    from_status = fields.Enum(ContractStatus, by_value=True, allow_none=True)
    to_status = fields.Enum(ContractStatus, by_value=True)
    reason = fields.String()
    at = fields.DateTime()


class FeeSplitSchema(Schema):
    fee_per_head_fen = fields.Integer(metadata={"description": "签约服务费（分/人/年）"})
    personal_share_fen = fields.Integer(metadata={"description": "个人承担（分）"})
    public_health_share_fen = fields.Integer(metadata={"description": "基本公共卫生服务经费承担（分）"})
    insurance_fund_share_fen = fields.Integer(metadata={"description": "医保基金承担（分）"})
    personal_share_payer = fields.String(metadata={"description": "个人部分由谁支付：self 或其他资金编码"})


class ContractSchema(Schema):
    id = fields.Integer()
    contract_no = fields.String()
    resident_id = fields.Integer()
    resident_name = fields.Function(lambda c: c.resident.name if c.resident else None)
    institution_id = fields.Integer()
    team_id = fields.Integer()
    doctor_staff_id = fields.Integer(allow_none=True)
    package_version_id = fields.Integer()
    status = fields.Enum(ContractStatus, by_value=True)
    period_year = fields.Integer()
    period_start = fields.Date()
    period_end = fields.Date()
    channel = fields.String()
    fee_split = fields.Function(lambda c: FeeSplitSchema().dump(c))
    activated_at = fields.DateTime(allow_none=True)
    ended_at = fields.DateTime(allow_none=True)
    end_reason = fields.String()
    renewed_from_id = fields.Integer(allow_none=True)
    transferred_from_id = fields.Integer(allow_none=True)


class ContractDetailSchema(ContractSchema):
    events = fields.List(fields.Nested(ContractEventSchema))


class ContractQuerySchema(PageArgsSchema):
    """Paging plus the contract filters, for every API that lists contracts."""

    status = fields.Enum(ContractStatus, by_value=True, load_default=None)
    period_year = fields.Integer(load_default=None, validate=validate.Range(min=2000, max=2100))
    resident_id = fields.Integer(load_default=None)


class TerminateSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=2, max=500, error="请填写2到500字的原因"))
