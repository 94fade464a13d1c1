"""Schemas for service records as residents and doctors see them."""
from marshmallow import Schema, fields, validate

from server.servicerecords.models import Confirmation, ServiceType
from server.web.schemas import PageArgsSchema


class ReadingSchema(Schema):
    systolic_mmhg = fields.Integer(allow_none=True)
    diastolic_mmhg = fields.Integer(allow_none=True)
    fasting_glucose_mmol = fields.Decimal(as_string=True, allow_none=True)
    hba1c_percent = fields.Decimal(as_string=True, allow_none=True)
    weight_kg = fields.Decimal(as_string=True, allow_none=True)
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
    reason = fields.String(required=True, validate=validate.Length(min=2, max=500, error="请填写2到500字的异议原因"))
