"""Schemas for residents: identity numbers and phones only ever leave masked."""
from marshmallow import Schema, fields, validate

from server.residents.models import (
    BenefitAlertStatus, BenefitScheme, ProofDocument, ProxyConfirmation, ProxyStatus, Relation,
)
from server.web.schemas import FreeText, MaskedIdNumber, MaskedName, MaskedPhone, PageArgsSchema, consent_field


class ConditionSchema(Schema):
    disease_code = fields.String()
    diagnosed_on = fields.Date(allow_none=True)
    stable = fields.Boolean()


class BenefitSchema(Schema):
    scheme = fields.Enum(BenefitScheme, by_value=True)
    disease_code = fields.String()
    valid_from = fields.Date()
    valid_to = fields.Date(allow_none=True)


class ResidentSummarySchema(Schema):
    id = fields.Integer()
    name = fields.String()
    gender = fields.String()
    birth_date = fields.Date()
    id_number = MaskedIdNumber(metadata={"description": "脱敏身份证号"})
    phone = MaskedPhone(allow_none=True, metadata={"description": "脱敏手机号"})


class ResidentSchema(ResidentSummarySchema):
    address = fields.String()
    insurance_type = fields.String(allow_none=True)
    insurance_status = fields.String(allow_none=True)
    insured_admdvs = fields.String(allow_none=True)
    insurance_verified_at = fields.DateTime(allow_none=True)
    populations = fields.List(fields.String())
    health_record_created_on = fields.Date(allow_none=True)
    health_record_updated_on = fields.Date(allow_none=True)
    conditions = fields.List(fields.Nested(ConditionSchema))
    benefits = fields.List(fields.Nested(BenefitSchema))


class PatientBenefitAlertSchema(Schema):
    """An open duplicate-benefit alert on the patient: the other benefit the bureau's registration shows."""

    id = fields.Integer()
    contract_id = fields.Integer()
    scheme = fields.Enum(BenefitScheme, by_value=True, attribute="enrolment.scheme",
                         metadata={"description": "two_disease_drug 两病门诊用药保障；chronic_special_outpatient 门诊慢特病"})
    disease_code = fields.String(attribute="enrolment.disease_code")
    valid_from = fields.Date(attribute="enrolment.valid_from")
    valid_to = fields.Date(attribute="enrolment.valid_to", allow_none=True)
    raised_at = fields.DateTime()


class PatientDetailSchema(ResidentSchema):
    benefit_alerts = fields.List(fields.Nested(PatientBenefitAlertSchema), metadata={
        "description": "医保部门尚未处理的重复享受待遇预警：同病种药品请勿重复开具"})


class BenefitAlertSchema(Schema):
    """A duplicate-benefit alert (重复享受待遇预警) as bureau and institution staff see it."""

    id = fields.Integer()
    status = fields.Enum(BenefitAlertStatus, by_value=True, metadata={"description": "open 待处理；resolved 已处理"})
    raised_at = fields.DateTime()
    contract_id = fields.Integer()
    contract_no = fields.String(attribute="contract.contract_no")
    resident_id = fields.Integer(attribute="contract.resident_id")
    institution_id = fields.Integer(attribute="contract.institution_id")
    team_id = fields.Integer(attribute="contract.team_id")
    period_start = fields.Date(attribute="contract.period_start")
    period_end = fields.Date(attribute="contract.period_end")
    scheme = fields.Enum(BenefitScheme, by_value=True, attribute="enrolment.scheme")
    disease_code = fields.String(attribute="enrolment.disease_code")
    registration_no = fields.String(attribute="enrolment.registration_no")
    valid_from = fields.Date(attribute="enrolment.valid_from")
    valid_to = fields.Date(attribute="enrolment.valid_to", allow_none=True)
    batch_id = fields.Integer(allow_none=True, metadata={"description": "带来该登记的导入批次"})
    resolution_note = fields.String()
    resolved_by_account_id = fields.Integer(allow_none=True)
    resolved_at = fields.DateTime(allow_none=True)


class BenefitAlertQuerySchema(PageArgsSchema):
    status = fields.Enum(BenefitAlertStatus, by_value=True, load_default=None)


class ResolveBenefitAlertSchema(Schema):
    note = FreeText(required=True, validate=validate.Length(min=2, max=500, error="请填写2到500字的处理说明"),
                    metadata={"description": "处理说明，如：已终止两病用药保障登记、已终止签约"})


