"""Schemas for regions and local rules; the rules schema validates the policy JSON."""
from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from server.regions.rules import GRADES, NATIONAL_LONG_TERM_EXCLUSIONS, REFUND_POLICIES
from server.web.schemas import DecimalString, StrictBoolean

def _day_of_every_year(month_day: str) -> None:
    # The scheduled assessment start is counted in the current year, which may have no 29 February.
    try:
        date.fromisoformat(f"2001-{month_day}")
    except ValueError as exc:
        raise ValidationError("须为每年都有的日期（不能是2月29日）") from exc


def _iso_date(value: str | None) -> None:
    if value is None:
        return
    try:
        date.fromisoformat(value)
    except ValueError as exc:
        raise ValidationError("日期格式应为 YYYY-MM-DD") from exc


def _score_bound(value: Decimal) -> None:
    # A plain function, so the OpenAPI document shows the decimal string rather than numeric bounds.
    if not Decimal(0) <= value <= Decimal(100):
        raise ValidationError("分数线应在0到100之间")


_POSITIVE_FEN = validate.Range(min=0, max=10_000_000, error="金额（分）应在0到10000000之间")


class RegionSchema(Schema):
    id = fields.Integer(dump_only=True)
    admdvs_code = fields.String(metadata={"description": "统筹地区行政区划代码"})
    name = fields.String()


class DiseaseSchema(Schema):
    code = fields.String()
    name = fields.String()


# The rules' JSON keeps dates and decimals as strings; these schemas validate them on the way in.


class OtherFundPopulationSchema(Schema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=32))
    name = fields.String(required=True, validate=validate.Length(min=1, max=64))
    fund = fields.String(required=True, validate=validate.Length(min=1, max=32))
    fund_name = fields.String(required=True, validate=validate.Length(min=1, max=64))
    until = fields.String(allow_none=True, load_default=None, validate=_iso_date,
                          metadata={"description": "截止日期 YYYY-MM-DD，为空表示长期"})


class GradeBandSchema(Schema):
    grade = fields.String(required=True, validate=validate.OneOf(GRADES, error="等次应为 excellent/good/pass/fail"))
    min = DecimalString(required=True, validate=_score_bound, metadata={"description": "本等次最低分（含），0到100"})

    @post_load
    def _as_json(self, data, **kwargs):
        return {"grade": data["grade"], "min": str(data["min"])}


