"""Schemas for assessment schemes (indicators and scoring rules, validated as data), runs, results and appeals."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from server.assessment.metrics import ATTRIBUTIONS, METRICS
from server.assessment.models import GROUP_NAMES, AppealStatus, IndicatorGroup, RunStatus
from server.regions.rules import GRADE_NAMES
from server.web.schemas import DecimalString, FreeText, MaskedIdNumber, PageArgsSchema, StrictBoolean

FALLBACKS = ("full", "zero", "proportional")


def _decimal_string(value: str) -> None:
    try:
        Decimal(value)
    except (InvalidOperation, TypeError) as exc:
        raise ValidationError("应为十进制数字字符串") from exc


def _not_negative(value: Decimal) -> None:
    # A function, not validate.Range: a Range on a decimal string would put a string "minimum" into OpenAPI.
    if value < 0:
        raise ValidationError("分值不能为负")


class IndicatorRuleSchema(Schema):
    metric = fields.String(required=True, validate=validate.OneOf(sorted(METRICS), error="未知的自动指标"))
    full_at = fields.String(required=True, validate=_decimal_string, metadata={"description": "达到即得满分"})
    zero_at = fields.String(required=True, validate=_decimal_string, metadata={"description": "达到即不得分"})
    min_denominator = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100000))
    fallback = fields.String(load_default="proportional", validate=validate.OneOf(FALLBACKS))
    weights = fields.Dict(keys=fields.String(validate=validate.OneOf(("self", "phone"))),
                          values=fields.String(validate=_decimal_string), load_default=None)

    @validates_schema
    def _distinct(self, data, **kwargs):
        if "full_at" in data and "zero_at" in data and Decimal(data["full_at"]) == Decimal(data["zero_at"]):
            raise ValidationError({"zero_at": "满分线与零分线不能相同"})


class IndicatorSchema(Schema):
    code = fields.String(required=True, validate=validate.Regexp(r"^[A-Z][A-Z0-9_]{0,31}$", error="指标编码格式有误"))
    group = fields.Enum(IndicatorGroup, by_value=True, required=True)
    name = fields.String(required=True, validate=validate.Length(min=2, max=128))
    points = DecimalString(required=True, places=3, metadata={"description": "分值"})
    method = fields.String(required=True, validate=validate.OneOf(("auto", "manual")))
    rule = fields.Dict(load_default=dict)

    @validates_schema
    def _rule_fits_method(self, data, **kwargs):
        if data.get("points") is not None and not Decimal(0) < data["points"] <= Decimal(100):
            raise ValidationError({"points": "分值应大于0且不超过100"})
        if data.get("method") == "auto":
            errors = IndicatorRuleSchema().validate(data.get("rule") or {})
            if errors:
                raise ValidationError({"rule": errors})
        elif data.get("method") == "manual" and data.get("rule"):
            raise ValidationError({"rule": "人工评分指标不设自动规则"})


class SchemeSettingsSchema(Schema):
    moved_patients = fields.String(
        required=True, validate=validate.OneOf(sorted(ATTRIBUTIONS), error="取值应为 year_end 或 each_holder"),
        metadata={"description": "年内更换签约机构的居民如何计入：year_end 年末签约机构计入全年；"
                                 "each_holder 年内各签约机构按各自签约期间记录分别计入"})


class SchemeSchema(Schema):
    id = fields.Integer(dump_only=True)
    year = fields.Integer(required=True, validate=validate.Range(min=2020, max=2100))
    name = fields.String(required=True, validate=validate.Length(min=2, max=128))
    settings = fields.Nested(SchemeSettingsSchema, load_default=None,
                             metadata={"description": "方案级设置；修改时省略则保持不变"})
    locked = fields.Boolean(dump_only=True)
    copied_from_id = fields.Integer(dump_only=True, allow_none=True)
    indicators = fields.List(fields.Nested(IndicatorSchema), required=True,
                             validate=validate.Length(min=1, error="至少包含一个指标"))

    @validates_schema
    def _whole(self, data, **kwargs):
        indicators = data.get("indicators") or []
        codes = [i["code"] for i in indicators]
        if len(codes) != len(set(codes)):
            raise ValidationError({"indicators": "指标编码不能重复"})
        total = sum((i["points"] for i in indicators), Decimal(0))
        if indicators and total != Decimal(100):
            raise ValidationError({"indicators": f"各指标分值合计应为100分，当前为{total.normalize()}分"})
        missing = {g.value for g in IndicatorGroup} - {i["group"].value for i in indicators}
        if indicators and missing:
            raise ValidationError({"indicators": "须覆盖六类指标，缺少：" + "、".join(sorted(missing))})


class NewSchemeSchema(Schema):
    year = fields.Integer(required=True, validate=validate.Range(min=2020, max=2100))
    name = fields.String(required=True, validate=validate.Length(min=2, max=128))
    copy_from_id = fields.Integer(load_default=None, allow_none=True,
                                  metadata={"description": "复制的方案；为空则使用默认方案"})


class ManualScoreSchema(Schema):
    id = fields.Integer(dump_only=True)
    indicator_code = fields.String(required=True, validate=validate.Length(min=1, max=32))
    institution_id = fields.Integer(required=True, validate=validate.Range(min=1))
    points = DecimalString(required=True, places=3, validate=_not_negative,
                           metadata={"description": "得分，不超过指标分值"})
    evidence = FreeText(required=True, validate=validate.Length(min=2, max=4000, error="请填写评分依据"),
                             metadata={"description": "评分依据（现场核查记录、材料清单等）"})
    entered_by_account_id = fields.Integer(dump_only=True)
    entered_by_role = fields.String(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)


class ManualScoreQuerySchema(PageArgsSchema):
    indicator_code = fields.String(load_default=None, validate=validate.Length(min=1, max=32))
    institution_id = fields.Integer(load_default=None, validate=validate.Range(min=1))


class StartRunSchema(Schema):
    year = fields.Integer(required=True, validate=validate.Range(min=2020, max=2100))
    scheme_id = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1),
                               metadata={"description": "考核方案；为空则用该年度最新的方案"})


class RunQuerySchema(PageArgsSchema):
    year = fields.Integer(load_default=None, validate=validate.Range(min=2020, max=2100))
    status = fields.Enum(RunStatus, by_value=True, load_default=None)


class RunSchema(Schema):
    id = fields.Integer()
    year = fields.Integer()
    run_version = fields.Integer(metadata={"description": "同一年度的第几次计算"})
    status = fields.Enum(RunStatus, by_value=True)
    scheme_id = fields.Integer()
    scheme_name = fields.Function(lambda run: run.scheme_snapshot.get("name"))
    started_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)
    published_at = fields.DateTime(allow_none=True)
    feedback_deadline = fields.Date(allow_none=True, metadata={"description": "结果反馈截止日（工作日计）"})
    appeal_deadline = fields.Date(allow_none=True, metadata={"description": "申诉截止日（工作日计）"})


class ResultSchema(Schema):
    institution_id = fields.Integer(attribute="result.institution_id")
    institution_code = fields.String()
    institution_name = fields.String()
    signed_heads = fields.Integer(attribute="result.signed_heads", metadata={"description": "年末签约人数"})
    total_points = DecimalString(attribute="result.total_points")
    grade = fields.String(attribute="result.grade")
    grade_name = fields.Function(lambda row: GRADE_NAMES.get(row.result.grade, row.result.grade))
    informed_at = fields.DateTime(attribute="result.informed_at", allow_none=True,
                                  metadata={"description": "告知机构的时间"})
    informed_how = fields.String(attribute="result.informed_how")
    feedback_overdue = fields.Boolean(metadata={"description": "已过反馈截止日仍未告知"})


class ResultQuerySchema(PageArgsSchema):
    informed = fields.Boolean(load_default=None, metadata={"description": "按是否已告知筛选"})


class ScoreLineSchema(Schema):
    code = fields.String()
    group = fields.String()
    group_name = fields.Function(lambda line: GROUP_NAMES.get(line.group, line.group))
    name = fields.String()
    method = fields.String()
    max_points = DecimalString()
    numerator = DecimalString(allow_none=True)
    denominator = DecimalString(allow_none=True)
    value = DecimalString(allow_none=True)
    points = DecimalString()
    note = fields.String()


class ResultDetailSchema(ResultSchema):
    indicators = fields.List(fields.Nested(ScoreLineSchema))


class InformSchema(Schema):
    how = fields.String(required=True, validate=validate.Length(min=2, max=255),
                        metadata={"description": "告知方式，如“书面通知送达”"})


class ExplainQuerySchema(PageArgsSchema):
    counted_in = fields.String(load_default=None, validate=validate.OneOf(("numerator", "denominator")),
                               metadata={"description": "只看计入分子（numerator）或分母（denominator）的明细"})


class ExplainLineSchema(Schema):
    subject_type = fields.String(metadata={"description": (
        "contract 签约 / prescription 处方 / survey_response 评价 / supervision_case 案件 / "
        "supervision_alert 预警 / institution 机构")})
    subject_id = fields.Integer()
    resident_id = fields.Integer(allow_none=True)
    resident_name = fields.String(allow_none=True)
    id_number = MaskedIdNumber(allow_none=True, metadata={"description": "脱敏身份证号"})
    contract_id = fields.Integer(allow_none=True)
    contract_no = fields.String(allow_none=True)
    numerator = DecimalString()
    denominator = DecimalString()
    evidence = fields.List(fields.String(), metadata={"description": "计数所依据的记录编号"})


class ExplanationSchema(Schema):
    indicator_code = fields.String()
    metric = fields.String()
    description = fields.String()
    evidence = fields.String(metadata={"description": "明细中记录编号的含义"})
    numerator = DecimalString(metadata={"description": "全部明细（按筛选）的分子合计"})
    denominator = DecimalString(metadata={"description": "全部明细（按筛选）的分母合计"})
    items = fields.List(fields.Nested(ExplainLineSchema), required=True)
    total = fields.Integer(required=True)
    page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)


class NewAppealSchema(Schema):
    institution_id = fields.Integer(required=True, validate=validate.Range(min=1))
    indicator_code = fields.String(load_default=None, validate=validate.Length(min=1, max=32),
                                   metadata={"description": "针对某一指标申诉；为空则针对总分"})
    reason = FreeText(required=True, validate=validate.Length(min=5, max=4000, error="申诉理由应为5到4000字"))


class AppealDecisionSchema(Schema):
    upheld = StrictBoolean(required=True, metadata={"description": "申诉是否成立"})
    answer = FreeText(required=True, validate=validate.Length(min=2, max=4000))


class AppealQuerySchema(PageArgsSchema):
    status = fields.Enum(AppealStatus, by_value=True, load_default=None)


class AppealSchema(Schema):
    id = fields.Integer()
    run_id = fields.Integer(attribute="result.run_id")
    institution_id = fields.Integer(attribute="result.institution_id")
    indicator_code = fields.String(allow_none=True)
    reason = fields.String()
    status = fields.Enum(AppealStatus, by_value=True)
    answer = fields.String()
    filed_by_account_id = fields.Integer()
    created_at = fields.DateTime()
    decided_by_account_id = fields.Integer(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)


class NewAssignmentSchema(Schema):
    account_id = fields.Integer(required=True, validate=validate.Range(min=1),
                                metadata={"description": "第三方评估人员的账号"})
    institution_id = fields.Integer(required=True, validate=validate.Range(min=1),
                                    metadata={"description": "分配给其评估的机构（须在该次考核中）"})


class AssignmentSchema(Schema):
    id = fields.Integer(attribute="assignment.id")
    run_id = fields.Integer(attribute="assignment.run_id")
    account_id = fields.Integer(attribute="assignment.account_id")
    assessor_name = fields.String()
    institution_id = fields.Integer(attribute="assignment.institution_id")
    institution_code = fields.String()
    institution_name = fields.String()
    assigned_by_account_id = fields.Integer(attribute="assignment.assigned_by_account_id")
    assigned_at = fields.DateTime(attribute="assignment.assigned_at")


class AssignmentQuerySchema(PageArgsSchema):
    account_id = fields.Integer(load_default=None, validate=validate.Range(min=1))
    institution_id = fields.Integer(load_default=None, validate=validate.Range(min=1))