class ResidentQuerySchema(PageArgsSchema):
    id_number = fields.String(load_default=None, validate=validate.Length(equal=18, error="身份证号应为18位"),
                              metadata={"description": "按完整身份证号精确查找（不落日志）"})
    name = fields.String(load_default=None, validate=validate.Length(min=1, max=64))


class FamilyMemberSchema(Schema):
    """Someone the account acts for or has invited; their details only once the proxy is active."""

    id = fields.Integer(metadata={"description": "代办关系ID"})
    resident_id = fields.Integer(metadata={"description": "移除时使用：DELETE /me/family/{resident_id}"})
    relation = fields.Enum(Relation, by_value=True, metadata={"description": "对方是我的…"})
    status = fields.Enum(ProxyStatus, by_value=True,
                         metadata={"description": "pending 待对方同意或当面核验；active 已生效；ended 已结束"})
    name = MaskedName(attribute="resident.name", metadata={"description": "脱敏姓名"})
    resident = fields.Nested(ResidentSummarySchema, attribute="resident_if_active", allow_none=True,
                             metadata={"description": "仅在代办生效后提供"})
    invitation_code = fields.String(allow_none=True, metadata={
        "description": "待确认时的邀请码：请对方在小程序中同意，或到家庭医生团队当面出示以核验关系"})
    invitation_expires_at = fields.DateTime(allow_none=True)


class ProxyOnMeSchema(Schema):
    """A proxy someone holds over my own identity (pending: an invitation to me)."""

    id = fields.Integer(attribute="link.id")
    relation = fields.Enum(Relation, by_value=True, attribute="link.relation",
                           metadata={"description": "我是对方的…"})
    status = fields.Enum(ProxyStatus, by_value=True, attribute="link.status")
    holder_name = MaskedName(allow_none=True, metadata={"description": "代办人（脱敏姓名）"})
    minor = fields.Boolean(metadata={"description": "未满监护年龄线：只能由家庭医生团队当面核验，不能在小程序中同意"})
    invited_at = fields.DateTime(attribute="link.created_at")
    invitation_expires_at = fields.DateTime(attribute="link.invitation_expires_at", allow_none=True)
    confirmed_via = fields.Enum(ProxyConfirmation, by_value=True, attribute="link.confirmed_via", allow_none=True)
    confirmed_at = fields.DateTime(attribute="link.confirmed_at", allow_none=True)


class ConfirmInPersonSchema(Schema):
    """What a team member saw when confirming a relation face to face."""

    invitation_code = fields.String(required=True, validate=validate.Length(min=1, max=16),
                                    metadata={"description": "居民手机上显示的邀请码"})
    documents_seen = fields.List(fields.Enum(ProofDocument, by_value=True), required=True,
                                 validate=validate.Length(min=1, max=len(ProofDocument), error="请选择查验的证件"),
                                 metadata={"description": "当面查验的证件：身份证、户口簿、出生医学证明、结婚证、监护关系证明"})


class ProxyConfirmedSchema(Schema):
    id = fields.Integer()
    relation = fields.Enum(Relation, by_value=True)
    status = fields.Enum(ProxyStatus, by_value=True)
    confirmed_via = fields.Enum(ProxyConfirmation, by_value=True)
    confirmed_at = fields.DateTime()
    documents_seen = fields.List(fields.String(validate=validate.OneOf([d.value for d in ProofDocument])))
    resident = fields.Nested(ResidentSummarySchema, metadata={"description": "被代办人"})


class IdentitySchema(Schema):
    """A real identity to bind, checked with the insurance platform."""

    name = fields.String(required=True, validate=validate.Length(min=2, max=32, error="姓名应为2到32个字"))
    id_number = fields.String(required=True, load_only=True,
                              validate=validate.Regexp(r"^\d{17}[\dXx]$", error="身份证号应为18位"))
    consent = consent_field("本人（或监护人）同意授权查询参保信息")


class BindSelfSchema(IdentitySchema):
    phone_code = fields.String(load_default=None, validate=validate.Length(min=1, max=128),
                               metadata={"description": "getPhoneNumber 返回的 code（可选）"})


class AddFamilySchema(IdentitySchema):
    relation = fields.Enum(Relation, by_value=True, required=True)
