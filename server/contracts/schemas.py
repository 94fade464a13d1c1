"""Schemas for contracts and their history."""
from marshmallow import Schema, fields, validate

from server.contracts.states import ContractStatus
from server.payments.models import OrderStatus
from server.web.schemas import FreeText, PageArgsSchema, consent_field


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
    team_name = fields.Function(lambda c: c.team.name)
    doctor_name = fields.Function(lambda c: c.doctor.name if c.doctor else None, metadata={"description": "签约医生"})
    events = fields.List(fields.Nested(ContractEventSchema))


class ContractQuerySchema(PageArgsSchema):
    """Paging plus the contract filters, for every API that lists contracts."""

    status = fields.Enum(ContractStatus, by_value=True, load_default=None)
    period_year = fields.Integer(load_default=None, validate=validate.Range(min=2000, max=2100))
    resident_id = fields.Integer(load_default=None)


class TerminateSchema(Schema):
    reason = FreeText(required=True, validate=validate.Length(min=2, max=500, error="请填写2到500字的原因"))


class SignSchema(Schema):
    resident_id = fields.Integer(required=True, metadata={"description": "本人或已添加的家庭成员"})
    team_id = fields.Integer(required=True)
    package_version_id = fields.Integer(required=True)
    consent = consent_field("同意签约服务协议")
    consent_version = fields.String(load_default="2026.1", validate=validate.Length(min=1, max=32))


class RenewSchema(Schema):
    consent = consent_field("同意续签签约服务协议")
    consent_version = fields.String(load_default="2026.1", validate=validate.Length(min=1, max=32))


class ChangeTeamSchema(Schema):
    team_id = fields.Integer(required=True)
    reason = FreeText(required=True, validate=validate.Length(min=2, max=500, error="请填写2到500字的原因"))


class CancelSchema(Schema):
    reason = FreeText(required=True, validate=validate.Length(min=2, max=80, error="请填写2到80字的原因"))


class ItemUsageSchema(Schema):
    code = fields.Function(lambda u: u.item.code)
    name = fields.Function(lambda u: u.item.name)
    category = fields.Function(lambda u: u.item.category.value)
    yearly_quantity = fields.Function(lambda u: u.item.yearly_quantity)
    used = fields.Integer()
    remaining = fields.Integer()


class PaymentSchema(Schema):
    out_trade_no = fields.String()
    amount_fen = fields.Integer()
    status = fields.Enum(OrderStatus, by_value=True,
                         metadata={"description": "created 待支付，paid 已支付，closed 已关闭，refunded 已全额退款"})
    paid_at = fields.DateTime(allow_none=True)


class RefundSchema(Schema):
    out_refund_no = fields.String()
    amount_fen = fields.Integer()
    status = fields.Function(lambda r: r.status.value)
    reason = fields.String()
    succeeded_at = fields.DateTime(allow_none=True)


class ContractOverviewSchema(Schema):
    """A contract as its resident sees it: what of the package is used, and the money."""

    contract = fields.Nested(ContractDetailSchema)
    items = fields.List(fields.Nested(ItemUsageSchema))
    payments = fields.List(fields.Nested(PaymentSchema))
    refunds = fields.List(fields.Nested(RefundSchema))


class OfferSchema(Schema):
    package_id = fields.Function(lambda o: o.package.id)
    package_code = fields.Function(lambda o: o.package.code)
    package_name = fields.Function(lambda o: o.package.name)
    package_version_id = fields.Function(lambda o: o.version.id)
    eligible = fields.Boolean()
    reasons = fields.Function(lambda o: [{"code": r.code, "message": r.message} for r in o.reasons])
    fee_split = fields.Function(lambda o: {
        "fee_per_head_fen": o.split.fee_per_head_fen, "personal_share_fen": o.split.personal_share_fen,
        "public_health_share_fen": o.split.public_health_share_fen,
        "insurance_fund_share_fen": o.split.insurance_fund_share_fen,
        "personal_share_payer": o.split.personal_share_payer, "resident_pays_fen": o.split.resident_pays_fen})
    items = fields.Function(lambda o: [{"code": i.code, "name": i.name, "category": i.category.value,
                                        "yearly_quantity": i.yearly_quantity} for i in o.version.items])


class PaymentParamsSchema(Schema):
    """Pass `params` to wx.requestPayment as they are."""

    out_trade_no = fields.String()
    params = fields.Dict(metadata={"description": "timeStamp, nonceStr, package, signType, paySign"})


class PaymentCheckSchema(Schema):
    """The contract after WeChat Pay was asked about its open orders: `active` once the personal share is in."""

    contract_id = fields.Integer()
    status = fields.Enum(ContractStatus, by_value=True, metadata={"description": "签约状态：active 即已生效"})
    activated_at = fields.DateTime(allow_none=True)
    orders = fields.List(fields.Nested(PaymentSchema), metadata={"description": "该签约的全部缴费订单，按创建先后"})
