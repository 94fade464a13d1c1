"""The doctor's workspace: logging services by the rules, control status, follow-up plan, phone follow-ups."""
from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest

from server.common.timeutil import SHANGHAI, local_today, utcnow
from server.contracts.models import Contract
from server.contracts.states import ContractStatus
from server.extensions import db
from server.packages.models import PackageItem
from server.regions.models import LocalRules
from server.residents.models import ChronicCondition
from server.surveys.models import SurveyResponse
from tests.factories import PASSWORD, add
from tests.helpers import assert_error_shape

LOG = "/api/doctor/v1/service-records"


def _item(world, key="A"):
    return db.session.query(PackageItem).filter_by(package_version_id=world.packages[key].id).first()


def _log(client, world, *, key="R1", days_ago=1, minutes=0, reading=None, who="doctor", item=None, at=None,
         **extra):
    served = at or utcnow() - timedelta(days=days_ago, minutes=minutes)
    body = {"contract_id": world.contracts[key].id, "package_item_id": (item or _item(world)).id,
            "service_type": "clinic", "served_at": served.isoformat(), **extra}
    if reading is not None:
        body["reading"] = reading
    return client.post(LOG, json=body, headers=world.headers(who))


def _code(response, status=422):
    return assert_error_shape(response, status)["code"]


def test_a_team_member_logs_a_service_with_readings_for_the_resident_to_confirm(client, world):
    response = _log(client, world, reading={"systolic_mmhg": 132, "diastolic_mmhg": 84, "heart_rate_bpm": 72})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["confirmation"] == "pending" and body["reading"]["systolic_mmhg"] == 132
    pending = client.get("/api/mp/v1/service-records", headers=world.headers("resident")).get_json()["items"]
    assert body["id"] in [r["id"] for r in pending]


@pytest.mark.parametrize("reading, field", [
    ({"systolic_mmhg": 80, "diastolic_mmhg": 90}, "systolic_mmhg"),     # systolic not above diastolic
    ({"systolic_mmhg": 300, "diastolic_mmhg": 90}, "systolic_mmhg"),
    ({"systolic_mmhg": 130}, "diastolic_mmhg"),                          # half a blood pressure
    ({"fasting_glucose_mmol": "120"}, "fasting_glucose_mmol"),           # mg/dL typed as mmol/L
    ({"hba1c_percent": "35"}, "hba1c_percent"),
    ({"weight_kg": "0.5"}, "weight_kg"),
    ({"heart_rate_bpm": 400}, "heart_rate_bpm"),
])
def test_implausible_readings_are_refused_naming_the_field(client, world, reading, field):
    body = assert_error_shape(_log(client, world, reading=reading), 422)
    assert body["code"] == "READING_IMPLAUSIBLE" and field in body["details"]["fields"]


def test_no_service_in_the_future(client, world):
    assert _code(_log(client, world, days_ago=-1)) == "SERVICE_IN_FUTURE"


@pytest.mark.calendar_edges
def test_no_service_before_the_contract(client, world):
    start = world.contracts["R1"].period_start
    days = (local_today() - start).days + 2
    assert _code(_log(client, world, days_ago=days)) == "SERVICE_BEFORE_CONTRACT"


def test_no_service_after_the_contract_ended(client, world):
    contract = db.session.get(Contract, world.contracts["R1"].id)
    contract.status, contract.ended_at = ContractStatus.TERMINATED, utcnow() - timedelta(days=3)
    db.session.commit()
    assert _code(_log(client, world, days_ago=1)) == "CONTRACT_NOT_ACTIVE_ON_DATE"
    assert _log(client, world, days_ago=5).status_code == 201  # before it ended still counts


@pytest.mark.calendar_edges
def test_a_service_before_the_contract_became_active_is_refused_to_the_minute(client, world):
    contract = db.session.get(Contract, world.contracts["R1"].id)
    day = local_today() - timedelta(days=2)
    contract.period_start = min(contract.period_start, day)  # so the test holds in the first days of January
    contract.activated_at = datetime.combine(day, time(18, 37), SHANGHAI)  # the personal share arrived at 18:37
    db.session.commit()

    body = assert_error_shape(_log(client, world, at=datetime.combine(day, time(9, 0), SHANGHAI)), 422)
    assert body["code"] == "SERVICE_BEFORE_ACTIVATION"
    assert f"{day.year}年{day.month}月{day.day}日 18:37生效" in body["message"]
    assert _log(client, world, at=datetime.combine(day, time(18, 38), SHANGHAI)).status_code == 201


def test_a_contract_cancelled_before_it_was_paid_never_had_a_service(client, world):
    contract = db.session.get(Contract, world.contracts["R1"].id)
    contract.status, contract.activated_at = ContractStatus.CANCELLED, None
    contract.ended_at = utcnow() - timedelta(days=1)
    db.session.commit()
    assert _code(_log(client, world, days_ago=3)) == "CONTRACT_NOT_ACTIVE_ON_DATE"


