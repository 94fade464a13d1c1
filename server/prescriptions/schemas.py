"""Schemas for long-term prescriptions."""
from marshmallow import Schema, fields

from server.prescriptions.models import PrescriptionStatus
from server.web.schemas import PageArgsSchema


class PrescriptionItemSchema(Schema):
    drug_code = fields.String()
    drug_name = fields.String()
    specification = fields.String()
    dosage = fields.String()
    frequency = fields.String()
    quantity = fields.Decimal(as_string=True)
    unit = fields.String()


class DispensingSchema(Schema):
    dispensed_on = fields.Date()
    quantity = fields.Decimal(as_string=True)


class PrescriptionSchema(Schema):
    id = fields.Integer()
    resident_id = fields.Integer()
    issued_on = fields.Date()
    weeks = fields.Integer()
    status = fields.Enum(PrescriptionStatus, by_value=True)
    source_institution_name = fields.String(allow_none=True, metadata={"description": "接续的上级医疗机构"})
    source_prescription_no = fields.String(allow_none=True)
    items = fields.List(fields.Nested(PrescriptionItemSchema))
    dispensings = fields.List(fields.Nested(DispensingSchema))
    next_refill_on = fields.Date(allow_none=True, metadata={"description": "预计下次取药日期"})


class PrescriptionQuerySchema(PageArgsSchema):
    resident_id = fields.Integer(load_default=None)
    status = fields.Enum(PrescriptionStatus, by_value=True, load_default=None)
