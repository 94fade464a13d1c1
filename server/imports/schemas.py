"""Schemas of batch imports: the upload's parameters, the list's filters and the report."""
from marshmallow import Schema, fields, validate

from server.web.schemas import PageArgsSchema


class ImportArgsSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(
        ("service_records", "dispensings"), error="导入类型应为 service_records 或 dispensings"))
    format = fields.String(load_default=None, validate=validate.OneOf(("jsonl", "csv"), error="文件格式应为 jsonl 或 csv"),
                           metadata={"description": "jsonl 或 csv；不填时按上传文件的扩展名判断"})
    filename = fields.String(load_default="", validate=validate.Length(max=255))


class ImportQuerySchema(PageArgsSchema):
    kind = fields.String(load_default=None, validate=validate.OneOf(("service_records", "dispensings")))


class ImportFailureSchema(Schema):
    line = fields.Integer(metadata={"description": "行号（从1开始；CSV 表头为第1行）"})
    external_id = fields.String(allow_none=True)
    code = fields.String()
    message = fields.String()


class ImportBatchSchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    file_format = fields.String()
    filename = fields.String()
    received_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)
    rows_total = fields.Integer()
    rows_stored = fields.Integer()
    rows_already_stored = fields.Integer()
    rows_failed = fields.Integer()


class ImportBatchDetailSchema(ImportBatchSchema):
    failures = fields.List(fields.Nested(ImportFailureSchema),
                           metadata={"description": "失败的行（最多列出前10000行，rows_failed 为总数）"})
