"""Schemas for service records as residents and doctors see them."""
from marshmallow import Schema, fields, post_load, validate

from server.common.timeutil import SHANGHAI
from server.servicerecords.models import Confirmation, ServiceType
from server.web.schemas import DecimalString, FreeText, PageArgsSchema


class ReadingSchema(Schema):
    systolic_mmhg = fields.Integer(allow_none=True)
    diastolic_mmhg = fields.Integer(allow_none=True)
    fasting_glucose_mmol = DecimalString(allow_none=True)
    hba1c_percent = DecimalString(allow_none=True)
    weight_kg = DecimalString(allow_none=True)
    heart_rate_bpm = fields.Integer(allow_none=True)


class ServiceRecordSchema(Schema):
    id = fields.Integer()
    contract_id = fields.Integer()
    resident_id = fields.Integer()
    item_code = fields.Function(lambda r: r.item.code)
    item_name = fields.Function(lambda r: r.item.name)
    staff_name = fields.Function(lambda r: r.staff.name)
    service_type = fields.Enum(ServiceType, by_value=True)
    served_at = fields.DateTime()
    place = fields.String()
    notes = fields.String()
    confirmation = fields.Enum(Confirmation, by_value=True)
    confirmed_at = fields.DateTime(allow_none=True)
    reading = fields.Nested(ReadingSchema, allow_none=True)


class ServiceRecordQuerySchema(PageArgsSchema):
    resident_id = fields.Integer(load_default=None)
    contract_id = fields.Integer(load_default=None)


class DisputeSchema(Schema):
    reason = FreeText(required=True, validate=validate.Length(min=2, max=500, error="请填写2到500字的异议原因"))


class ReadingInputSchema(Schema):
    """Measurements with their units in the names; ranges are checked by the recording rules."""

    systolic_mmhg = fields.Integer(load_default=None, allow_none=True)
    diastolic_mmhg = fields.Integer(load_default=None, allow_none=True)
    fasting_glucose_mmol = fields.Decimal(load_default=None, allow_none=True, places=1)
    hba1c_percent = fields.Decimal(load_default=None, allow_none=True, places=1)
    weight_kg = fields.Decimal(load_default=None, allow_none=True, places=1)
    heart_rate_bpm = fields.Integer(load_default=None, allow_none=True)

    @post_load
    def _given_only(self, data, **kwargs):
        return {key: value for key, value in data.items() if value is not None}


class LogServiceSchema(Schema):
    contract_id = fields.Integer(required=True)
    package_item_id = fields.Integer(required=True)
    service_type = fields.Enum(ServiceType, by_value=True, required=True)
    served_at = fields.AwareDateTime(required=True, default_timezone=SHANGHAI,
                                     metadata={"description": "服务时间（不带时区按北京时间）"})
    place = fields.String(load_default="", validate=validate.Length(max=255))
    notes = FreeText(load_default="", validate=validate.Length(max=2000))
    reading = fields.Nested(ReadingInputSchema, load_default=None, allow_none=True)


class SatisfactionOnPhoneSchema(Schema):
    score_ability = fields.Integer(required=True, validate=validate.Range(min=1, max=5, error="评分应为1到5分"))
    score_attitude = fields.Integer(required=True, validate=validate.Range(min=1, max=5, error="评分应为1到5分"))
    score_timeliness = fields.Integer(required=True, validate=validate.Range(min=1, max=5, error="评分应为1到5分"))
    score_overall = fields.Integer(required=True, validate=validate.Range(min=1, max=5, error="评分应为1到5分"))
    comment = FreeText(load_default="", validate=validate.Length(max=500))


class FollowUpCallSchema(Schema):
    id = fields.Integer(dump_only=True)
    contract_id = fields.Integer(required=True)
    service_record_id = fields.Integer(load_default=None, allow_none=True)
    called_at = fields.AwareDateTime(required=True, default_timezone=SHANGHAI)
    outcome = fields.String(required=True, validate=validate.OneOf(
        ("reached", "no_answer", "refused", "wrong_number"), error="回访结果无效"))
    notes = FreeText(load_default="", validate=validate.Length(max=2000))
    satisfaction = fields.Nested(SatisfactionOnPhoneSchema, load_default=None, allow_none=True, load_only=True,
                                 metadata={"description": "电话中居民的满意度回答（由工作人员代录）"})


class HealthRecordSchema(Schema):
    created_on = fields.Date(load_default=None, allow_none=True)
    updated_on = fields.Date(required=True)


class PatientRowSchema(Schema):
    id = fields.Function(lambda r: r.contract.id, metadata={"description": "签约协议 id"})
    contract_no = fields.Function(lambda r: r.contract.contract_no)
    resident_id = fields.Function(lambda r: r.contract.resident_id)
    resident_name = fields.Function(lambda r: r.contract.resident.name)
    period_end = fields.Function(lambda r: r.contract.period_end.isoformat())
    follow_ups = fields.Integer(metadata={"description": "本年度面对面随访次数"})
    next_follow_up_on = fields.Date()
    follow_up_overdue = fields.Boolean()
    bp_controlled = fields.Boolean(allow_none=True, metadata={"description": "血压控制（非高血压患者为空）"})
    glucose_controlled = fields.Boolean(allow_none=True, metadata={"description": "血糖控制（非糖尿病患者为空）"})


class PatientQuerySchema(PageArgsSchema):
    disease = fields.String(load_default=None, validate=validate.Length(max=32))
    follow_up_overdue = fields.Boolean(load_default=None)
    uncontrolled = fields.Boolean(load_default=None)
    items_owed = fields.Boolean(load_default=None)
    prescription_due_within_days = fields.Integer(load_default=None, validate=validate.Range(min=0, max=90))
