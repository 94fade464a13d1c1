"""Recording a dispensing (取药) — one set of rules for the doctor's API and batch imports.

Each rule looks only at what the caller has loaded (a `Filling`: one drug of a prescription
filled on one day), so an import applies them to thousands of rows without a query per row.
`DISPENSING_RULES` lists them in the order they are checked, each with the code it answers
with; the first rule broken is the answer. Issuing a prescription shares two of them: the
contract must serve on the day (`contract_problem`) and a benefit held elsewhere is not paid
twice (`duplicate_benefit_problem`).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, NamedTuple

from server.contracts.states import ContractStatus
from server.errors import DomainError, RuleViolation
from server.prescriptions.models import PrescriptionStatus
from server.regions.rules import no_rules_in_force
from server.residents.models import BenefitEnrolment

SCHEME_NAMES = {"two_disease_drug": "“两病”门诊用药保障", "chronic_special_outpatient": "门诊慢特病"}


class Rule(NamedTuple):
    """One rule: the code it answers with, and the check giving that answer (or None)."""

    code: str
    check: Callable[[Any], DomainError | None]


def first_problem(rules: Iterable[Rule], *subjects: Any) -> DomainError | None:
    """The first rule, in order, that any subject breaks (among subjects, the first that does)."""
    for rule in rules:
        for subject in subjects:
            if (problem := rule.check(subject)) is not None:
                return problem
    return None


# --- The contract serves on the day (issuing and dispensing) -------------------------------------------

@dataclass(frozen=True)
class ContractDay:
    """Something done under a contract on a day, as far as the contract rules care."""

    doing: str  # 开具 / 取药, for the messages
    on: date
    today: date
    status: ContractStatus
    period_start: date
    period_end: date


def _contract_active(day: ContractDay) -> RuleViolation | None:
    if day.status is not ContractStatus.ACTIVE:
        return RuleViolation("该签约不在履约中", code="CONTRACT_NOT_ACTIVE", details={"status": day.status.value})
    return None


def _not_in_future(day: ContractDay) -> RuleViolation | None:
    if day.on > day.today:
        return RuleViolation(f"{day.doing}日期不能晚于今天", code="DATE_IN_FUTURE", details={"date": day.on.isoformat()})
    return None


def _inside_period(day: ContractDay) -> RuleViolation | None:
    if not day.period_start <= day.on <= day.period_end:
        return RuleViolation(f"{day.doing}日期不在签约服务期内", code="OUTSIDE_CONTRACT_PERIOD",
                             details={"date": day.on.isoformat(), "period_start": day.period_start.isoformat(),
                                      "period_end": day.period_end.isoformat()})
    return None


CONTRACT_RULES = (
    Rule("CONTRACT_NOT_ACTIVE", _contract_active),
    Rule("DATE_IN_FUTURE", _not_in_future),
    Rule("OUTSIDE_CONTRACT_PERIOD", _inside_period),
)


def contract_problem(day: ContractDay) -> DomainError | None:
    """Why the contract does not serve on the day: not active now, a future day, or outside its period."""
    return first_problem(CONTRACT_RULES, day)


# --- A benefit held elsewhere (issuing and dispensing) ---------------------------------------------------

def benefit_details(benefits: Sequence[BenefitEnrolment]) -> dict:
    return {"schemes": sorted({b.scheme.value for b in benefits}),
            "diseases": sorted({b.disease_code for b in benefits})}


def duplicate_benefit_problem(benefits: Sequence[BenefitEnrolment], policy: str | None) -> RuleViolation | None:
    """The person already holds a benefit for the package's diseases: refused, unless the region's
    rules (`duplicate_benefit_policy`) only flag it to supervision."""
    if not benefits or policy == "flag":
        return None
    names = "或".join(SCHEME_NAMES.get(s, s) for s in benefit_details(benefits)["schemes"])
    return RuleViolation(f"该患者已享受{names}待遇，不能由签约服务重复开具同病种药品", code="DUPLICATE_BENEFIT",
                         details=benefit_details(benefits))


# --- Dispensing -----------------------------------------------------------------------------------------

class PrescribedDrug(NamedTuple):
    """A drug of the prescription, as far as the rules care."""

    id: int
    drug_name: str
    quantity: Decimal
    unit: str


@dataclass(frozen=True)
class Filling:
    """One drug of a prescription filled on one day, with the facts the rules read."""

    prescription_status: PrescriptionStatus
    issued_on: date
    contract_status: ContractStatus
    period_start: date
    period_end: date
    dispensed_on: date
    today: date
    drug: PrescribedDrug | None  # None: the drug asked for is not in this prescription
    asked_for: dict[str, Any]  # how the caller named the drug (the details when it is not prescribed)
    quantity: Decimal
    already_recorded: bool  # this drug has a dispensing on this day (stored, or earlier in the same file)
    benefit_policy: str | None  # the rules' `duplicate_benefit_policy` on that day; None: no rules in force
    benefits: Sequence[BenefitEnrolment]  # other benefits held that day for the package's diseases

    @property
    def on_contract(self) -> ContractDay:
        return ContractDay("取药", self.dispensed_on, self.today, self.contract_status, self.period_start,
                           self.period_end)


def _prescription_active(f: Filling) -> RuleViolation | None:
    if f.prescription_status is not PrescriptionStatus.ACTIVE:
        return RuleViolation("该处方已结束，不能登记取药", code="PRESCRIPTION_NOT_ACTIVE",
                             details={"status": f.prescription_status.value})
    return None


def _on_contract(rule: Rule) -> Rule:
    return Rule(rule.code, lambda f: rule.check(f.on_contract))


def _not_before_issue(f: Filling) -> RuleViolation | None:
    if f.dispensed_on < f.issued_on:
        return RuleViolation("取药日期不能早于处方开具日期", code="DISPENSING_BEFORE_ISSUE",
                             details={"dispensed_on": f.dispensed_on.isoformat(), "issued_on": f.issued_on.isoformat()})
    return None


def _prescribed(f: Filling) -> RuleViolation | None:
    if f.drug is None:
        return RuleViolation("该药品不在此处方中", code="PRESCRIPTION_ITEM_NOT_FOUND", details=f.asked_for)
    return None


def _within_prescribed(f: Filling) -> RuleViolation | None:
    drug = f.drug
    if drug is not None and f.quantity > drug.quantity:
        return RuleViolation(f"{drug.drug_name}发药数量不能超过处方开具量{drug.quantity}{drug.unit}",
                             code="DISPENSING_EXCEEDS_PRESCRIBED",
                             details={"prescription_item_id": drug.id, "prescribed": str(drug.quantity),
                                      "requested": str(f.quantity)})
    return None


def _once_a_day(f: Filling) -> RuleViolation | None:
    if f.drug is not None and f.already_recorded:
        return RuleViolation(f"{f.drug.drug_name}当日已登记取药", code="DISPENSING_ALREADY_RECORDED",
                             details={"prescription_item_id": f.drug.id, "dispensed_on": f.dispensed_on.isoformat()})
    return None


def _rules_in_force(f: Filling) -> DomainError | None:
    return no_rules_in_force(f.dispensed_on) if f.benefit_policy is None else None


def _no_duplicate_benefit(f: Filling) -> RuleViolation | None:
    return duplicate_benefit_problem(f.benefits, f.benefit_policy)


DISPENSING_RULES: tuple[Rule, ...] = (
    Rule("PRESCRIPTION_NOT_ACTIVE", _prescription_active),
    *(_on_contract(rule) for rule in CONTRACT_RULES),
    Rule("DISPENSING_BEFORE_ISSUE", _not_before_issue),
    Rule("PRESCRIPTION_ITEM_NOT_FOUND", _prescribed),
    Rule("DISPENSING_EXCEEDS_PRESCRIBED", _within_prescribed),
    Rule("DISPENSING_ALREADY_RECORDED", _once_a_day),
    Rule("RULES_NOT_IN_FORCE", _rules_in_force),
    Rule("DUPLICATE_BENEFIT", _no_duplicate_benefit),
)


def dispensing_problem(*fillings: Filling) -> DomainError | None:
    """Why these drugs (one dispensing: one prescription, one day) may not be recorded, or None."""
    return first_problem(DISPENSING_RULES, *fillings)
