"""Schemas for satisfaction surveys."""
from marshmallow import Schema, fields, validate

from server.web.schemas import FreeText

SCORE = validate.Range(min=1, max=5, error="评分应为1到5分")


class InvitationSchema(Schema):
    id = fields.Integer()
    contract_id = fields.Integer()
    service_record_id = fields.Integer(allow_none=True)
    invited_at = fields.DateTime()
    expires_at = fields.DateTime()


class ResponseSchema(Schema):
    score_ability = fields.Integer(required=True, validate=SCORE, metadata={"description": "专业能力"})
    score_attitude = fields.Integer(required=True, validate=SCORE, metadata={"description": "服务态度"})
    score_timeliness = fields.Integer(required=True, validate=SCORE, metadata={"description": "服务及时性"})
    score_overall = fields.Integer(required=True, validate=SCORE, metadata={"description": "总体满意度"})
    comment = FreeText(load_default="", validate=validate.Length(max=500))
    id = fields.Integer(dump_only=True)
    answered_at = fields.DateTime(dump_only=True)
