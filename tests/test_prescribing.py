"""Long-term prescriptions in the doctor's workspace: the 4/12-week rules, excluded drug classes,
continued prescriptions, double benefits (refused or flagged), dispensings, the team's lists,
what the resident sees, scope, and bad input."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from server.audit.models import AuditEvent
from server.common.timeutil import local_today
from server.contracts.models import Contract
from server.contracts.states import ContractStatus
from server.extensions import db
from server.identity.roles import Role
from server.prescriptions.models import Dispensing, Prescription, PrescriptionStatus
from server.regions.models import LocalRules
from server.residents.models import BenefitEnrolment, BenefitScheme, ChronicCondition
from server.supervision.models import AlertKind, SupervisionAlert
from server.teams.models import Staff, StaffKind, TeamMembership
from tests.factories import add, make_account, rules_kwargs
from tests.helpers import assert_error_shape, db_fingerprint

URL = "/api/doctor/v1/prescriptions"
AMLODIPINE = {"drug_code": "XC08CAA0001", "drug_name": "苯磺酸氨氯地平片", "drug_class": "antihypertensive",
              "specification": "5mg*28片", "dosage": "5mg", "frequency": "每日一次", "quantity": "28", "unit": "片"}
METFORMIN = {"drug_code": "XA10BAA0002", "drug_name": "盐酸二甲双胍片", "drug_class": "antidiabetic",
             "dosage": "0.5g", "frequency": "每日三次", "quantity": "84", "unit": "片"}
STABLE = {"stable_patient": True, "stability_assessment": "近3个月血压控制在130/80左右，无并发症，用药方案稳定",
          "patient_confirmed": True}


def days_ago(n: int) -> date:
    return local_today() - timedelta(days=n)


@pytest.fixture(autouse=True)
def long_contracts(world):
    """Contracts that began 200 days ago, so back-dated cases work on any day of the year."""
    for contract in db.session.query(Contract):
        contract.period_start = min(contract.period_start, days_ago(200))
    db.session.commit()


def body(world, key="R1", **overrides) -> dict:
    return {"contract_id": world.contracts[key].id, "issued_on": local_today().isoformat(), "weeks": 4,
            "items": [dict(AMLODIPINE)], **overrides}


def issue(client, world, who="doctor", **overrides):
    return client.post(URL, json=body(world, **overrides), headers=world.headers(who))


def issued(client, world, **overrides) -> dict:
    response = issue(client, world, **overrides)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def dispense(client, world, script: dict, on: date | None = None, who="doctor", **overrides):
    payload = {"dispensed_on": (on or local_today()).isoformat(),
               "items": [{"prescription_item_id": i["id"], "quantity": i["quantity"]} for i in script["items"]],
               **overrides}
    return client.post(f"{URL}/{script['id']}/dispensings", json=payload, headers=world.headers(who))


def refused(response, code: str, status: int = 422) -> dict:
    body_ = assert_error_shape(response, status)
    assert body_["code"] == code, body_
    return body_


def make_stable(world, key="R1", disease="hypertension") -> None:
    condition = db.session.query(ChronicCondition).filter_by(resident_id=world.residents[key].id,
                                                             disease_code=disease).one()
    condition.stable = True
    condition.stable_assessed_on = days_ago(30)
    db.session.commit()


def rules_of(world, region="A") -> LocalRules:
    return db.session.query(LocalRules).filter_by(region_id=world.regions[region].id).one()


def enrol(world, scheme=BenefitScheme.TWO_DISEASE_DRUG, key="R1", disease="hypertension",
          valid_from=date(2020, 1, 1), valid_to=None) -> None:
    add(BenefitEnrolment(resident_id=world.residents[key].id, scheme=scheme, disease_code=disease,
                         registration_no="LB2020-0001", valid_from=valid_from, valid_to=valid_to))
    db.session.commit()


def staff_headers(app, world, team="T2", kind: StaffKind | None = None) -> dict:
    """A team-member account for the doctor of `team`, or for a new member of that kind in it."""
    staff = world.doctors[team]
    if kind is not None:
        staff = add(Staff(region_id=staff.region_id, institution_id=staff.institution_id, name="林护士", kind=kind))
        add(TeamMembership(team_id=world.teams[team].id, staff_id=staff.id, joined_on=date(2024, 1, 1)))
    institution = next(i for i in world.institutions.values() if i.id == staff.institution_id)
    account = make_account(Role.TEAM_MEMBER, world.regions["A"], institution=institution, staff=staff)
    db.session.commit()
    token = app.extensions["jiayi.tokens"].issue("staff", account.id, account.token_version)
    return {"Authorization": f"Bearer {token}"}


# ---------------------------------------------------------------- the 4/12-week rules


def test_four_weeks_for_any_patient(client, world):
    script = issued(client, world)
    assert (script["weeks"], script["status"], script["stable_patient"]) == (4, "active", False)
    assert script["prescriber_staff_id"] == world.doctors["T1"].id
    assert script["contract_id"] == world.contracts["R1"].id and script["resident_id"] == world.residents["R1"].id
    assert script["next_refill_on"] == (local_today() + timedelta(weeks=4)).isoformat()
    assert script["patient_confirmed_at"] is None and script["warnings"] == []
    [item] = script["items"]
    assert (item["drug_class"], item["quantity"], item["unit"]) == ("antihypertensive", "28.00", "片")
    [event] = db.session.query(AuditEvent).filter_by(action="prescription.issue").all()
    assert event.entity_id == str(script["id"]) and event.details["weeks"] == 4


def test_five_weeks_for_a_stable_patient_with_assessment_and_confirmation(client, world):
    make_stable(world)
    script = issued(client, world, weeks=5, **STABLE)
    assert script["weeks"] == 5 and script["stable_patient"] is True
    assert script["stability_assessment"] == STABLE["stability_assessment"]
    assert script["patient_confirmed_at"] is not None
    assert script["next_refill_on"] == (local_today() + timedelta(weeks=5)).isoformat()


@pytest.mark.parametrize("declared", [False, True], ids=["not-declared", "declared-but-not-on-record"])
def test_five_weeks_for_an_unstable_patient_is_refused(client, world, declared):
    before = db_fingerprint()
    overrides = {**STABLE, "stable_patient": declared}
    body_ = refused(issue(client, world, weeks=5, **overrides), "PRESCRIPTION_NEEDS_STABLE_PATIENT")
    assert body_["details"]["standard_weeks"] == 4 and "4周" in body_["message"]
    assert db_fingerprint() == before


def test_a_stable_condition_must_be_one_the_package_targets(client, world):
    add(ChronicCondition(resident_id=world.residents["R1"].id, disease_code="diabetes", stable=True))
    db.session.commit()
    refused(issue(client, world, weeks=8, **STABLE), "PRESCRIPTION_NEEDS_STABLE_PATIENT")


def test_twelve_weeks_for_a_stable_patient(client, world):
    make_stable(world)
    script = issued(client, world, weeks=12, **STABLE)
    assert script["weeks"] == 12 and script["next_refill_on"] == (local_today() + timedelta(weeks=12)).isoformat()


@pytest.mark.parametrize("stable", [True, False])
def test_thirteen_weeks_is_never_allowed(client, world, stable):
    if stable:
        make_stable(world)
    before = db_fingerprint()
    body_ = refused(issue(client, world, weeks=13, **STABLE), "PRESCRIPTION_TOO_LONG")
    assert body_["details"] == {"weeks": 13, "max_weeks": 12} and "12周" in body_["message"]
    assert db_fingerprint() == before


@pytest.mark.parametrize("missing, code", [
    ({"stability_assessment": ""}, "STABILITY_ASSESSMENT_REQUIRED"),
    ({"stability_assessment": "   "}, "STABILITY_ASSESSMENT_REQUIRED"),
    ({"patient_confirmed": False}, "PATIENT_CONFIRMATION_REQUIRED"),
])
def test_above_four_weeks_needs_the_assessment_and_the_patient_s_confirmation(client, world, missing, code):
    make_stable(world)
    before = db_fingerprint()
    refused(issue(client, world, weeks=6, **{**STABLE, **missing}), code)
    assert db_fingerprint() == before


def test_weeks_follow_the_rules_in_force_on_the_issue_date(client, world):
    add(LocalRules(region_id=world.regions["A"].id, **rules_kwargs(
        effective_from=days_ago(5), document_no="漳医保〔2026〕9号", prescription_standard_weeks=2,
        prescription_max_weeks=8)))
    db.session.commit()
    refused(issue(client, world, weeks=3), "PRESCRIPTION_NEEDS_STABLE_PATIENT")
    assert issued(client, world, weeks=3, issued_on=days_ago(10).isoformat())["weeks"] == 3
    make_stable(world)
    refused(issue(client, world, weeks=9, **STABLE), "PRESCRIPTION_TOO_LONG")


# ---------------------------------------------------------------- drugs


@pytest.mark.parametrize("drug_class, name", [("antimicrobial", "抗微生物药物"), ("Narcotic ", "麻醉药品"),
                                              ("psychotropic_2", "第二类精神药品")])
def test_an_excluded_drug_class_is_refused_by_name(client, world, drug_class, name):
    before = db_fingerprint()
    excluded = {"drug_code": "XJ01CAA0003", "drug_name": "阿莫西林胶囊", "drug_class": drug_class, "dosage": "0.5g",
                "frequency": "每日三次", "quantity": "42", "unit": "粒"}
    body_ = refused(issue(client, world, items=[AMLODIPINE, excluded]), "DRUG_CLASS_EXCLUDED")
    assert name in body_["message"]
    assert body_["details"]["drugs"] == [{"drug_code": "XJ01CAA0003", "drug_class": drug_class.strip().lower()}]
    assert db_fingerprint() == before


def test_the_region_s_rules_decide_the_excluded_classes(client, world):
    rules_of(world).prescription_excluded_drug_classes = ["narcotic", "antidiabetic"]
    db.session.commit()
    refused(issue(client, world, items=[METFORMIN]), "DRUG_CLASS_EXCLUDED")
    antimicrobial = {**METFORMIN, "drug_code": "XJ04AKA0001", "drug_name": "异烟肼片", "drug_class": "antimicrobial"}
    assert issued(client, world, items=[antimicrobial])["items"][0]["drug_class"] == "antimicrobial"


def test_a_prescription_holds_several_drugs(client, world):
    script = issued(client, world, items=[AMLODIPINE, METFORMIN])
    assert [i["drug_code"] for i in script["items"]] == [AMLODIPINE["drug_code"], METFORMIN["drug_code"]]
    assert script["items"][1]["specification"] == ""


# ---------------------------------------------------------------- continuing a hospital's prescription


def test_a_continued_prescription_records_its_source(client, world):
    script = issued(client, world, continued_from={"institution_name": "漳州市医院", "prescription_no": "MZ20261101"})
    assert (script["source_institution_name"], script["source_prescription_no"]) == ("漳州市医院", "MZ20261101")
    stored = db.session.get(Prescription, script["id"])
    assert stored.source_institution_name == "漳州市医院" and stored.source_prescription_no == "MZ20261101"
    own = issued(client, world)
    assert own["source_institution_name"] is None and own["source_prescription_no"] is None


@pytest.mark.parametrize("source", [{"institution_name": "漳州市医院"}, {"prescription_no": "MZ20261101"},
                                    {"institution_name": "漳州市医院", "prescription_no": " "}])
def test_a_continued_prescription_needs_both_institution_and_number(client, world, source):
    before = db_fingerprint()
    body_ = refused(issue(client, world, continued_from=source), "VALIDATION_ERROR")
    assert "continued_from" in body_["details"]["fields"]
    assert db_fingerprint() == before


def test_a_continued_prescription_follows_the_same_week_rules(client, world):
    refused(issue(client, world, weeks=8, continued_from={"institution_name": "漳州市医院",
                                                          "prescription_no": "MZ20261101"}),
            "PRESCRIPTION_NEEDS_STABLE_PATIENT")


# ---------------------------------------------------------------- double benefit


@pytest.mark.parametrize("scheme", list(BenefitScheme))
def test_a_double_benefit_is_refused_when_the_rules_say_refuse(client, world, scheme):
    enrol(world, scheme)
    before = db_fingerprint()
    body_ = refused(issue(client, world), "DUPLICATE_BENEFIT")
    assert body_["details"]["schemes"] == [scheme.value]
    assert db_fingerprint() == before


def test_a_double_benefit_is_issued_and_flagged_when_the_rules_say_flag(client, world):
    rules_of(world).duplicate_benefit_policy = "flag"
    db.session.commit()
    enrol(world, BenefitScheme.CHRONIC_SPECIAL_OUTPATIENT)
    script = issued(client, world)
    [warning] = script["warnings"]
    assert warning["code"] == "DUPLICATE_BENEFIT" and warning["details"]["schemes"] == ["chronic_special_outpatient"]
    [alert] = db.session.query(SupervisionAlert).filter_by(kind=AlertKind.DUPLICATE_BENEFIT).all()
    assert (alert.subject_type, alert.subject_id) == ("prescription", str(script["id"]))
    assert alert.institution_id == world.institutions["I1"].id and alert.status == "open"
    assert alert.details["contract_id"] == world.contracts["R1"].id
    assert alert.details["registration_nos"] == ["LB2020-0001"]


@pytest.mark.parametrize("enrolment", [
    {"disease": "diabetes"},                                        # not a disease the package targets
    {"valid_from": date(2020, 1, 1), "valid_to": date(2021, 12, 31)},  # over before the prescription
])
def test_other_benefits_do_not_count(client, world, enrolment):
    add(ChronicCondition(resident_id=world.residents["R1"].id, disease_code="diabetes"))
    db.session.commit()
    enrol(world, **enrolment)
    assert issued(client, world)["warnings"] == []
    assert db.session.query(SupervisionAlert).filter_by(kind=AlertKind.DUPLICATE_BENEFIT).count() == 0


def test_a_double_benefit_that_begins_after_the_prescription_stops_its_dispensing(client, world):
    script = issued(client, world, issued_on=days_ago(20).isoformat())
    enrol(world, valid_from=days_ago(3))
    before = db_fingerprint()
    refused(dispense(client, world, script), "DUPLICATE_BENEFIT")
    assert db_fingerprint() == before
    assert dispense(client, world, script, on=days_ago(5)).status_code == 201


def test_a_flagged_dispensing_goes_to_supervision(client, world):
    rules_of(world).duplicate_benefit_policy = "flag"
    db.session.commit()
    script = issued(client, world, issued_on=days_ago(20).isoformat())
    enrol(world, valid_from=days_ago(3))
    response = dispense(client, world, script)
    assert response.status_code == 201 and response.get_json()["warnings"][0]["code"] == "DUPLICATE_BENEFIT"
    [alert] = db.session.query(SupervisionAlert).filter_by(kind=AlertKind.DUPLICATE_BENEFIT).all()
    assert alert.subject_type == "dispensing" and alert.details["prescription_id"] == script["id"]


# ---------------------------------------------------------------- contract, dates, prescriber


def test_a_new_prescription_completes_the_current_one(client, world):
    first = issued(client, world, issued_on=days_ago(30).isoformat())
    second = issued(client, world, weeks=2)
    assert db.session.get(Prescription, first["id"]).status is PrescriptionStatus.COMPLETED
    assert db.session.get(Prescription, second["id"]).status is PrescriptionStatus.ACTIVE
    [event] = db.session.query(AuditEvent).filter_by(action="prescription.complete").all()
    assert event.entity_id == str(first["id"]) and event.details == {"replaced_by": second["id"]}
    shown = client.get(f"{URL}/{first['id']}", headers=world.headers("doctor")).get_json()
    assert shown["status"] == "completed" and shown["next_refill_on"] is None
    other_patient = issued(client, world, key="R5")
    assert db.session.get(Prescription, second["id"]).status is PrescriptionStatus.ACTIVE
    assert other_patient["resident_id"] == world.residents["R5"].id


def test_a_back_dated_prescription_cannot_replace_a_later_one(client, world):
    current = issued(client, world, issued_on=days_ago(2).isoformat())
    before = db_fingerprint()
    body_ = refused(issue(client, world, issued_on=days_ago(9).isoformat()), "PRESCRIPTION_OLDER_THAN_CURRENT")
    assert body_["details"]["current_prescription_id"] == current["id"]
    assert db_fingerprint() == before


@pytest.mark.parametrize("status", [ContractStatus.TERMINATED, ContractStatus.PENDING_PAYMENT,
                                    ContractStatus.EXPIRED])
def test_only_an_active_contract_takes_prescriptions(client, world, status):
    db.session.get(Contract, world.contracts["R1"].id).status = status
    db.session.commit()
    before = db_fingerprint()
    refused(issue(client, world), "CONTRACT_NOT_ACTIVE")
    assert db_fingerprint() == before


def test_the_issue_date_is_not_in_the_future_nor_outside_the_contract(client, world):
    refused(issue(client, world, issued_on=(local_today() + timedelta(days=1)).isoformat()), "DATE_IN_FUTURE")
    start = db.session.get(Contract, world.contracts["R1"].id).period_start
    body_ = refused(issue(client, world, issued_on=(start - timedelta(days=1)).isoformat()), "OUTSIDE_CONTRACT_PERIOD")
    assert body_["details"]["period_start"] == start.isoformat()
    assert db.session.query(Prescription).count() == 0


@pytest.mark.parametrize("kind", [StaffKind.NURSE, StaffKind.PUBLIC_HEALTH])
def test_only_doctors_prescribe(app, client, world, kind):
    headers = staff_headers(app, world, team="T1", kind=kind)
    before = db_fingerprint()
    response = client.post(URL, json=body(world), headers=headers)
    assert refused(response, "PRESCRIBER_NOT_QUALIFIED", 403)["details"] == {"staff_kind": kind.value}
    assert db_fingerprint() == before


def test_a_village_doctor_prescribes_and_a_nurse_records_dispensing(app, client, world):
    village = staff_headers(app, world, team="T1", kind=StaffKind.VILLAGE_DOCTOR)
    response = client.post(URL, json=body(world), headers=village)
    assert response.status_code == 201, response.get_json()
    script = response.get_json()
    nurse = staff_headers(app, world, team="T1", kind=StaffKind.NURSE)
    payload = {"dispensed_on": local_today().isoformat(),
               "items": [{"prescription_item_id": script["items"][0]["id"], "quantity": "28"}]}
    filled = client.post(f"{URL}/{script['id']}/dispensings", json=payload, headers=nurse)
    assert filled.status_code == 201, filled.get_json()
    [row] = db.session.query(Dispensing).all()
    assert row.staff_id != world.doctors["T1"].id and row.staff_id is not None


# ---------------------------------------------------------------- dispensing


@pytest.mark.calendar_edges
def test_a_dispensing_moves_the_next_refill(client, world):
    script = issued(client, world, issued_on=days_ago(27).isoformat())
    assert script["next_refill_on"] == (days_ago(27) + timedelta(weeks=4)).isoformat()
    response = dispense(client, world, script, on=days_ago(1))
    assert response.status_code == 201, response.get_json()
    filled = response.get_json()
    assert filled["next_refill_on"] == (days_ago(1) + timedelta(weeks=4)).isoformat()
    [row] = filled["dispensings"]
    assert row["quantity"] == "28.00" and row["staff_id"] == world.doctors["T1"].id
    assert row["prescription_item_id"] == script["items"][0]["id"] and row["dispensed_on"] == days_ago(1).isoformat()
    assert db.session.query(AuditEvent).filter_by(action="prescription.dispense").count() == 1


def test_part_of_a_prescription_may_be_dispensed(client, world):
    script = issued(client, world, items=[AMLODIPINE, METFORMIN])
    item = script["items"][1]
    response = dispense(client, world, script, items=[{"prescription_item_id": item["id"], "quantity": "42.5"}])
    assert response.status_code == 201, response.get_json()
    assert [d["quantity"] for d in response.get_json()["dispensings"]] == ["42.50"]


def test_dispensing_rules(client, world):
    script = issued(client, world, issued_on=days_ago(10).isoformat())
    other = issued(client, world, key="R5")
    item_id = script["items"][0]["id"]
    before = db_fingerprint()
    refused(dispense(client, world, script, on=local_today() + timedelta(days=1)), "DATE_IN_FUTURE")
    refused(dispense(client, world, script, on=days_ago(11)), "DISPENSING_BEFORE_ISSUE")
    body_ = refused(dispense(client, world, script, items=[{"prescription_item_id": other["items"][0]["id"],
                                                            "quantity": "1"}]), "PRESCRIPTION_ITEM_NOT_FOUND")
    assert body_["details"] == {"prescription_item_id": other["items"][0]["id"]}
    body_ = refused(dispense(client, world, script, items=[{"prescription_item_id": item_id, "quantity": "28.01"}]),
                    "DISPENSING_EXCEEDS_PRESCRIBED")
    assert body_["details"]["prescribed"] == "28.00"
    assert db_fingerprint() == before
    assert dispense(client, world, script).status_code == 201
    refused(dispense(client, world, script), "DISPENSING_ALREADY_RECORDED")


def test_only_an_active_prescription_is_dispensed(client, world):
    first = issued(client, world, issued_on=days_ago(10).isoformat())
    issued(client, world)
    before = db_fingerprint()
    assert refused(dispense(client, world, first), "PRESCRIPTION_NOT_ACTIVE")["details"] == {"status": "completed"}
    assert db_fingerprint() == before


def test_nothing_is_dispensed_under_a_contract_that_ended(client, world):
    script = issued(client, world)
    db.session.get(Contract, world.contracts["R1"].id).status = ContractStatus.CANCELLED
    db.session.commit()
    refused(dispense(client, world, script), "CONTRACT_NOT_ACTIVE")


# ---------------------------------------------------------------- lists and the resident's view


@pytest.mark.calendar_edges
def test_the_team_lists_its_prescriptions_and_those_due(client, world):
    soon = issued(client, world, issued_on=days_ago(25).isoformat())       # runs out in 3 days
    later = issued(client, world, key="R5", weeks=2)                        # runs out in 14 days
    headers = world.headers("doctor")
    page = client.get(URL, headers=headers).get_json()
    assert page["total"] == 2 and [i["id"] for i in page["items"]] == [later["id"], soon["id"]]
    due = client.get(f"{URL}?due_within_days=7", headers=headers).get_json()
    assert [i["id"] for i in due["items"]] == [soon["id"]]
    assert {i["id"] for i in client.get(f"{URL}?due_within_days=14", headers=headers).get_json()["items"]} == {
        soon["id"], later["id"]}
    mine = client.get(f"{URL}?resident_id={world.residents['R5'].id}", headers=headers).get_json()
    assert [i["id"] for i in mine["items"]] == [later["id"]]
    assert dispense(client, world, soon).status_code == 201  # supplied for 4 more weeks
    assert client.get(f"{URL}?due_within_days=7", headers=headers).get_json()["items"] == []


def test_a_prescription_that_ran_out_is_due_and_a_completed_one_is_not(client, world):
    make_stable(world)
    old = issued(client, world, issued_on=days_ago(60).isoformat())  # ran out 32 days ago
    due = client.get(f"{URL}?due_within_days=0", headers=world.headers("doctor")).get_json()
    assert [i["id"] for i in due["items"]] == [old["id"]]
    issued(client, world, weeks=8, **STABLE)
    due = client.get(f"{URL}?due_within_days=0", headers=world.headers("doctor")).get_json()
    assert due["items"] == []
    completed = client.get(f"{URL}?status=completed", headers=world.headers("doctor")).get_json()
    assert [i["id"] for i in completed["items"]] == [old["id"]]


def test_the_resident_sees_the_prescription_with_its_next_refill(client, world):
    script = issued(client, world, issued_on=days_ago(7).isoformat(),
                    continued_from={"institution_name": "漳州市医院", "prescription_no": "MZ20261101"})
    dispense(client, world, script, on=days_ago(7))
    [shown] = client.get("/api/mp/v1/prescriptions", headers=world.headers("resident")).get_json()["items"]
    assert shown["id"] == script["id"] and shown["weeks"] == 4
    assert shown["next_refill_on"] == (days_ago(7) + timedelta(weeks=4)).isoformat()
    assert shown["items"][0]["drug_name"] == "苯磺酸氨氯地平片" and shown["source_institution_name"] == "漳州市医院"
    assert len(shown["dispensings"]) == 1
    assert "stability_assessment" not in shown and "prescriber_staff_id" not in shown
    assert client.get("/api/mp/v1/prescriptions", headers=world.headers("resident_2")).get_json()["items"] == []


# ---------------------------------------------------------------- scope


@pytest.mark.parametrize("key", ["R2", "R3", "R4"])
def test_a_doctor_cannot_prescribe_for_another_team_s_patient(client, world, key):
    before = db_fingerprint()
    assert_error_shape(issue(client, world, key=key), 404)
    assert db_fingerprint() == before


@pytest.mark.parametrize("team", ["T2", "T3"], ids=["other-team", "other-institution"])
def test_a_member_of_another_team_or_institution_sees_nothing(app, client, world, team):
    script = issued(client, world)
    headers = staff_headers(app, world, team=team)
    before = db_fingerprint()
    assert_error_shape(client.get(f"{URL}/{script['id']}", headers=headers), 404)
    payload = {"dispensed_on": local_today().isoformat(),
               "items": [{"prescription_item_id": script["items"][0]["id"], "quantity": "1"}]}
    assert_error_shape(client.post(f"{URL}/{script['id']}/dispensings", json=payload, headers=headers), 404)
    assert_error_shape(client.post(URL, json=body(world), headers=headers), 404)
    page = client.get(URL, headers=headers).get_json()
    assert page["items"] == [] and page["total"] == 0
    assert client.get(f"{URL}?due_within_days=60", headers=headers).get_json()["items"] == []
    assert db_fingerprint() == before


@pytest.mark.parametrize("who, status", [("resident", 403), ("resident_2", 403), ("bureau", 403),
                                         ("assessor", 403), ("manager", 403), ("bureau_b", 403),
                                         ("anonymous", 401)])
def test_other_roles_are_refused_every_prescription_endpoint(client, world, who, status):
    script = issued(client, world)
    headers = world.headers(who)
    before = db_fingerprint()
    payload = {"dispensed_on": local_today().isoformat(),
               "items": [{"prescription_item_id": script["items"][0]["id"], "quantity": "1"}]}
    for method, url, json_ in (("GET", URL, None), ("POST", URL, body(world)), ("GET", f"{URL}/{script['id']}", None),
                               ("POST", f"{URL}/{script['id']}/dispensings", payload)):
        assert_error_shape(client.open(url, method=method, json=json_, headers=headers), status)
    assert db_fingerprint() == before


def test_an_unknown_prescription_is_not_found(client, world):
    assert_error_shape(client.get(f"{URL}/999999", headers=world.headers("doctor")), 404)


# ---------------------------------------------------------------- bad input


def _bad_issue_bodies(world):
    good = body(world)
    item = good["items"][0]
    yield "empty object", {}
    yield "array", [good]
    yield "null", None
    yield "unknown field", {**good, "surprise": 1}
    yield "unknown item field", {**good, "items": [{**item, "price_fen": 100}]}
    yield "unknown continued field", {**good, "continued_from": {"institution_name": "漳州市医院",
                                                                 "prescription_no": "MZ1", "date": "2026-01-01"}}
    for field in ("contract_id", "issued_on", "weeks", "items"):
        yield f"missing {field}", {k: v for k, v in good.items() if k != field}
    for field in ("drug_code", "drug_name", "drug_class", "dosage", "frequency", "quantity", "unit"):
        yield f"item missing {field}", {**good, "items": [{k: v for k, v in item.items() if k != field}]}
        if field != "quantity":
            yield f"item blank {field}", {**good, "items": [{**item, field: "  "}]}
            yield f"item long {field}", {**good, "items": [{**item, field: "x" * 5000}]}
    yield "no items", {**good, "items": []}
    yield "items not a list", {**good, "items": item}
    yield "same drug twice", {**good, "items": [item, item]}
    for weeks in (0, -4, "5", 4.5, True, None):
        yield f"weeks {weeks!r}", {**good, "weeks": weeks}
    for quantity in ("0", -1, "abc", "1.234", "NaN", "1e400", True, None):
        yield f"quantity {quantity!r}", {**good, "items": [{**item, "quantity": quantity}]}
    for value in ("yes", "true", "1", None):
        yield f"stable_patient {value!r}", {**good, "stable_patient": value}
        yield f"patient_confirmed {value!r}", {**good, "patient_confirmed": value}
    yield "contract_id as string", {**good, "contract_id": str(good["contract_id"])}
    yield "bad date", {**good, "issued_on": "2026-13-01"}
    yield "date and time", {**good, "issued_on": "23/11/2026"}
    yield "long assessment", {**good, "stability_assessment": "稳" * 2001}
    yield "continued_from not an object", {**good, "continued_from": "漳州市医院"}


def test_bad_prescription_bodies_get_422_and_write_nothing(client, world):
    headers = world.headers("doctor")
    before = db_fingerprint()
    problems = []
    for label, payload in _bad_issue_bodies(world):
        response = client.post(URL, json=payload, headers=headers)
        body_ = response.get_json(silent=True) or {}
        if response.status_code != 422 or set(body_) != {"code", "message", "details"} or not body_["details"]:
            problems.append(f"{label}: {response.status_code} {response.get_data(as_text=True)[:200]}")
    for label, raw, content_type in (("malformed json", "{not json", "application/json"),
                                     ("form encoded", "a=b", "application/x-www-form-urlencoded")):
        response = client.post(URL, data=raw, content_type=content_type, headers=headers)
        if response.status_code not in (400, 415, 422) or set(response.get_json() or {}) != {"code", "message",
                                                                                             "details"}:
            problems.append(f"{label}: {response.status_code}")
    assert not problems, "\n".join(problems)
    assert db_fingerprint() == before


def test_bad_dispensing_bodies_get_422_and_write_nothing(client, world):
    script = issued(client, world)
    item_id = script["items"][0]["id"]
    url, headers = f"{URL}/{script['id']}/dispensings", world.headers("doctor")
    good = {"dispensed_on": local_today().isoformat(), "items": [{"prescription_item_id": item_id, "quantity": "28"}]}
    bad = [{}, None, [good], {**good, "surprise": 1}, {k: v for k, v in good.items() if k != "dispensed_on"},
           {k: v for k, v in good.items() if k != "items"}, {**good, "items": []},
           {**good, "items": [{"prescription_item_id": item_id}]},
           {**good, "items": [{"quantity": "1"}]},
           {**good, "items": [{"prescription_item_id": item_id, "quantity": "1", "batch": "A1"}]},
           {**good, "items": [{"prescription_item_id": item_id, "quantity": "1"}] * 2},
           {**good, "items": [{"prescription_item_id": str(item_id), "quantity": "1"}]},
           {**good, "items": [{"prescription_item_id": item_id, "quantity": "-1"}]},
           {**good, "items": [{"prescription_item_id": item_id, "quantity": "0"}]},
           {**good, "dispensed_on": "yesterday"}]
    before = db_fingerprint()
    for payload in bad:
        response = client.post(url, json=payload, headers=headers)
        assert assert_error_shape(response, 422)["details"], payload
    assert db_fingerprint() == before


@pytest.mark.parametrize("query", ["due_within_days=-1", "due_within_days=abc", "due_within_days=367",
                                   "status=lost", "page=0", "per_page=101", "surprise=1"])
def test_bad_list_queries_get_422(client, world, query):
    assert_error_shape(client.get(f"{URL}?{query}", headers=world.headers("doctor")), 422)


def test_the_api_document_lists_each_endpoint_s_error_codes(client):
    paths = client.get("/api/openapi.json").get_json()["paths"]
    issue_codes = set(paths["/api/doctor/v1/prescriptions"]["post"]["x-error-codes"])
    assert {"PRESCRIPTION_TOO_LONG", "PRESCRIPTION_NEEDS_STABLE_PATIENT", "STABILITY_ASSESSMENT_REQUIRED",
            "PATIENT_CONFIRMATION_REQUIRED", "DRUG_CLASS_EXCLUDED", "DUPLICATE_BENEFIT"} <= issue_codes
    dispensing = paths["/api/doctor/v1/prescriptions/{prescription_id}/dispensings"]["post"]
    assert {"PRESCRIPTION_NOT_ACTIVE", "DISPENSING_BEFORE_ISSUE"} <= set(dispensing["x-error-codes"])
    assert dispensing["x-roles"] == ["team_member"]
