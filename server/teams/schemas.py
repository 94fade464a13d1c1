"""Schemas for teams, staff and memberships; phone numbers are masked on the way out."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from server.teams.models import StaffKind
from server.web.schemas import MaskedPhone, StrictBoolean

PHONE = validate.Regexp(r"^1[3-9]\d{9}$", error="手机号码格式有误")


class MembershipSchema(Schema):
    id = fields.Integer(dump_only=True)
    team_id = fields.Integer(dump_only=True)
    staff_id = fields.Integer(required=True)
    is_leader = StrictBoolean(load_default=False)
    joined_on = fields.Date(required=True)
    left_on = fields.Date(dump_only=True, allow_none=True)


class TeamSchema(Schema):
    id = fields.Integer(dump_only=True)
    institution_id = fields.Integer(required=True)
    name = fields.String(required=True, validate=validate.Length(min=2, max=128))
    capacity = fields.Integer(required=True, validate=validate.Range(min=1, max=5000, error="签约容量应在1到5000之间"))
    specialities = fields.List(fields.String(validate=validate.Length(max=32)), load_default=list)
    is_active = fields.Boolean(dump_only=True)


class StaffSchema(Schema):
    id = fields.Integer(dump_only=True)
    institution_id = fields.Integer(required=True)
    name = fields.String(required=True, validate=validate.Length(min=2, max=64))
    kind = fields.Enum(StaffKind, by_value=True, required=True)
    licence_no = fields.String(load_default="", validate=validate.Length(max=64))
    title = fields.String(load_default="", validate=validate.Length(max=64))
    phone = MaskedPhone(allow_none=True, metadata={"description": "脱敏手机号"})
    is_active = fields.Boolean(dump_only=True)


class NewStaffSchema(StaffSchema):
    phone = fields.String(load_default=None, allow_none=True, validate=PHONE, metadata={"description": "手机号"})


class MembershipEndSchema(Schema):
    left_on = fields.Date(required=True)


class TeamMemberCardSchema(Schema):
    name = fields.String()
    kind = fields.Enum(StaffKind, by_value=True)
    title = fields.String()
    is_leader = fields.Boolean()


class TeamCardSchema(Schema):
    """A team as residents choose one: where, who, what they do, places left."""

    id = fields.Integer()
    name = fields.String()
    institution_id = fields.Integer()
    institution_name = fields.String()
    address = fields.String()
    distance_km = fields.Float(allow_none=True)
    specialities = fields.List(fields.String())
    capacity = fields.Integer()
    places_left = fields.Integer()
    members = fields.List(fields.Nested(TeamMemberCardSchema))


class TeamBrowseArgsSchema(Schema):
    lat = fields.Float(load_default=None, validate=validate.Range(min=-90, max=90))
    lng = fields.Float(load_default=None, validate=validate.Range(min=-180, max=180))
