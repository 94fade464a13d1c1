"""Benefit registrations (两病用药保障登记、门诊慢特病登记) from the bureau: stored once under their
serial, ended by a resend, and a registration that now overlaps an active contract's package
raises one duplicate-benefit alert — by the rule signing uses — which the doctor sees on the
patient and the bureau resolves."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from server.audit.models import AuditEvent
from server.common.timeutil import local_today, utcnow
from server.contracts.eligibility import package_problems
from server.extensions import db
from server.imports.models import ImportBatch
from server.regions.rules import rules_in_force
from server.residents.benefit_registrations import apply_benefit_registrations
from server.residents.models import BenefitAlert, BenefitAlertStatus, BenefitEnrolment, ChronicCondition
from tests import factories
from tests.helpers import assert_error_shape, db_fingerprint
from tests.staging import REGISTRATIONS, staged

A = "/api/admin/v1/benefit-alerts"


def days_ago(n: int):
    return local_today() - timedelta(days=n)


def new_batch(world) -> int:
    return factories.add(ImportBatch(region_id=world.regions["A"].id, institution_id=world.institutions["I1"].id,
                                     kind="registrations", file_format="csv",
                                     submitted_by_account_id=world.accounts["bureau"].id)).id


def apply(world, *rows, batch=None):
    return apply_benefit_registrations(world.regions["A"].id, batch or new_batch(world),
                                       staged(REGISTRATIONS, list(rows)), local_today())


def registration(world, sn, key="R1", scheme="two_disease_drug", disease="hypertension", valid_from=None,
                 valid_to=None, **extra):
    return {"reg_sn": sn, "resident_id": world.residents[key].id, "scheme": scheme, "disease_code": disease,
            "valid_from": valid_from or days_ago(3), "valid_to": valid_to, **extra}


def alerts():
    return db.session.scalars(sa.select(BenefitAlert).order_by(BenefitAlert.id)).all()


def test_a_new_two_disease_registration_raises_one_alert_however_often_it_comes(world):
    row = registration(world, "LB350600000101")

    first = apply(world, row)
    batch = new_batch(world)
    before = db_fingerprint()
    again = apply(world, row, batch=batch)

    assert (first.stored, first.already_stored, first.failures) == (1, 0, [])
    assert first.changes == {"registrations_added": 1, "registrations_updated": 0, "alerts_raised": 1}
    assert (again.stored, again.already_stored, again.failures) == (0, 1, [])
    assert again.changes == {"registrations_added": 0, "registrations_updated": 0, "alerts_raised": 0}
    assert db_fingerprint() == before
    [alert] = alerts()
    enrolment = db.session.get(BenefitEnrolment, alert.enrolment_id)
    assert alert.contract_id == world.contracts["R1"].id and alert.status is BenefitAlertStatus.OPEN
    assert (enrolment.source, enrolment.registration_no, enrolment.valid_to) == ("import", "LB350600000101", None)


@pytest.mark.parametrize("overrides", [
    {"disease": "diabetes"},                                         # a disease the package does not serve them for
    {"valid_from": days_ago(400), "valid_to": days_ago(200)},        # over before what remains of the contract
])
def test_a_registration_that_does_not_overlap_the_package_raises_nothing(world, overrides):
    factories.add(ChronicCondition(resident_id=world.residents["R1"].id, disease_code="diabetes"))

    applied = apply(world, registration(world, "LB350600000102", **overrides))

    assert applied.stored == 1 and applied.changes["alerts_raised"] == 0 and alerts() == []


def test_the_alert_follows_the_rule_signing_uses(world, newcomer):
    """The registration that raises an alert on a contract refuses a new signing the same way."""
    version, rules = world.packages["A"], rules_in_force(world.regions["A"].id, local_today())
    row = {**registration(world, "MT350600000103", scheme="chronic_special_outpatient"), "resident_id": newcomer.id}
    assert "DUPLICATE_BENEFIT" not in [p.code for p in package_problems(newcomer, version, rules, local_today())]

    apply(world, row)

    assert "DUPLICATE_BENEFIT" in [p.code for p in package_problems(newcomer, version, rules, local_today())]


def test_a_resent_registration_with_an_end_date_is_updated(world):
    apply(world, registration(world, "LB350600000104", valid_from=days_ago(30)))

    ended = apply(world, registration(world, "LB350600000104", valid_from=days_ago(30), valid_to=days_ago(1)))

    assert (ended.stored, ended.already_stored) == (1, 0)
    assert ended.changes == {"registrations_added": 0, "registrations_updated": 1, "alerts_raised": 0}
    enrolment = db.session.scalars(sa.select(BenefitEnrolment).where(
        BenefitEnrolment.registration_no == "LB350600000104").execution_options(populate_existing=True)).one()
    assert (enrolment.valid_from, enrolment.valid_to) == (days_ago(30), days_ago(1))


def test_a_serial_naming_someone_or_something_else_is_refused_with_its_line(world):
    apply(world, registration(world, "LB350600000105"))
    batch = new_batch(world)
    before = db_fingerprint()

    applied = apply(world, registration(world, "LB350600000105", key="R2", line=7),
                    registration(world, "LB350600000105", disease="diabetes", line=9), batch=batch)

    assert [(f[0], f[1], f[2]) for f in applied.failures] == [
        (7, "reg_sn", "BENEFIT_REGISTRATION_CONFLICT"), (9, "reg_sn", "BENEFIT_REGISTRATION_CONFLICT")]
    assert "LB350600000105" in applied.failures[0][3]
    assert (applied.stored, applied.already_stored) == (0, 0)
    assert db_fingerprint() == before


# --- the alert in the doctor's workspace and the bureau's console --------------------------------------


@pytest.fixture
def alert(world):
    apply(world, registration(world, "LB350600000106"))
    db.session.commit()
    [alert] = alerts()
    return alert.id


def test_the_doctor_sees_the_open_alert_on_the_patient(client, world, alert):
    patient = client.get(f"/api/doctor/v1/patients/{world.residents['R1'].id}", headers=world.headers("doctor"))

    assert patient.status_code == 200, patient.get_json()
    [shown] = patient.get_json()["benefit_alerts"]
    assert (shown["id"], shown["scheme"], shown["disease_code"], shown["valid_from"], shown["valid_to"]) == (
        alert, "two_disease_drug", "hypertension", days_ago(3).isoformat(), None)
    other = client.get(f"/api/doctor/v1/patients/{world.residents['R5'].id}", headers=world.headers("doctor"))
    assert other.get_json()["benefit_alerts"] == []


def test_the_bureau_lists_and_resolves_the_alert(client, world, alert):
    listed = client.get(f"{A}?status=open", headers=world.headers("bureau")).get_json()
    assert [a["id"] for a in listed["items"]] == [alert]
    assert listed["items"][0]["registration_no"] == "LB350600000106"
    assert client.get(f"{A}?status=open", headers=world.headers("manager")).get_json()["total"] == 1
    assert client.get(A, headers=world.headers("bureau_b")).get_json()["total"] == 0
    refused = client.post(f"{A}/{alert}/resolve", json={"note": "机构无权处理"}, headers=world.headers("manager"))
    assert_error_shape(refused, 403)

    resolved = client.post(f"{A}/{alert}/resolve", json={"note": "已终止两病用药保障登记"},
                           headers=world.headers("bureau"))

    assert resolved.status_code == 200, resolved.get_json()
    body = resolved.get_json()
    assert (body["status"], body["resolution_note"], body["resolved_by_account_id"]) == (
        "resolved", "已终止两病用药保障登记", world.accounts["bureau"].id)
    assert client.get(f"{A}?status=open", headers=world.headers("bureau")).get_json()["total"] == 0
    assert client.get(f"{A}/{alert}", headers=world.headers("bureau")).get_json()["status"] == "resolved"
    [audited] = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "benefit_alert.resolve")).all()
    assert audited.entity_id == str(alert) and audited.actor_account_id == world.accounts["bureau"].id
    again = client.post(f"{A}/{alert}/resolve", json={"note": "重复处理"}, headers=world.headers("bureau"))
    assert assert_error_shape(again, 422)["code"] == "BENEFIT_ALERT_RESOLVED"
    patient = client.get(f"/api/doctor/v1/patients/{world.residents['R1'].id}", headers=world.headers("doctor"))
    assert patient.get_json()["benefit_alerts"] == []


# --- for the scope matrix (tests/test_scope_matrix.py) ---------------------------------------------------


def alerts_on_every_contract(world) -> dict[str, int]:
    """An open alert on each of the world's contracts (both regions), keyed by resident; made once per test."""
    ids = {}
    for key, contract in world.contracts.items():
        number = f"LB-SCOPE-{contract.id}"
        ids[key] = db.session.scalar(sa.select(BenefitAlert.id).join(BenefitEnrolment).where(
            BenefitEnrolment.registration_no == number))
        if ids[key] is None:
            enrolment = factories.add(BenefitEnrolment(
                resident_id=contract.resident_id, scheme="two_disease_drug", disease_code="hypertension",
                registration_no=number, valid_from=days_ago(3), source="import"))
            ids[key] = factories.add(BenefitAlert(
                region_id=contract.region_id, contract_id=contract.id, enrolment_id=enrolment.id,
                raised_at=utcnow(), status=BenefitAlertStatus.OPEN)).id
    db.session.commit()
    return ids


def alert_path(world, target, suffix="") -> str:
    return f"{A}/{alerts_on_every_contract(world)[target]}{suffix}"


def alert_ids(world, keys) -> set[int]:
    return {alert_id for key, alert_id in alerts_on_every_contract(world).items() if key in keys}