def test_only_items_of_the_contract_s_package(client, world):
    assert _code(_log(client, world, item=_item(world, "B"))) == "ITEM_NOT_IN_PACKAGE"


def test_the_yearly_quantity_holds_unless_the_rules_allow_more(client, world):
    for n in range(3):  # the world's visit is the first of four
        assert _log(client, world, days_ago=2 + n).status_code == 201
    assert _code(_log(client, world, days_ago=6)) == "YEARLY_QUANTITY_EXCEEDED"
    db.session.query(LocalRules).filter_by(region_id=world.regions["A"].id).update({"services_beyond_quota": True})
    db.session.commit()
    assert _log(client, world, days_ago=6).status_code == 201


def test_the_same_item_twice_at_the_same_moment_is_one_service(client, world):
    served = (utcnow() - timedelta(days=1)).replace(microsecond=0)
    body = {"contract_id": world.contracts["R1"].id, "package_item_id": _item(world).id,
            "service_type": "home_visit", "served_at": served.isoformat()}
    assert client.post(LOG, json=body, headers=world.headers("doctor")).status_code == 201
    assert _code(client.post(LOG, json=body, headers=world.headers("doctor")), 409) == "DUPLICATE_SERVICE"


def test_another_team_s_patient_is_not_found_and_other_roles_are_refused(client, world):
    assert_error_shape(_log(client, world, key="R2"), 404)
    assert_error_shape(_log(client, world, key="R3"), 404)
    assert_error_shape(_log(client, world, who="manager"), 403)
    assert_error_shape(_log(client, world, who="resident"), 403)


def _status(client, world, key="R1"):
    rows = client.get("/api/doctor/v1/patients", headers=world.headers("doctor")).get_json()["items"]
    return next(r for r in rows if r["id"] == world.contracts[key].id)


@pytest.mark.parametrize("systolic, diastolic, controlled", [(139, 89, True), (140, 89, False), (139, 90, False)])
def test_blood_pressure_is_controlled_below_140_over_90_both_numbers(client, world, systolic, diastolic, controlled):
    assert _log(client, world, reading={"systolic_mmhg": systolic, "diastolic_mmhg": diastolic}).status_code == 201
    assert _status(client, world)["bp_controlled"] is controlled


def test_a_patient_without_a_follow_up_is_not_controlled(client, world):
    row = _status(client, world)
    assert row["bp_controlled"] is False and row["glucose_controlled"] is None  # no diabetes


@pytest.mark.parametrize("older, latest, controlled", [((150, 95), (130, 80), True), ((130, 80), (150, 95), False)])
def test_the_latest_of_several_readings_decides(client, world, older, latest, controlled):
    _log(client, world, days_ago=3, reading={"systolic_mmhg": older[0], "diastolic_mmhg": older[1]})
    _log(client, world, days_ago=1, reading={"systolic_mmhg": latest[0], "diastolic_mmhg": latest[1]})
    assert _status(client, world)["bp_controlled"] is controlled


@pytest.mark.parametrize("glucose, controlled", [("6.9", True), ("7.0", False)])
def test_glucose_is_controlled_below_7_mmol(client, world, glucose, controlled):
    add(ChronicCondition(resident_id=world.residents["R1"].id, disease_code="diabetes"))
    db.session.commit()
    _log(client, world, reading={"fasting_glucose_mmol": glucose})
    assert _status(client, world)["glucose_controlled"] is controlled


@pytest.mark.calendar_edges
def test_patients_filter_by_control_and_overdue_follow_up(client, world):
    _log(client, world, key="R1", reading={"systolic_mmhg": 128, "diastolic_mmhg": 78})
    headers = world.headers("doctor")

    def ids(query):
        return {r["id"] for r in client.get(f"/api/doctor/v1/patients?{query}", headers=headers).get_json()["items"]}

    assert ids("uncontrolled=true") == {world.contracts["R5"].id}
    assert ids("uncontrolled=false") == {world.contracts["R1"].id}
    assert ids("disease=hypertension") == {world.contracts["R1"].id, world.contracts["R5"].id}
    assert ids("items_owed=true") == {world.contracts["R1"].id, world.contracts["R5"].id}
    row = _status(client, world)
    assert row["follow_ups"] == 2 and not row["follow_up_overdue"]


