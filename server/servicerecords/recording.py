"""Logging a delivered service (记录履约) — one set of rules for the doctor's API and batch imports.

`reading_problems` checks measurements against physiological ranges; `service_problem`
checks a service against its contract, package and the region's rules. Both only look at
data the caller has loaded, so an import can apply them to thousands of rows without a
query per row.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from server.common.timeutil import SHANGHAI
from server.contracts.models import Contract
from server.contracts.states import ContractStatus
from server.errors import RuleViolation
from server.packages.models import PackageItem

# Physiologically plausible values: beyond them a reading is a typing or unit error (mmHg,
# mmol/L, %, kg, beats per minute), not a patient. Medical facts, not regional policy.
READING_RANGES: dict[str, tuple[Decimal, Decimal, str]] = {
    "systolic_mmhg": (Decimal(60), Decimal(260), "收缩压应在60到260 mmHg之间"),
    "diastolic_mmhg": (Decimal(30), Decimal(160), "舒张压应在30到160 mmHg之间"),
    "fasting_glucose_mmol": (Decimal("1.0"), Decimal("33.3"), "空腹血糖应在1.0到33.3 mmol/L之间（请确认单位为 mmol/L）"),
    "hba1c_percent": (Decimal("3.0"), Decimal("20.0"), "糖化血红蛋白应在3.0%到20.0%之间"),
    "weight_kg": (Decimal(2), Decimal(300), "体重应在2到300千克之间"),
    "heart_rate_bpm": (Decimal(30), Decimal(220), "心率应在30到220次/分之间"),
}
INTEGER_READINGS = {"systolic_mmhg", "diastolic_mmhg", "heart_rate_bpm"}
# A contract that ended early still covers what was delivered before it ended.
SERVING_STATES = (ContractStatus.ACTIVE, ContractStatus.EXPIRED, ContractStatus.CANCELLED,
                  ContractStatus.TERMINATED, ContractStatus.TRANSFERRED)


def reading_problems(reading: dict[str, Any]) -> dict[str, str]:
    """Field → Chinese message for every implausible or inconsistent measurement."""
    problems: dict[str, str] = {}
    for field, (low, high, message) in READING_RANGES.items():
        value = reading.get(field)
        if value is None:
            continue
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            problems[field] = "应为数字"
            continue
        if not number.is_finite():  # NaN would make every comparison below raise
            problems[field] = "应为数字"
            continue
        if field in INTEGER_READINGS and number != number.to_integral_value():
            problems[field] = "应为整数"
        elif not low <= number <= high:
            problems[field] = message
    systolic, diastolic = reading.get("systolic_mmhg"), reading.get("diastolic_mmhg")
    if (systolic is None) != (diastolic is None):
        problems["diastolic_mmhg" if diastolic is None else "systolic_mmhg"] = "血压须同时填写收缩压和舒张压"
    elif systolic is not None and "systolic_mmhg" not in problems and "diastolic_mmhg" not in problems \
            and Decimal(str(systolic)) <= Decimal(str(diastolic)):
        problems["systolic_mmhg"] = "收缩压应高于舒张压"
    return problems


@dataclass(frozen=True)
class Delivery:
    """What is being logged, as far as the rules care."""

    contract: Contract
    item: PackageItem
    served_at: datetime  # timezone-aware
    already_delivered: int  # undisputed services of this item under this contract so far


def service_problem(delivery: Delivery, *, now: datetime, beyond_quota_allowed: bool) -> RuleViolation | None:
    """Why this service may not be logged, or None."""
    contract, item, served_at = delivery.contract, delivery.item, delivery.served_at
    served_on = local_date(served_at)
    if served_at > now:
        return RuleViolation("服务时间不能晚于当前时间", code="SERVICE_IN_FUTURE")
    if served_on < contract.period_start:
        return RuleViolation("服务时间早于签约开始日期", code="SERVICE_BEFORE_CONTRACT")
    if contract.status not in SERVING_STATES or contract.activated_at is None or served_on > contract.period_end \
            or (contract.ended_at is not None and served_at > contract.ended_at):
        return RuleViolation("服务当日该签约不在履约期内", code="CONTRACT_NOT_ACTIVE_ON_DATE")
    if served_at < contract.activated_at:
        # Service starts only once every share is in place [Z-2.2.2]: the moment counts, not the day.
        active_from = contract.activated_at.astimezone(SHANGHAI)
        return RuleViolation(
            f"签约于{active_from.year}年{active_from.month}月{active_from.day}日 {active_from:%H:%M}"
            "生效（各方费用到位），服务时间不能早于生效时间", code="SERVICE_BEFORE_ACTIVATION",
            details={"activated_at": contract.activated_at.isoformat()})
    if item.package_version_id != contract.package_version_id:
        return RuleViolation("该服务项目不在签约服务包内", code="ITEM_NOT_IN_PACKAGE")
    if delivery.already_delivered >= item.yearly_quantity and not beyond_quota_allowed:
        return RuleViolation(f"该项目本年度已完成{item.yearly_quantity}次，已达服务包规定次数",
                             code="YEARLY_QUANTITY_EXCEEDED",
                             details={"yearly_quantity": item.yearly_quantity})
    return None


def local_date(moment: datetime) -> date:
    """The day in China a service happened on (what the contract year and the assessment count)."""
    return moment.astimezone(SHANGHAI).date()
