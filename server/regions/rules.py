"""Reading and applying the local rules in force on a date.

Every policy number (fee split, grade bands, payout ratios, prescription limits, deadlines)
comes from here, looked up by region and date; nothing else in the code holds them.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from server.errors import NotFound, RuleViolation
from server.extensions import db
from server.regions.models import LocalRules

GRADES = ("excellent", "good", "pass", "fail")
# 长期处方管理规范（试行）: the classes a long-term prescription may not contain, unless a
# region's rules say otherwise.
NATIONAL_LONG_TERM_EXCLUSIONS = ("toxic", "radioactive", "precursor", "narcotic", "psychotropic_1",
                                 "psychotropic_2", "antimicrobial", "special_storage")
# What a contract ended early refunds of the personal share paid: all of it, the share of the
# package's value not yet delivered (`contracts.usage.unused_share`), or nothing. A region's
# rules choose one for a cancellation after a first service and one for a death.
REFUND_POLICIES = ("full", "unused_items", "none")
GRADE_NAMES = {"excellent": "优秀", "good": "良好", "pass": "合格", "fail": "不合格"}


def rules_in_force(region_id: int, on: date) -> LocalRules:
    """The version of the region's rules in force on `on`."""
    rules = rules_on(region_id, on)
    if rules is None:
        raise no_rules_in_force(on)
    return rules


def rules_on(region_id: int, on: date) -> LocalRules | None:
    """The version in force on `on`, or None before the region's first one (for rules that answer that)."""
    return db.session.scalars(
        sa.select(LocalRules)
        .where(LocalRules.region_id == region_id, LocalRules.effective_from <= on)
        .order_by(LocalRules.effective_from.desc())
        .limit(1)
    ).first()


def no_rules_in_force(on: date) -> NotFound:
    return NotFound(f"{on.isoformat()} 无生效的实施细则", code="RULES_NOT_IN_FORCE")


@dataclass(frozen=True)
class FeeSplit:
    """Who pays what of one person's yearly fee, in fen."""

    fee_per_head_fen: int
    personal_share_fen: int
    public_health_share_fen: int
    insurance_fund_share_fen: int
    personal_share_payer: str  # "self", or the code of the fund paying it instead

    @property
    def resident_pays_fen(self) -> int:
        return self.personal_share_fen if self.personal_share_payer == "self" else 0


def fee_split(rules: LocalRules, populations: list[str], on: date) -> FeeSplit:
    """The split for a person in `populations` (e.g. "poverty_registered") on `on`.

    A population listed with another fund has its personal share paid by that fund while
    the listing's `until` date has not passed (Zhangzhou's poverty top-up ended 2022).
    """
    payer = "self"
    for listing in rules.other_fund_populations:
        until = listing.get("until")
        if listing["code"] in populations and (until is None or date.fromisoformat(until) >= on):
            payer = listing["fund"]
            break
    return FeeSplit(
        fee_per_head_fen=rules.fee_per_head_fen,
        personal_share_fen=rules.personal_share_fen,
        public_health_share_fen=rules.public_health_share_fen,
        insurance_fund_share_fen=rules.insurance_fund_share_fen,
        personal_share_payer=payer,
    )


def grade_for(rules: LocalRules, score: Decimal) -> str:
    """The grade of a 100-point score; band lower bounds are inclusive, compared exactly."""
    if not isinstance(score, Decimal):
        raise TypeError("scores are compared as Decimal, never float")
    for band in rules.grade_bands:
        if score >= Decimal(band["min"]):
            return band["grade"]
    return rules.grade_bands[-1]["grade"]


def payout_ratio(rules: LocalRules, grade: str, score: Decimal) -> Decimal:
    """Share of the capitation fee paid for a grade; "score" means in proportion to it."""
    ratio = rules.payout_ratios[grade]
    if ratio == "score":
        return (score / Decimal(100)).quantize(Decimal("0.0001"))
    return Decimal(ratio)


def max_prescription_weeks(rules: LocalRules, *, stable: bool) -> int:
    """4 weeks normally; up to 12 for a stable chronic patient (both from the rules)."""
    return rules.prescription_max_weeks if stable else rules.prescription_standard_weeks


def check_prescription_weeks(rules: LocalRules, weeks: int, *, stable: bool) -> None:
    limit = max_prescription_weeks(rules, stable=stable)
    if weeks > limit:
        raise RuleViolation(
            f"长期处方用量不得超过{limit}周",
            code="PRESCRIPTION_TOO_LONG",
            details={"weeks": weeks, "max_weeks": limit, "stable": stable},
        )
