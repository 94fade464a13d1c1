"""WeChat sign-in and binding real identities, checked with the insurance platform (sandbox, real HTTP)."""
from __future__ import annotations

import itertools
from datetime import date

import pytest
import requests

from server.common import idcard
from server.extensions import db
from server.residents.models import BenefitEnrolment, ChronicCondition, FamilyLink, Resident
from tests.helpers import assert_error_shape

_numbers = itertools.count(1)


def new_id_number() -> str:
    return idcard.make("350624", date(1962, 4, 9), next(_numbers))


@pytest.fixture
def sandbox_admin(sandbox):
    def call(path: str, body: dict) -> dict:
        response = requests.post(f"{sandbox.base_url}{path}", json=body, timeout=5)
        response.raise_for_status()
        return response.json()
    return call


@pytest.fixture
def signed_in(client, world, sandbox_admin):
    """A new WeChat user of region A: returns auth headers."""
    code = sandbox_admin("/sandbox/wechat/login", {})["code"]
    token = client.post("/api/mp/v1/auth/wechat-login", json={"code": code}).get_json()["token"]
    return {"Authorization": f"Bearer {token}"}


def _bind(client, headers, name="赵建华", number=None, **extra):
    return client.post("/api/mp/v1/me/identity", headers=headers,
                       json={"name": name, "id_number": number or new_id_number(), "consent": True, **extra})


def test_sign_in_with_a_wx_login_code(client, world, sandbox_admin):
    code = sandbox_admin("/sandbox/wechat/login", {})["code"]
    first = client.post("/api/mp/v1/auth/wechat-login", json={"code": code})
    assert first.status_code == 200 and first.get_json()["bound"] is False
    again = client.post("/api/mp/v1/auth/wechat-login", json={"code": code})
    assert assert_error_shape(again, 422)["code"] == "WECHAT_CODE_USED"
    unknown = client.post("/api/mp/v1/auth/wechat-login", json={"code": "not-a-real-code"})
    assert assert_error_shape(unknown, 422)["code"] == "WECHAT_CODE_INVALID"


def test_binding_oneself_records_insurance_facts_and_the_phone(client, signed_in, sandbox_admin):
    phone_code = sandbox_admin("/sandbox/wechat/phone-code", {"phone": "13905961234"})["code"]
    response = _bind(client, signed_in, phone_code=phone_code)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["relation"] == "self" and body["resident"]["phone"] == "139****1234"
    resident = db.session.get(Resident, body["resident"]["id"])
    assert (resident.insured_admdvs, resident.insurance_status, resident.insurance_type) == ("350600", "active", "390")
    assert resident.insurance_verified_at is not None
    me = client.get("/api/mp/v1/me", headers=signed_in).get_json()
    assert [m["relation"] for m in me["family"]] == ["self"]
    assert assert_error_shape(_bind(client, signed_in), 409)["code"] == "IDENTITY_ALREADY_BOUND"


def test_one_identity_binds_to_one_account(client, world, signed_in, sandbox_admin):
    number = new_id_number()
    assert _bind(client, signed_in, number=number).status_code == 201
    code = sandbox_admin("/sandbox/wechat/login", {})["code"]
    token = client.post("/api/mp/v1/auth/wechat-login", json={"code": code}).get_json()["token"]
    other = _bind(client, {"Authorization": f"Bearer {token}"}, number=number)
    assert assert_error_shape(other, 409)["code"] == "IDENTITY_BOUND_ELSEWHERE"


@pytest.mark.parametrize("person, code", [
    ({"status": "2"}, "NOT_INSURED_IN_REGION"),           # insurance suspended
    ({"admdvs": "350200"}, "NOT_INSURED_IN_REGION"),       # insured in Xiamen, not here
    ({"absent": True}, "INSURED_PERSON_NOT_FOUND"),        # not insured anywhere
    ({"name": "钱多多"}, "INSURED_NAME_MISMATCH"),          # the platform knows another name
])
def test_only_people_insured_and_active_in_the_region_bind(client, signed_in, sandbox_admin, person, code):
    number = new_id_number()
    sandbox_admin("/sandbox/insurance/persons", {"id_number": number, **person})
    response = _bind(client, signed_in, number=number)
    assert assert_error_shape(response, 422)["code"] == code
    assert db.session.query(Resident).count() == 5  # only the world's


def test_the_platform_is_not_asked_without_consent(client, signed_in):
    response = _bind(client, signed_in, consent=False)
    assert assert_error_shape(response, 422)["code"] == "CONSENT_REQUIRED"


def test_a_wrong_check_digit_never_reaches_the_platform(client, signed_in):
    number = new_id_number()
    wrong = number[:17] + ("0" if number[17] != "0" else "1")
    assert assert_error_shape(_bind(client, signed_in, number=wrong), 422)["code"] == "VALIDATION_ERROR"


def test_family_members_after_oneself_start_as_pending_invitations(client, signed_in):
    child = {"name": "赵小宝", "id_number": new_id_number(), "relation": "child", "consent": True}
    early = client.post("/api/mp/v1/me/family", json=child, headers=signed_in)
    assert assert_error_shape(early, 422)["code"] == "IDENTITY_NOT_BOUND"
    _bind(client, signed_in)
    added = client.post("/api/mp/v1/me/family", json=child, headers=signed_in)
    assert added.status_code == 201 and added.get_json()["relation"] == "child"
    assert added.get_json()["status"] == "pending" and added.get_json()["resident"] is None
    again = client.post("/api/mp/v1/me/family", json=child, headers=signed_in)
    assert assert_error_shape(again, 409)["code"] == "FAMILY_MEMBER_EXISTS"
    as_self = client.post("/api/mp/v1/me/family", json={**child, "id_number": new_id_number(), "relation": "self"},
                          headers=signed_in)
    assert assert_error_shape(as_self, 422)["code"] == "VALIDATION_ERROR"
    # The caller's own `consent: true` lets the platform be asked; it is not the person's consent.
    link = db.session.get(FamilyLink, added.get_json()["id"])
    assert link.consent_at is None and link.consent_version is None


def test_a_chronic_special_registration_is_recorded_and_blocks_double_benefit(client, signed_in, sandbox_admin):
    number = new_id_number()
    sandbox_admin("/sandbox/insurance/persons", {"id_number": number, "chronic": [
        {"disease_code": "M03900", "disease_name": "高血压病", "begin": "2023-03-01"}]})
    resident_id = _bind(client, signed_in, number=number).get_json()["resident"]["id"]
    assert db.session.query(BenefitEnrolment).filter_by(resident_id=resident_id).one().disease_code == "hypertension"
    assert db.session.query(ChronicCondition).filter_by(resident_id=resident_id).one().source == "insurance_5301"
    [offer] = client.get(f"/api/mp/v1/residents/{resident_id}/offers", headers=signed_in).get_json()
    assert not offer["eligible"] and [r["code"] for r in offer["reasons"]] == ["DUPLICATE_BENEFIT"]
