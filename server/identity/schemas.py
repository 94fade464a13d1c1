"""What sign-in takes and gives back: staff and doctors by password or WeChat, residents by WeChat."""
from marshmallow import Schema, fields, validate


class LoginSchema(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=128))


class TokenSchema(Schema):
    token = fields.String(required=True)
    token_type = fields.String(required=True)
    expires_in = fields.Integer(required=True)
    role = fields.String(required=True)
    display_name = fields.String(required=True)


class StaffMeSchema(Schema):
    account_id = fields.Integer()
    role = fields.Function(lambda a: a.role.value)
    region_id = fields.Integer(allow_none=True)
    institution_id = fields.Integer(allow_none=True)
    staff_id = fields.Integer(allow_none=True)
    team_ids = fields.Function(lambda a: sorted(a.team_ids))


class WechatLoginSchema(Schema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=128),
                         metadata={"description": "wx.login 返回的 code"})


class ResidentTokenSchema(Schema):
    token = fields.String()
    token_type = fields.String()
    expires_in = fields.Integer()
    account_id = fields.Integer()
    bound = fields.Boolean(metadata={"description": "是否已绑定本人身份"})
