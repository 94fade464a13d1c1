"""Importing dispensings (取药记录) from an institution's own system.

The rules are the doctor's API's, from the same table (`dispensing_rules`), applied to data
loaded set-wise: per chunk of rows one query each for the prescriptions not seen yet (with
their drugs), the external ids already stored and the dispensings stored on the rows' days,
and one per day of the chunk for the other benefits their patients hold, by the rule the API
and signing use (`residents.benefits`). A drug filled twice on one day within the file is
refused like one already stored. A double benefit the region's rules only flag is stored and
goes to supervision.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, NamedTuple

import sqlalchemy as sa

from server.common.timeutil import SHANGHAI
from server.contracts.models import Contract
from server.contracts.states import ContractStatus
from server.extensions import db
from server.identity.roles import Actor
from server.identity.scoping import visible
from server.imports.parsing import Fields
from server.imports.pipeline import Parsed, Report, StaffDirectory
from server.prescriptions import guards as prescription_guards
from server.prescriptions.dispensing_rules import Filling, PrescribedDrug, dispensing_problem
from server.prescriptions.models import Dispensing, Prescription, PrescriptionItem, PrescriptionStatus
from server.prescriptions.services import flag_duplicate_benefit
from server.regions.models import LocalRules
from server.residents.benefits import held_under_contracts
from server.residents.models import BenefitEnrolment

_TWO_DECIMALS = Decimal("0.01")


class _PrescriptionFacts(NamedTuple):
    """A prescription with what the dispensing rules read of its contract."""

    id: int
    external_id: str | None
    institution_id: int
    issued_on: date
    status: PrescriptionStatus
    contract_id: int
    contract_status: ContractStatus
    period_start: date
    period_end: date
    region_id: int
    resident_id: int


class DispensingImporter:
    """Dispensings by the rules of `dispensing_rules`, as the doctor's API records them."""

    kind = "dispensings"
    columns = frozenset({"external_id", "prescription_id", "prescription_external_id", "drug_code", "dispensed_on",
                         "quantity", "staff_licence_no", "staff_id"})
    required_columns = ("external_id", "drug_code", "dispensed_on", "quantity")
    one_of_columns = (("prescription_id", "prescription_external_id"),)

    def __init__(self, actor: Actor, now: datetime) -> None:
        self.actor, self.now = actor, now
        self.today = now.astimezone(SHANGHAI).date()
        self.by_id: dict[int, _PrescriptionFacts | None] = {}
        self.by_external_id: dict[str, _PrescriptionFacts | None] = {}
        self.drugs: dict[tuple[int, str], PrescribedDrug] = {}  # (prescription, drug code) → its item
        self.held: dict[tuple[int, date], list[BenefitEnrolment]] = {}  # (contract, day) → other benefits held
        self.filled: set[tuple[int, date]] = set()  # (prescription item, day) of this file's dispensings
        self.staff = StaffDirectory(actor.institution_id)
        self.policies = [tuple(row) for row in db.session.execute(
            sa.select(LocalRules.effective_from, LocalRules.duplicate_benefit_policy)
            .where(LocalRules.region_id == actor.region_id).order_by(LocalRules.effective_from))]

    def parse(self, data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        f = Fields(data, self.columns)
        values: dict[str, Any] = {
            "external_id": f.text("external_id", max_length=64, required=True),
            "prescription_id": f.integer("prescription_id"),
            "prescription_external_id": f.text("prescription_external_id", max_length=64),
            "drug_code": f.text("drug_code", max_length=64, required=True),
            "dispensed_on": f.day("dispensed_on"),
            "quantity": f.number("quantity"),
            "staff_licence_no": f.text("staff_licence_no", max_length=64),
            "staff_id": f.integer("staff_id"),
        }
        if (values["prescription_id"] is None) == (values["prescription_external_id"] is None) \
                and "prescription_id" not in f.problems:
            f.problems["prescription_id"] = "须填写 prescription_id 或 prescription_external_id 之一"
        quantity = values["quantity"]
        if quantity is None and "quantity" not in f.problems:
            f.problems["quantity"] = "必填"
        elif quantity is not None and not (0 < quantity < 10**8):
            f.problems["quantity"] = "应大于0且小于1亿"
        elif quantity is not None and quantity != quantity.quantize(_TWO_DECIMALS):
            f.problems["quantity"] = "最多两位小数"
        return values, f.problems

    # Pass 1 -------------------------------------------------------------------------------------

    def check(self, rows: list[Parsed], report: Report) -> list[int]:
        if not rows:
            return []
        stored_ids = set(db.session.scalars(sa.select(Dispensing.external_id).where(
            Dispensing.institution_id == self.actor.institution_id,
            Dispensing.external_id.in_([row.values["external_id"] for row in rows]))))
        new = [row for row in rows if row.values["external_id"] not in stored_ids]
        report.rows_already_stored += len(rows) - len(new)
        self._load_prescriptions(new)
        self._load_benefits(new)
        recorded = self._recorded_days(new)
        passed = []
        for ordinal, line, values in new:
            code, message = self._problem(values, recorded)
            if code:
                report.fail(line, values["external_id"], code, message)
                continue
            prescription = self._prescription(values)
            self.filled.add((self.drugs[(prescription.id, values["drug_code"])].id, values["dispensed_on"]))
            passed.append(ordinal)
        return passed

    def _prescription(self, values: dict[str, Any]) -> _PrescriptionFacts | None:
        if values["prescription_id"] is not None:
            return self.by_id.get(values["prescription_id"])
        return self.by_external_id.get(values["prescription_external_id"])

    def _problem(self, values: dict[str, Any], recorded: set[tuple[int, date]]) -> tuple[str | None, str]:
        """The first rule the row breaks: finding its prescription and staff, then the dispensing rules."""
        prescription = self._prescription(values)
        if prescription is None:
            return "PRESCRIPTION_NOT_FOUND", "处方不存在或不在本人管理范围内"
        if (values["staff_id"] is not None or values["staff_licence_no"]) and self.staff.find(values) is None:
            return "STAFF_NOT_FOUND", "本机构没有该医务人员（执业证书编号或人员 id）"
        on = values["dispensed_on"]
        drug = self.drugs.get((prescription.id, values["drug_code"]))
        problem = dispensing_problem(Filling(
            prescription_status=prescription.status, issued_on=prescription.issued_on,
            contract_status=prescription.contract_status, period_start=prescription.period_start,
            period_end=prescription.period_end, dispensed_on=on, today=self.today, drug=drug,
            asked_for={"drug_code": values["drug_code"]}, quantity=values["quantity"],
            already_recorded=drug is not None and ((drug.id, on) in recorded or (drug.id, on) in self.filled),
            benefit_policy=self._policy_on(on), benefits=self._benefits(prescription, on)))
        return (problem.code, problem.message) if problem else (None, "")

    def _policy_on(self, day: date) -> str | None:
        policy = None
        for effective_from, value in self.policies:
            if effective_from > day:
                break
            policy = value
        return policy

    def _benefits(self, prescription: _PrescriptionFacts, on: date) -> list[BenefitEnrolment]:
        """Other benefits the person holds on `on` under the prescription's contract (`_load_benefits`)."""
        return self.held[(prescription.contract_id, on)]

    def _load_benefits(self, rows: list[Parsed]) -> None:
        """The benefits held under these rows' contracts on their days, by the API's rule
        (`benefits.held_under_contracts`): one query per day of the chunk not seen yet."""
        wanted: dict[date, set[int]] = defaultdict(set)
        for row in rows:
            prescription, on = self._prescription(row.values), row.values["dispensed_on"]
            if prescription is not None and (prescription.contract_id, on) not in self.held:
                wanted[on].add(prescription.contract_id)
        for on, contract_ids in wanted.items():
            held = held_under_contracts(sorted(contract_ids), on)
            for contract_id in contract_ids:
                self.held[(contract_id, on)] = held.get(contract_id, [])

    def _load_prescriptions(self, rows: list[Parsed]) -> None:
        """The actor's prescriptions of these rows not seen yet, and their drugs."""
        ids = sorted({row.values["prescription_id"] for row in rows if row.values["prescription_id"] is not None}
                     - self.by_id.keys())
        external_ids = sorted({row.values["prescription_external_id"] for row in rows
                               if row.values["prescription_external_id"] is not None} - self.by_external_id.keys())
        if not ids and not external_ids:
            return
        for prescription_id in ids:
            self.by_id[prescription_id] = None
        for external_id in external_ids:
            self.by_external_id[external_id] = None
        found = [_PrescriptionFacts(*row) for row in db.session.execute(
            sa.select(Prescription.id, Prescription.external_id, Prescription.institution_id, Prescription.issued_on,
                      Prescription.status, Contract.id, Contract.status, Contract.period_start, Contract.period_end,
                      Contract.region_id, Contract.resident_id)
            .join(Contract, Contract.id == Prescription.contract_id)
            .where(visible(Prescription, self.actor), Prescription.institution_id == self.actor.institution_id,
                   sa.or_(Prescription.id.in_(ids), Prescription.external_id.in_(external_ids))))]
        if not found:
            return
        for prescription in found:
            self.by_id[prescription.id] = prescription
            if prescription.external_id is not None:
                self.by_external_id[prescription.external_id] = prescription
        for item_id, prescription_id, drug_code, quantity, drug_name, unit in db.session.execute(
                sa.select(PrescriptionItem.id, PrescriptionItem.prescription_id, PrescriptionItem.drug_code,
                          PrescriptionItem.quantity, PrescriptionItem.drug_name, PrescriptionItem.unit)
                .where(PrescriptionItem.prescription_id.in_([p.id for p in found])).order_by(PrescriptionItem.id)):
            self.drugs.setdefault((prescription_id, drug_code),
                                  PrescribedDrug(item_id, drug_name, Decimal(quantity), unit))

    def _recorded_days(self, rows: list[Parsed]) -> set[tuple[int, date]]:
        """Stored dispensings of these rows' drugs on these rows' days (one query per chunk)."""
        items = {drug.id for row in rows if (p := self._prescription(row.values))
                 and (drug := self.drugs.get((p.id, row.values["drug_code"])))}
        if not items:
            return set()
        days = {row.values["dispensed_on"] for row in rows}
        return {tuple(row) for row in db.session.execute(
            sa.select(Dispensing.prescription_item_id, Dispensing.dispensed_on)
            .where(Dispensing.prescription_item_id.in_(sorted(items)), Dispensing.dispensed_on.in_(sorted(days))))}

    # Pass 2 -------------------------------------------------------------------------------------

    def store(self, rows: list[Parsed], report: Report) -> None:
        """One INSERT for the chunk; a double benefit the rules only flag goes to supervision."""
        dispensings, flagged = [], []
        for _ordinal, _line, values in rows:
            prescription = self._prescription(values)
            dispensings.append({
                "prescription_id": prescription.id,
                "prescription_item_id": self.drugs[(prescription.id, values["drug_code"])].id,
                "institution_id": prescription.institution_id, "dispensed_on": values["dispensed_on"],
                "quantity": values["quantity"], "staff_id": self.staff.find(values),
                "external_id": values["external_id"], "created_at": self.now, "updated_at": self.now,
            })
            if self._benefits(prescription, values["dispensed_on"]):
                flagged.append(values)
        if not dispensings:
            return
        # A dispensing the doctor's API recorded since the check pass fails the whole batch (409);
        # sent again, the file reports that row and stores the rest.
        with prescription_guards.one_dispensing_per_item_per_day():
            db.session.execute(sa.insert(Dispensing.__table__), dispensings)
        report.rows_stored += len(dispensings)
        if flagged:
            ids = dict(db.session.execute(sa.select(Dispensing.external_id, Dispensing.id).where(
                Dispensing.institution_id == self.actor.institution_id,
                Dispensing.external_id.in_([values["external_id"] for values in flagged]))).all())
            for values in flagged:
                prescription, on = self._prescription(values), values["dispensed_on"]
                contract = SimpleNamespace(id=prescription.contract_id, region_id=prescription.region_id,
                                           institution_id=prescription.institution_id,
                                           resident_id=prescription.resident_id)
                dispensing_id = ids[values["external_id"]]
                flag_duplicate_benefit(
                    contract, self._benefits(prescription, on), "dispensing", dispensing_id,  # type: ignore[arg-type]
                    {"prescription_id": prescription.id, "dispensed_on": on.isoformat(),
                     "dispensing_ids": [dispensing_id]})
