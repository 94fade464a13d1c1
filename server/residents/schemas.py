"""Schemas for residents: identity numbers and phones only ever leave masked."""
from marshmallow import Schema, fields, validate

from server.residents.models import BenefitScheme, Relation
from server.web.schemas import MaskedIdNumber, MaskedPhone, PageArgsSchema, consent_field


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


class ResidentQuerySchema(PageArgsSchema):
    id_number = fields.String(load_default=None, validate=validate.Length(equal=18, error="身份证号应为18位"),
                              metadata={"description": "按完整身份证号精确查找（不落日志）"})
    name = fields.String(load_default=None, validate=validate.Length(min=1, max=64))


class FamilyMemberSchema(Schema):
    relation = fields.Enum(Relation, by_value=True)
    resident = fields.Nested(ResidentSummarySchema)


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
