"""Schemas for the audit trail."""
from marshmallow import Schema, fields, validate

from server.web.schemas import PageArgsSchema


class AuditEventSchema(Schema):
    id = fields.Integer()
    at = fields.DateTime()
    actor_role = fields.String()
    actor_account_id = fields.Integer()
    action = fields.String()
    entity_type = fields.String()
    entity_id = fields.String()
    ip = fields.String(allow_none=True)
    details = fields.Dict()


class AuditQuerySchema(PageArgsSchema):
    entity_type = fields.String(load_default=None, validate=validate.Length(max=32))
    entity_id = fields.String(load_default=None, validate=validate.Length(max=64))
    action = fields.String(load_default=None, validate=validate.Length(max=64))
