"""Schemas for service packages, versions and items."""
from marshmallow import Schema, fields

from server.packages.models import ItemCategory


class PackageItemSchema(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    category = fields.Enum(ItemCategory, by_value=True)
    target_disease_codes = fields.List(fields.String())
    yearly_quantity = fields.Integer(metadata={"description": "每人每年次数"})
    unit_value_fen = fields.Integer(metadata={"description": "单价（分）"})
    basic_public_health = fields.Boolean(metadata={"description": "是否属于基础服务包（医保基金不支付）"})


class PackageVersionSchema(Schema):
    id = fields.Integer()
    version = fields.Integer()
    effective_from = fields.Date()
    effective_to = fields.Date(allow_none=True)
    target_disease_codes = fields.List(fields.String())
    min_age = fields.Integer()
    items = fields.List(fields.Nested(PackageItemSchema))


class ServicePackageSchema(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    description = fields.String()
    versions = fields.List(fields.Nested(PackageVersionSchema))