def test_a_phone_follow_up_records_satisfaction_as_the_phone_channel(client, world):
    called = (utcnow() - timedelta(hours=1)).isoformat()
    body = {"contract_id": world.contracts["R1"].id, "called_at": called, "outcome": "reached", "notes": "血压平稳",
            "satisfaction": {"score_ability": 5, "score_attitude": 4, "score_timeliness": 5, "score_overall": 5}}
    response = client.post("/api/doctor/v1/follow-up-calls", json=body, headers=world.headers("doctor"))
    assert response.status_code == 201, response.get_json()
    answer = db.session.query(SurveyResponse).one()
    assert answer.channel == "phone" and answer.entered_by_staff_id == world.doctors["T1"].id
    own = client.get("/api/mp/v1/survey-invitations", headers=world.headers("resident")).get_json()["items"]
    assert world.invitations["R1"].id in [i["id"] for i in own]  # the resident's own invitation is still theirs
    unreached = client.post("/api/doctor/v1/follow-up-calls", json={**body, "outcome": "no_answer"},
                            headers=world.headers("doctor"))
    assert _code(unreached) == "CALL_NOT_REACHED"


def test_health_record_status_is_kept_per_resident(client, world):
    url = f"/api/doctor/v1/patients/{world.residents['R1'].id}/health-record"
    today = local_today()
    response = client.put(url, json={"updated_on": today.isoformat()}, headers=world.headers("doctor"))
    assert response.status_code == 200 and response.get_json()["health_record_updated_on"] == today.isoformat()
    future = client.put(url, json={"updated_on": (today + timedelta(days=1)).isoformat()},
                        headers=world.headers("doctor"))
    assert _code(future) == "DATE_IN_FUTURE"
    assert_error_shape(client.put(f"/api/doctor/v1/patients/{world.residents['R2'].id}/health-record",
                                  json={"updated_on": today.isoformat()}, headers=world.headers("doctor")), 404)


def test_team_members_sign_in_to_the_workspace_and_others_do_not(client, world):
    ok = client.post("/api/doctor/v1/auth/login",
                     json={"username": world.accounts["doctor"].username, "password": PASSWORD})
    assert ok.status_code == 200 and ok.get_json()["role"] == "team_member"
    manager = client.post("/api/doctor/v1/auth/login",
                          json={"username": world.accounts["manager"].username, "password": PASSWORD})
    assert _code(manager, 401) == "LOGIN_FAILED"


def test_patients_whose_prescription_runs_out_soon(client, world):
    from server.prescriptions.models import Prescription, PrescriptionStatus
    contract = world.contracts["R1"]
    add(Prescription(contract_id=contract.id, resident_id=contract.resident_id, region_id=contract.region_id,
                     institution_id=contract.institution_id, team_id=contract.team_id,
                     prescriber_staff_id=contract.doctor_staff_id, issued_on=local_today() - timedelta(days=25),
                     weeks=4, status=PrescriptionStatus.ACTIVE))
    db.session.commit()
    headers = world.headers("doctor")
    due = client.get("/api/doctor/v1/patients?prescription_due_within_days=7", headers=headers).get_json()["items"]
    assert [r["id"] for r in due] == [contract.id]  # runs out in 3 days
    later = client.get("/api/doctor/v1/patients?prescription_due_within_days=1", headers=headers).get_json()["items"]
    assert later == []


def test_a_doctor_binds_wechat_once_then_signs_in_with_it(client, world, sandbox):
    import requests

    def code(openid=None):
        body = {"openid": openid} if openid else {}
        return requests.post(f"{sandbox.base_url}/sandbox/wechat/login", json=body, timeout=5).json()

    unbound = client.post("/api/doctor/v1/auth/wechat-login", json={"code": code()["code"]})
    assert _code(unbound, 401) == "WECHAT_NOT_BOUND"
    first = code()
    bound = client.put("/api/doctor/v1/me/wechat", json={"code": first["code"]}, headers=world.headers("doctor"))
    assert bound.status_code == 204
    signed = client.post("/api/doctor/v1/auth/wechat-login", json={"code": code(first["openid"])["code"]})
    assert signed.status_code == 200 and signed.get_json()["role"] == "team_member"
    assert client.get("/api/doctor/v1/patients", headers={
        "Authorization": f"Bearer {signed.get_json()['token']}"}).status_code == 200


def test_a_call_cannot_be_recorded_before_it_happens(client, world):
    called = (utcnow() + timedelta(hours=1)).isoformat()
    response = client.post("/api/doctor/v1/follow-up-calls", json={
        "contract_id": world.contracts["R1"].id, "called_at": called, "outcome": "reached"},
        headers=world.headers("doctor"))
    assert _code(response) == "CALL_IN_FUTURE"


def test_a_health_record_is_not_updated_before_it_was_created(client, world):
    url = f"/api/doctor/v1/patients/{world.residents['R1'].id}/health-record"
    today = local_today()
    response = client.put(url, json={"created_on": today.isoformat(),
                                     "updated_on": (today - timedelta(days=3)).isoformat()},
                          headers=world.headers("doctor"))
    assert _code(response) == "HEALTH_RECORD_DATES"
