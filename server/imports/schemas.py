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


# --- Bureau files ----------------------------------------------------------------------------------

_EXCHANGE_KINDS = ("claims", "roster", "benefits")


class ExchangeArgsSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(
        _EXCHANGE_KINDS, error="导入类型应为 claims（结算信息）、roster（参保状态变更）或 benefits（待遇登记）"))
    format = fields.String(load_default=None, validate=validate.OneOf(("jsonl", "csv"), error="文件格式应为 jsonl 或 csv"),
                           metadata={"description": "jsonl 或 csv；不填时按上传文件的扩展名判断"})
    filename = fields.String(load_default="", validate=validate.Length(max=255))


class ExchangeQuerySchema(PageArgsSchema):
    kind = fields.String(load_default=None, validate=validate.OneOf(_EXCHANGE_KINDS))


class ExchangeFailureSchema(Schema):
    line = fields.Integer(metadata={"description": "行号（从1开始；CSV 表头为第1行）"})
    field = fields.String(metadata={"description": "出错的字段（国家医保信息平台字段名）"})
    code = fields.String()
    message = fields.String()


class ExchangeBatchSchema(ImportBatchSchema):
    source = fields.String(metadata={"description": "api（医保部门上传）、cli（命令行）或 drop_folder（定时任务）"})
    rows_skipped = fields.Integer(metadata={"description": "不属于本地区签约人员、按规定不保存的行"})
    sha256 = fields.String()
    changes = fields.Dict(keys=fields.String(), values=fields.Integer(),
                          metadata={"description": "对其他数据的影响：终止的签约、撤销的结算、产生的预警……"})
    submitted_by_account_id = fields.Integer(allow_none=True, metadata={"description": "空：系统（命令行或定时任务）"})


class ExchangeBatchDetailSchema(ExchangeBatchSchema):
    failures = fields.List(fields.Nested(ExchangeFailureSchema),
                           metadata={"description": "失败的行（最多列出前10000行，rows_failed 为总数）"})


class ClaimTotalsArgsSchema(Schema):
    year = fields.Integer(required=True, validate=validate.Range(min=2000, max=2100))


class ClaimTotalsSchema(Schema):
    claim_type = fields.String(metadata={"description": "inpatient 住院 / outpatient 门诊"})
    claims = fields.Integer(metadata={"description": "有效结算笔数（不含已撤销的和撤销记录）"})
    total_cost_fen = fields.Integer(metadata={"description": "医疗费总额（分）"})
    fund_paid_fen = fields.Integer(metadata={"description": "基金支付总额（分）"})
    personal_paid_fen = fields.Integer(metadata={"description": "个人负担总金额（分）"})
    reversed = fields.Integer(metadata={"description": "已被撤销的结算笔数"})
