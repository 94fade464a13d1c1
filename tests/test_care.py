"""What the resident receives: usage of the package, confirming or disputing services,
long-term prescriptions with the next refill, and one satisfaction answer per invitation."""
from __future__ import annotations

from datetime import timedelta

import pytest

from server.common.timeutil import local_today, utcnow
from server.extensions import db
from server.packages.models import PackageItem
from server.prescriptions.models import Dispensing, Prescription, PrescriptionItem, PrescriptionStatus
from server.servicerecords.models import Reading, ServiceRecord, ServiceType
from server.supervision.models import AlertKind, SupervisionAlert
from server.surveys.models import Survey, SurveyInvitation
from tests.factories import add
from tests.helpers import assert_error_shape


def _record(world, key="R1", minutes=0) -> ServiceRecord:
    contract = world.contracts[key]
    item = db.session.query(PackageItem).filter_by(package_version_id=contract.package_version_id).first()
    visit = world.records[key].served_at  # in a year's first days, the world's visit is later than 3 days ago
    served = max(utcnow() - timedelta(days=3), visit + (utcnow() - visit) / 2) - timedelta(minutes=minutes)
    record = add(ServiceRecord(contract_id=contract.id, package_item_id=item.id, resident_id=contract.resident_id,
                               region_id=contract.region_id, institution_id=contract.institution_id,
                               team_id=contract.team_id, staff_id=contract.doctor_staff_id,
                               service_type=ServiceType.CLINIC, served_at=served, served_on=served.date()))
    add(Reading(service_record_id=record.id, resident_id=contract.resident_id, measured_at=served,
                systolic_mmhg=132, diastolic_mmhg=84))
    db.session.commit()
    return record


def test_the_contract_view_counts_what_is_used_and_what_remains(client, world):
    _record(world)
    _record(world, minutes=5)
    view = client.get(f"/api/mp/v1/contracts/{world.contracts['R1'].id}/view",
                      headers=world.headers("resident")).get_json()
    [item] = view["items"]
    assert (item["yearly_quantity"], item["used"], item["remaining"]) == (4, 3, 1)  # the world's visit too
    assert view["contract"]["status"] == "active" and view["payments"] == []


def test_confirming_a_service(client, world):
    record = _record(world)
    response = client.post(f"/api/mp/v1/service-records/{record.id}/confirm", headers=world.headers("resident"))
    assert response.status_code == 200 and response.get_json()["confirmation"] == "confirmed"
    again = client.post(f"/api/mp/v1/service-records/{record.id}/confirm", headers=world.headers("resident"))
    assert assert_error_shape(again, 422)["code"] == "SERVICE_ALREADY_ANSWERED"


def test_a_disputed_service_goes_to_supervision_and_stops_counting(client, world):
    record = _record(world)
    response = client.post(f"/api/mp/v1/service-records/{record.id}/dispute", json={"reason": "当天没有见到医生"},
                           headers=world.headers("resident"))
    assert response.get_json()["confirmation"] == "disputed"
    alert = db.session.query(SupervisionAlert).filter_by(kind=AlertKind.DISPUTED_SERVICE).one()
    assert alert.subject_id == str(record.id) and alert.details["reason"] == "当天没有见到医生"
    view = client.get(f"/api/mp/v1/contracts/{world.contracts['R1'].id}/view",
                      headers=world.headers("resident")).get_json()
    assert view["items"][0]["used"] == 1  # only the world's undisputed visit


def test_nobody_confirms_someone_else_s_service(client, world):
    record = _record(world, key="R2")
    response = client.post(f"/api/mp/v1/service-records/{record.id}/confirm", headers=world.headers("resident"))
    assert_error_shape(response, 404)


@pytest.mark.calendar_edges
def test_service_history_lists_my_family_s_services_with_readings(client, world):
    _record(world, key="R1")
    _record(world, key="R5")
    _record(world, key="R2")
    page = client.get("/api/mp/v1/service-records", headers=world.headers("resident")).get_json()
    assert {item["resident_id"] for item in page["items"]} == {world.residents["R1"].id, world.residents["R5"].id}
    assert page["total"] == 4 and page["items"][0]["reading"]["systolic_mmhg"] == 132


