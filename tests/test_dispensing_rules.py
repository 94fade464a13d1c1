"""The doctor's API and the batch import refuse the same dispensings with the same codes, from one
rules table (`dispensing_rules.DISPENSING_RULES`).

For every rule in the table one bad dispensing is built and sent both ways: as a POST of a
filling on the prescription, and as one row of a dispensings file. A rule added to the table
without a case here fails the test.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from server.common.timeutil import local_today
from server.contracts.models import Contract
from server.contracts.states import ContractStatus
from server.extensions import db
from server.prescriptions.dispensing_rules import DISPENSING_RULES
from server.prescriptions.models import Dispensing, Prescription, PrescriptionItem, PrescriptionStatus
from server.regions.models import LocalRules
from server.residents.models import BenefitEnrolment, BenefitScheme
from tests import factories
from tests.helpers import assert_error_shape

AMLODIPINE, METFORMIN = ("XC08CAA0001", "苯磺酸氨氯地平片"), ("XA10BAA0002", "盐酸二甲双胍片")

# Checks that exist on one path only, so they are not in the table.
ONE_PATH_ONLY = {
    "NOT_TEAM_MEMBER": "API only: the caller must be medical staff; a file names who dispensed on each row",
    "PRESCRIPTION_NOT_FOUND": "import only: a row names its prescription by id; the API's URL answers 404 NOT_FOUND",
    "STAFF_NOT_FOUND": "import only: a row names who dispensed; the API records the caller",
}


@dataclass
class Bad:
    """One dispensing of one drug, sent both ways."""

    prescription_id: int
    item_id: int  # the drug asked for (another prescription's when it is not prescribed)
    drug_code: str
    on: date
    quantity: str = "28"


@pytest.fixture
def prescription(world) -> Prescription:
    """R1's active prescription of one drug (28 tablets), issued ten days ago under a contract that
    began 200 days ago, so every back-dated case fits on any day of the year."""
    contract = db.session.get(Contract, world.contracts["R1"].id)
    contract.period_start = min(contract.period_start, local_today() - timedelta(days=200))
    return _prescription(contract, AMLODIPINE, "RX-1")


def _prescription(contract: Contract, drug: tuple[str, str], external_id: str) -> Prescription:
    prescription = factories.add(Prescription(
        contract_id=contract.id, resident_id=contract.resident_id, region_id=contract.region_id,
        institution_id=contract.institution_id, team_id=contract.team_id, prescriber_staff_id=contract.doctor_staff_id,
        issued_on=local_today() - timedelta(days=10), weeks=4, status=PrescriptionStatus.ACTIVE,
        external_id=external_id))
    factories.add(PrescriptionItem(prescription_id=prescription.id, drug_code=drug[0], drug_name=drug[1],
                                   drug_class="antihypertensive", dosage="5mg", frequency="每日一次",
                                   quantity=Decimal("28"), unit="片"))
    db.session.commit()
    return prescription


def _drug(prescription: Prescription, **bad) -> Bad:
    """A dispensing on `prescription` of its drug (or of `drug_of`'s), yesterday unless `on` says."""
    item = db.session.scalars(sa.select(PrescriptionItem).where(
        PrescriptionItem.prescription_id == bad.pop("drug_of", prescription).id)).one()
    return Bad(prescription.id, item.id, item.drug_code, **{"on": local_today() - timedelta(days=1), **bad})


def _not_active(world, p):
    p.status = PrescriptionStatus.COMPLETED
    return _drug(p)


def _contract_ended(world, p):
    db.session.get(Contract, p.contract_id).status = ContractStatus.CANCELLED
    return _drug(p)


def _outside_period(world, p):
    return _drug(p, on=db.session.get(Contract, p.contract_id).period_start - timedelta(days=1))


def _another_prescriptions_drug(world, p):
    other = _prescription(world.contracts["R5"], METFORMIN, "RX-2")
    return _drug(p, drug_of=other)


def _already_dispensed(world, p):
    bad = _drug(p)
    factories.add(Dispensing(prescription_id=p.id, prescription_item_id=bad.item_id, institution_id=p.institution_id,
                             dispensed_on=bad.on, quantity=Decimal("28"), staff_id=world.doctors["T1"].id))
    return bad


def _no_rules_that_day(world, p):
    db.session.execute(sa.update(LocalRules).where(LocalRules.region_id == p.region_id)
                       .values(effective_from=local_today()))
    return _drug(p)


def _benefit_held(world, p):
    factories.add(BenefitEnrolment(resident_id=p.resident_id, scheme=BenefitScheme.TWO_DISEASE_DRUG,
                                   disease_code="hypertension", registration_no="LB350600000001",
                                   valid_from=date(2020, 1, 1)))
    db.session.execute(sa.update(LocalRules).where(LocalRules.region_id == p.region_id)
                       .values(duplicate_benefit_policy="refuse"))
    return _drug(p)


CASES: dict[str, Callable[..., Bad]] = {
    "PRESCRIPTION_NOT_ACTIVE": _not_active,
    "CONTRACT_NOT_ACTIVE": _contract_ended,
    "DATE_IN_FUTURE": lambda world, p: _drug(p, on=local_today() + timedelta(days=1)),
    "OUTSIDE_CONTRACT_PERIOD": _outside_period,
    "DISPENSING_BEFORE_ISSUE": lambda world, p: _drug(p, on=p.issued_on - timedelta(days=1)),
    "PRESCRIPTION_ITEM_NOT_FOUND": _another_prescriptions_drug,
    "DISPENSING_EXCEEDS_PRESCRIBED": lambda world, p: _drug(p, quantity="28.01"),
    "DISPENSING_ALREADY_RECORDED": _already_dispensed,
    "RULES_NOT_IN_FORCE": _no_rules_that_day,
    "DUPLICATE_BENEFIT": _benefit_held,
}


def _through_the_api(client, world, bad: Bad) -> str:
    response = client.post(f"/api/doctor/v1/prescriptions/{bad.prescription_id}/dispensings", headers=world.headers(
        "doctor"), json={"dispensed_on": bad.on.isoformat(),
                         "items": [{"prescription_item_id": bad.item_id, "quantity": bad.quantity}]})
    return assert_error_shape(response, response.status_code)["code"]


def _through_the_import(client, world, bad: Bad) -> str:
    row = {"external_id": "D1", "prescription_id": bad.prescription_id, "drug_code": bad.drug_code,
           "dispensed_on": bad.on.isoformat(), "quantity": bad.quantity}
    response = client.post("/api/doctor/v1/imports", query_string={"kind": "dispensings", "format": "jsonl"},
                           data=(json.dumps(row) + "\n").encode(), headers=world.headers("doctor"),
                           content_type="application/octet-stream")
    assert response.status_code == 201, response.get_json()
    report = response.get_json()
    assert (report["rows_total"], report["rows_stored"], report["rows_failed"]) == (1, 0, 1), report
    return report["failures"][0]["code"]


@pytest.mark.calendar_edges
@pytest.mark.parametrize("rule", DISPENSING_RULES, ids=lambda rule: rule.code)
def test_the_api_and_the_import_refuse_a_dispensing_by_the_same_rule(client, world, prescription, rule):
    if rule.code not in CASES:
        pytest.fail(f"the rule {rule.code} has no case here: add one bad dispensing that breaks it")
    bad = CASES[rule.code](world, prescription)
    db.session.commit()
    stored = db.session.scalar(sa.select(sa.func.count()).select_from(Dispensing))

    assert (_through_the_api(client, world, bad), _through_the_import(client, world, bad)) == (rule.code, rule.code)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Dispensing)) == stored


def test_every_case_names_a_rule_and_the_one_path_checks_stay_out_of_the_table():
    codes = [rule.code for rule in DISPENSING_RULES]
    assert len(set(codes)) == len(codes)
    assert set(CASES) <= set(codes)
    assert not set(ONE_PATH_ONLY) & set(codes)
