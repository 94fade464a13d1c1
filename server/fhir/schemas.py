"""Schemas of the FHIR export: the kick-off's parameters, the stated purpose, and the Bulk Data manifest."""
from __future__ import annotations

from datetime import date

from marshmallow import Schema, ValidationError, fields, validate

from server.fhir.models import ExportPurpose
from server.fhir.queries import RESOURCE_TYPES


def _stated(purpose: str) -> None:
    if len(purpose.strip()) < 2:
        raise ValidationError("请具体说明导出用途（2至200字）")


class PurposeSchema(Schema):
    """Why the caller exports personal data: a code, and the purpose in their own words."""

    purpose_code = fields.Enum(ExportPurpose, by_value=True, required=True, error_messages={
        "unknown": "导出目的应为：" + "、".join(p.value for p in ExportPurpose)}, metadata={
        "description": "导出目的：health_information_exchange 区域健康信息平台共享，fund_supervision 医保基金监管，"
                       "research 科学研究与 statistics 统计分析（去标识化：不含姓名、身份证号和住址，出生日期只留年份）"})
    purpose = fields.String(required=True, validate=[validate.Length(max=200, error="导出用途不超过200字"), _stated],
                            metadata={"description": "导出用途的具体说明（2至200字，记入审计）"})


class ResourceTypeList(fields.String):
    """FHIR's `_type`: resource types separated by commas."""

    def _deserialize(self, value, attr, data, **kwargs):
        names = [name.strip() for name in super()._deserialize(value, attr, data, **kwargs).split(",")]
        unknown = [name for name in names if name not in RESOURCE_TYPES]
        if unknown or not names:
            raise ValidationError(f"不支持的资源类型：{'、'.join(unknown)}；可选：{'、'.join(RESOURCE_TYPES)}")
        return names


# The days the platform's records can fall on; outside them a period is a typo, not a question.
PLAUSIBLE_DAYS = validate.Range(min=date(2000, 1, 1), max=date(2099, 12, 31),
                                error="日期应在 2000-01-01 至 2099-12-31 之间")


class ExportArgsSchema(PurposeSchema):
    resource_types = ResourceTypeList(data_key="_type", load_default=lambda: list(RESOURCE_TYPES), metadata={
        "description": f"要导出的资源类型，逗号分隔；缺省为全部：{','.join(RESOURCE_TYPES)}"})
    institution = fields.Integer(load_default=None, metadata={"description": "只导出该机构的签约及其服务（须在本统筹地区内）"})
    period_start = fields.Date(load_default=None, validate=PLAUSIBLE_DAYS,
                               metadata={"description": "期间开始（含），按签约期与服务日期筛选"})
    period_end = fields.Date(load_default=None, validate=PLAUSIBLE_DAYS, metadata={"description": "期间结束（含）"})


def _asks_async(value: str) -> None:
    if "respond-async" not in [part.strip().lower() for part in value.split(",")]:
        raise ValidationError("批量导出为异步操作，请求头须包含 Prefer: respond-async")


class PreferHeaderSchema(Schema):
    """Bulk Data clients send `Prefer: respond-async`; the server answers asynchronously whether they
    do or not, and refuses any other preference, as the specification requires."""

    prefer = fields.String(data_key="Prefer", load_default=None, validate=_asks_async,
                           metadata={"description": "respond-async（FHIR Bulk Data 异步请求；其他取值不受理）"})


class OutputFileSchema(Schema):
    type = fields.String(required=True, metadata={"description": "资源类型"})
    url = fields.String(required=True, metadata={"description": "NDJSON 文件地址（需携带访问令牌）"})


class ManifestSchema(Schema):
    """The FHIR Bulk Data status answer once an export is complete."""

    transactionTime = fields.String(required=True, metadata={"description": "发起导出的时间（FHIR instant）"})
    request = fields.String(required=True, metadata={"description": "发起导出的完整请求地址"})
    requiresAccessToken = fields.Boolean(required=True)
    output = fields.List(fields.Nested(OutputFileSchema), required=True)
    error = fields.List(fields.Nested(OutputFileSchema), required=True)