class LocalRulesSchema(Schema):
    """One version of the local rules (实施细则); money in fen, ratios as decimal strings."""

    id = fields.Integer(dump_only=True)
    effective_from = fields.Date(required=True, metadata={"description": "生效日期"})
    document_no = fields.String(load_default="", validate=validate.Length(max=128))
    fee_per_head_fen = fields.Integer(required=True, validate=_POSITIVE_FEN)
    personal_share_fen = fields.Integer(required=True, validate=_POSITIVE_FEN)
    public_health_share_fen = fields.Integer(required=True, validate=_POSITIVE_FEN)
    insurance_fund_share_fen = fields.Integer(required=True, validate=_POSITIVE_FEN)
    other_fund_populations = fields.List(fields.Nested(OtherFundPopulationSchema), load_default=list)
    covered_disease_codes = fields.List(fields.String(), required=True,
                                        validate=validate.Length(min=1, error="至少覆盖一个病种"))
    grade_bands = fields.List(fields.Nested(GradeBandSchema), required=True)
    payout_ratios = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    prescription_standard_weeks = fields.Integer(required=True, validate=validate.Range(min=1, max=52))
    prescription_max_weeks = fields.Integer(required=True, validate=validate.Range(min=1, max=52))
    feedback_deadline_working_days = fields.Integer(required=True, validate=validate.Range(min=1, max=120))
    appeal_window_working_days = fields.Integer(load_default=10, validate=validate.Range(min=0, max=120))
    assessment_start_mmdd = fields.String(load_default="01-15", validate=[validate.Regexp(
        r"^(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$", error="格式应为 MM-DD"), _day_of_every_year])
    refund_after_service = fields.String(load_default="none", validate=validate.OneOf(
        REFUND_POLICIES, error="应为 full/unused_items/none"))
    refund_on_death = fields.String(load_default="none", validate=validate.OneOf(
        REFUND_POLICIES, error="应为 full/unused_items/none"), metadata={
        "description": "参保人死亡终止签约时退还个人缴费：full 全额、unused_items 按未提供项目比例、none 不退"})
    duplicate_benefit_policy = fields.String(load_default="refuse", validate=validate.OneOf(
        ("refuse", "flag"), error="应为 refuse/flag"))
    prescription_excluded_drug_classes = fields.List(
        fields.String(validate=validate.Length(min=1, max=32)), load_default=lambda: list(NATIONAL_LONG_TERM_EXCLUSIONS),
        metadata={"description": "长期处方不得开具的药品类别（默认为国家规范所列）"})
    services_beyond_quota = StrictBoolean(load_default=False, metadata={"description": "是否允许超出服务包年度次数"})
    proxy_max_people = fields.Integer(load_default=5, validate=validate.Range(min=0, max=20), metadata={
        "description": "一个微信账号最多可代办的他人人数（不含本人）"})
    guardian_child_max_age = fields.Integer(load_default=14, validate=validate.Range(min=1, max=18), metadata={
        "description": "未满此年龄的子女可由监护人代办（按身份证号计算年龄）"})
    login_max_failures = fields.Integer(load_default=5, validate=validate.Range(min=1, max=100), metadata={
        "description": "同一账号或地址在时间窗内允许的登录失败次数"})
    login_failure_window_seconds = fields.Integer(load_default=900, validate=validate.Range(min=60, max=86400),
                                                  metadata={"description": "登录失败计数时间窗（秒）"})
    login_lockout_seconds = fields.Integer(load_default=900, validate=validate.Range(min=60, max=86400),
                                           metadata={"description": "超过失败次数后的锁定时长（秒），到期自动解除"})
    created_at = fields.DateTime(dump_only=True)

    @validates_schema
    def _consistent(self, data, **kwargs):
        errors: dict[str, str] = {}
        shares = ("personal_share_fen", "public_health_share_fen", "insurance_fund_share_fen")
        if all(k in data for k in (*shares, "fee_per_head_fen")) and \
                sum(data[k] for k in shares) != data["fee_per_head_fen"]:
            errors["fee_per_head_fen"] = "个人、公卫经费、医保基金分担之和应等于签约服务费"
        if data.get("prescription_standard_weeks", 0) > data.get("prescription_max_weeks", 99):
            errors["prescription_max_weeks"] = "最长处方周数不得小于常规处方周数"
        bands = data.get("grade_bands") or []
        if bands:
            if [b["grade"] for b in bands] != list(GRADES):
                errors["grade_bands"] = "等次须依次为 excellent、good、pass、fail"
            elif any(Decimal(bands[i]["min"]) <= Decimal(bands[i + 1]["min"]) for i in range(len(bands) - 1)):
                errors["grade_bands"] = "分数线须从高到低严格递减"
        ratios = data.get("payout_ratios")
        if ratios is not None:
            problem = _ratio_problem(ratios)
            if problem:
                errors["payout_ratios"] = problem
        if errors:
            raise ValidationError(errors)


def _ratio_problem(ratios: dict) -> str | None:
    if set(ratios) != set(GRADES):
        return "须为每个等次给出拨付比例"
    for grade, ratio in ratios.items():
        if ratio == "score":
            continue
        try:
            value = Decimal(ratio)
        except InvalidOperation:
            return f"{grade} 的拨付比例应为0到1之间的小数或 score"
        if not Decimal(0) <= value <= Decimal(1):
            return f"{grade} 的拨付比例应为0到1之间的小数或 score"
    return None


class RulesOnDateArgsSchema(Schema):
    on = fields.Date(required=True, metadata={"description": "查询日期 YYYY-MM-DD"})


class HolidayDaySchema(Schema):
    day = fields.Date(required=True)
    is_working_day = StrictBoolean(required=True, metadata={"description": "true 调休上班；false 放假"})
    name = fields.String(load_default="", validate=validate.Length(max=32),
                         metadata={"description": "节日名称，如“春节”，调休日可写“调休上班”"})


class HolidayArrangementSchema(Schema):
    """A year's arrangement as stored: no document and no days for a year nobody entered."""

    year = fields.Integer(dump_only=True)
    document_no = fields.String(metadata={"description": "国务院办公厅通知文号"})
    days = fields.List(fields.Nested(HolidayDaySchema),
                       metadata={"description": "放假的工作日与调休上班的周末；其余日期按周一至周五上班"})


class HolidayArrangementInputSchema(HolidayArrangementSchema):
    document_no = fields.String(required=True, validate=validate.Length(min=2, max=128),
                                metadata={"description": "国务院办公厅通知文号"})
    days = fields.List(fields.Nested(HolidayDaySchema), required=True,
                       validate=validate.Length(min=1, max=80, error="应列出1到80个调整日期"),
                       metadata={"description": "放假的工作日与调休上班的周末；其余日期按周一至周五上班"})