def test_prescriptions_show_drugs_dispensings_and_the_next_refill(client, world):
    contract = world.contracts["R1"]
    issued = local_today() - timedelta(days=10)
    script = add(Prescription(contract_id=contract.id, resident_id=contract.resident_id,
                              region_id=contract.region_id, institution_id=contract.institution_id,
                              team_id=contract.team_id, prescriber_staff_id=contract.doctor_staff_id,
                              issued_on=issued, weeks=4, status=PrescriptionStatus.ACTIVE,
                              source_institution_name="漳州市医院", source_prescription_no="MZ20261101"))
    item = add(PrescriptionItem(prescription_id=script.id, drug_code="XC08CAA", drug_name="氨氯地平片",
                                quantity=28, unit="片"))
    add(Dispensing(prescription_id=script.id, prescription_item_id=item.id, institution_id=contract.institution_id,
                   dispensed_on=issued, quantity=28))
    db.session.commit()
    [shown] = client.get("/api/mp/v1/prescriptions", headers=world.headers("resident")).get_json()["items"]
    assert shown["items"][0]["drug_name"] == "氨氯地平片" and shown["weeks"] == 4
    assert shown["next_refill_on"] == (issued + timedelta(weeks=4)).isoformat()
    assert shown["source_institution_name"] == "漳州市医院"


@pytest.fixture
def invitation(world):
    record = _record(world)
    survey = add(Survey(region_id=world.regions["A"].id, name="满意度调查"))
    now = utcnow()
    invitation = add(SurveyInvitation(survey_id=survey.id, contract_id=world.contracts["R1"].id,
                                      service_record_id=record.id, invited_at=now, expires_at=now + timedelta(days=7)))
    db.session.commit()
    return invitation.id


ANSWER = {"score_ability": 5, "score_attitude": 5, "score_timeliness": 4, "score_overall": 5, "comment": "很耐心"}


def test_one_satisfaction_answer_per_invitation(client, world, invitation):
    open_ = client.get("/api/mp/v1/survey-invitations", headers=world.headers("resident")).get_json()
    assert invitation in [i["id"] for i in open_["items"]]
    url = f"/api/mp/v1/survey-invitations/{invitation}/response"
    first = client.post(url, json=ANSWER, headers=world.headers("resident"))
    assert first.status_code == 201, first.get_json()
    again = client.post(url, json=ANSWER, headers=world.headers("resident"))
    assert assert_error_shape(again, (409, 422))["code"] == "ALREADY_ANSWERED"
    still_open = client.get("/api/mp/v1/survey-invitations", headers=world.headers("resident")).get_json()["items"]
    assert invitation not in [i["id"] for i in still_open]


def test_scores_run_from_one_to_five(client, world, invitation):
    response = client.post(f"/api/mp/v1/survey-invitations/{invitation}/response",
                           json={**ANSWER, "score_overall": 6}, headers=world.headers("resident"))
    assert "score_overall" in assert_error_shape(response, 422)["details"]["fields"]


def test_only_an_active_contract_s_resident_rates(client, world, invitation):
    from server.contracts.models import Contract
    from server.contracts.states import ContractStatus
    db.session.get(Contract, world.contracts["R1"].id).status = ContractStatus.TERMINATED
    db.session.commit()
    response = client.post(f"/api/mp/v1/survey-invitations/{invitation}/response", json=ANSWER,
                           headers=world.headers("resident"))
    assert assert_error_shape(response, 422)["code"] == "CONTRACT_NOT_ACTIVE"


def test_an_expired_invitation_takes_no_answer(client, world, invitation):
    db.session.get(SurveyInvitation, invitation).expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    response = client.post(f"/api/mp/v1/survey-invitations/{invitation}/response", json=ANSWER,
                           headers=world.headers("resident"))
    assert assert_error_shape(response, 422)["code"] == "INVITATION_EXPIRED"


def test_only_a_served_resident_rates(client, world):
    record = world.records["R1"]
    client.post(f"/api/mp/v1/service-records/{record.id}/dispute", json={"reason": "没有见到医生"},
                headers=world.headers("resident"))
    response = client.post(f"/api/mp/v1/survey-invitations/{world.invitations['R1'].id}/response", json=ANSWER,
                           headers=world.headers("resident"))
    assert assert_error_shape(response, 422)["code"] == "NOT_SERVED"
