"""Acting for another person (亲情代办) only with their consent or a team member's in-person check.

Knowing a name and an ID number makes a pending invitation and nothing more; the person
accepts from their own WeChat account, or a team member confirms the relation face to
face (for a child: the guardian). The person sees and ends every proxy on them; the rules
say how many people one account may act for and where childhood ends. Real HTTP to the
sandbox throughout (WeChat sign-in and subscribe messages, the insurance platform).
"""
from __future__ import annotations

import itertools
from datetime import date, timedelta

import pytest
import requests
import sqlalchemy as sa

from server.audit.models import AuditEvent
from server.common import idcard
from server.common.timeutil import local_today, utcnow
from server.extensions import db
from server.regions.models import LocalRules
from server.residents.models import FamilyLink, ProxyConfirmation, ProxyStatus, Resident
from tests.helpers import assert_error_shape

MP = "/api/mp/v1"
CONFIRM = "/api/doctor/v1/proxy-confirmations"
_numbers = itertools.count(1)


def born_years_ago(years: int) -> date:
    """Born on 1 January, so exactly `years` old all this year."""
    return date(local_today().year - years, 1, 1)


def new_id_number(born: date) -> str:
    return idcard.make("350624", born, next(_numbers))


def new_wechat_user(client, sandbox) -> dict:
    """Someone opening the mini-program on their own phone: bearer headers."""
    code = requests.post(f"{sandbox.base_url}/sandbox/wechat/login", json={}, timeout=5).json()["code"]
    token = client.post(f"{MP}/auth/wechat-login", json={"code": code}).get_json()["token"]
    return {"Authorization": f"Bearer {token}"}


def bind_own_identity(client, headers, name: str, id_number: str) -> int:
    response = client.post(f"{MP}/me/identity", headers=headers,
                           json={"name": name, "id_number": id_number, "consent": True})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["resident"]["id"]


def invite(client, headers, name: str, id_number: str, relation: str = "parent"):
    return client.post(f"{MP}/me/family", headers=headers,
                       json={"name": name, "id_number": id_number, "relation": relation, "consent": True})


def invite_resident(client, world, holder: str, key: str, relation: str = "parent") -> dict:
    resident = world.residents[key]
    response = invite(client, world.headers(holder), resident.name, resident.id_number, relation)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def confirm_in_person(client, world, code: str):
    return client.post(CONFIRM, headers=world.headers("doctor"),
                       json={"invitation_code": code, "documents_seen": ["id_card", "household_register"]})


def prescribe(client, world, key: str) -> int:
    response = client.post("/api/doctor/v1/prescriptions", headers=world.headers("doctor"), json={
        "contract_id": world.contracts[key].id, "issued_on": local_today().isoformat(), "weeks": 4,
        "items": [{"drug_code": "XC08CAA", "drug_name": "氨氯地平片", "drug_class": "calcium_channel_blocker",
                   "dosage": "5mg", "frequency": "每日一次", "quantity": "28", "unit": "片"}]})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def what_the_holder_sees(client, world, holder: str, key: str, prescription_id: int) -> dict[str, bool]:
    """Every way into a person's data through the mini-program, each: can the holder get in?"""
    headers = world.headers(holder)
    resident_id, contract_id = world.residents[key].id, world.contracts[key].id

    def reachable(path: str) -> bool:
        status = client.get(f"{MP}{path}", headers=headers).status_code
        assert status in (200, 404), status
        return status == 200

    def listed(path: str, item_id: int) -> bool:
        return item_id in {item["id"] for item in client.get(f"{MP}{path}", headers=headers).get_json()["items"]}

    sign = client.post(f"{MP}/contracts/sign", headers=headers, json={
        "resident_id": resident_id, "team_id": world.teams["T3"].id,
        "package_version_id": world.packages["A"].id, "consent": True})
    return {
        "details": reachable(f"/residents/{resident_id}"),
        "offers": reachable(f"/residents/{resident_id}/offers"),
        "contract": reachable(f"/contracts/{contract_id}"),
        "contract view": reachable(f"/contracts/{contract_id}/view"),
        "contracts": listed("/contracts", contract_id),
        "service records": listed("/service-records", world.records[key].id),
        "prescriptions": listed("/prescriptions", prescription_id),
        "survey invitations": listed("/survey-invitations", world.invitations[key].id),
        "sign": sign.status_code != 404,  # once allowed in, the signing rules answer (a contract exists)
    }


NOTHING = dict.fromkeys(["details", "offers", "contract", "contract view", "contracts", "service records",
                         "prescriptions", "survey invitations", "sign"], False)
EVERYTHING = dict.fromkeys(NOTHING, True)


def audited(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)))


def test_knowing_a_name_and_id_number_gives_nothing_until_the_person_accepts(client, world):
    prescription_id = prescribe(client, world, "R1")
    invitation = invite_resident(client, world, "resident_2", "R1")
    assert invitation["status"] == "pending" and invitation["resident"] is None
    assert invitation["name"] == "王**" and len(invitation["invitation_code"]) == 12
    assert invitation["invitation_expires_at"]
    assert what_the_holder_sees(client, world, "resident_2", "R1", prescription_id) == NOTHING
    family = client.get(f"{MP}/me", headers=world.headers("resident_2")).get_json()["family"]
    assert [(m["status"], m["resident"]) for m in family if m["relation"] == "parent"] == [("pending", None)]

    [on_me] = client.get(f"{MP}/me/proxies-on-me", headers=world.headers("resident")).get_json()
    assert (on_me["status"], on_me["holder_name"], on_me["minor"]) == ("pending", "李**", False)
    accepted = client.post(f"{MP}/me/proxies-on-me/{on_me['id']}/accept", headers=world.headers("resident"))
    assert accepted.status_code == 200 and accepted.get_json()["status"] == "active"

    assert what_the_holder_sees(client, world, "resident_2", "R1", prescription_id) == EVERYTHING
    link = db.session.get(FamilyLink, on_me["id"])
    assert (link.confirmed_via, link.confirmed_by_wechat_account_id) == (
        ProxyConfirmation.ACCEPTED, world.accounts["resident"].id)
    assert link.consent_at is not None and link.invitation_code is None
    assert [e.entity_id for e in audited("resident.proxy_accept")] == [str(link.id)]


def test_knowing_a_name_and_id_number_gives_nothing_until_a_team_member_confirms_in_person(client, world):
    prescription_id = prescribe(client, world, "R5")
    invitation = invite_resident(client, world, "resident_2", "R5")
    assert what_the_holder_sees(client, world, "resident_2", "R5", prescription_id) == NOTHING

    confirmed = client.post(CONFIRM, headers=world.headers("doctor"), json={
        "invitation_code": invitation["invitation_code"].lower(),  # as typed from the phone
        "documents_seen": ["id_card", "household_register", "id_card"]})
    assert confirmed.status_code == 201, confirmed.get_json()
    body = confirmed.get_json()
    assert (body["status"], body["confirmed_via"], body["documents_seen"]) == (
        "active", "in_person", ["id_card", "household_register"])
    assert body["resident"]["id_number"] != world.residents["R5"].id_number  # masked even for staff

    assert what_the_holder_sees(client, world, "resident_2", "R5", prescription_id) == EVERYTHING
    link = db.session.get(FamilyLink, invitation["id"])
    assert link.confirmed_by_user_account_id == world.accounts["doctor"].id and link.confirmed_at is not None
    [event] = audited("resident.proxy_confirm_in_person")
    assert event.actor_account_id == world.accounts["doctor"].id
    assert event.details["documents"] == ["id_card", "household_register"]


def test_a_wrong_used_or_expired_code_names_nobody_and_is_audited(client, world):
    invitation = invite_resident(client, world, "resident_2", "R5")
    wrong = confirm_in_person(client, world, "ABCDEFGHJKMN")
    assert assert_error_shape(wrong, 404)["code"] == "NOT_FOUND"
    assert world.residents["R5"].name not in wrong.get_data(as_text=True)

    db.session.get(FamilyLink, invitation["id"]).invitation_expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert_error_shape(confirm_in_person(client, world, invitation["invitation_code"]), 404)
    assert len(audited("resident.proxy_confirm_refused")) == 2

    renewed = invite_resident(client, world, "resident_2", "R5")  # an expired invitation is replaced
    assert renewed["invitation_code"] != invitation["invitation_code"]
    assert confirm_in_person(client, world, renewed["invitation_code"]).status_code == 201
    assert_error_shape(confirm_in_person(client, world, renewed["invitation_code"]), 404)  # used
    assert_error_shape(client.post(CONFIRM, headers=world.headers("resident"), json={
        "invitation_code": renewed["invitation_code"], "documents_seen": ["id_card"]}), 403)


def test_a_child_is_visible_only_after_a_team_member_confirms_the_guardian(client, world, sandbox):
    number = new_id_number(born_years_ago(8))
    invitation = invite(client, world.headers("resident"), "王小宝", number, "child").get_json()
    assert invitation["status"] == "pending"
    child_path = f"{MP}/residents/{invitation['resident_id']}"
    assert_error_shape(client.get(child_path, headers=world.headers("resident")), 404)

    own_phone = new_wechat_user(client, sandbox)  # even with a WeChat account of their own
    bind_own_identity(client, own_phone, "王小宝", number)
    [on_me] = client.get(f"{MP}/me/proxies-on-me", headers=own_phone).get_json()
    assert on_me["minor"] is True
    refused = client.post(f"{MP}/me/proxies-on-me/{on_me['id']}/accept", headers=own_phone)
    assert assert_error_shape(refused, 422)["code"] == "GUARDIAN_NEEDS_IN_PERSON_CHECK"
    assert_error_shape(client.get(child_path, headers=world.headers("resident")), 404)

    assert confirm_in_person(client, world, invitation["invitation_code"]).status_code == 201
    assert client.get(child_path, headers=world.headers("resident")).status_code == 200
    [event] = audited("resident.proxy_confirm_in_person")
    assert event.details["guardian"] is True


def test_an_adult_added_as_a_child_still_needs_their_own_consent(client, world, sandbox):
    number = new_id_number(born_years_ago(30))
    own_phone = new_wechat_user(client, sandbox)
    bind_own_identity(client, own_phone, "王大宝", number)
    invitation = invite(client, world.headers("resident"), "王大宝", number, "child").get_json()

    refused = confirm_in_person(client, world, invitation["invitation_code"])
    assert assert_error_shape(refused, 422)["code"] == "PERSON_MUST_ACCEPT"
    [on_me] = client.get(f"{MP}/me/proxies-on-me", headers=own_phone).get_json()
    assert (on_me["relation"], on_me["minor"]) == ("child", False)
    assert client.post(f"{MP}/me/proxies-on-me/{on_me['id']}/accept", headers=own_phone).status_code == 200
    assert client.get(f"{MP}/residents/{invitation['resident_id']}", headers=world.headers("resident")).status_code \
        == 200


def test_the_guardian_age_line_comes_from_the_rules(client, world, sandbox):
    number = new_id_number(born_years_ago(15))
    own_phone = new_wechat_user(client, sandbox)
    bind_own_identity(client, own_phone, "王少华", number)
    invite(client, world.headers("resident"), "王少华", number, "child")
    [on_me] = client.get(f"{MP}/me/proxies-on-me", headers=own_phone).get_json()
    assert on_me["minor"] is False  # 15 is past the line of 14

    _rules_of_region_a(world).guardian_child_max_age = 16
    db.session.commit()
    [on_me] = client.get(f"{MP}/me/proxies-on-me", headers=own_phone).get_json()
    assert on_me["minor"] is True
    refused = client.post(f"{MP}/me/proxies-on-me/{on_me['id']}/accept", headers=own_phone)
    assert assert_error_shape(refused, 422)["code"] == "GUARDIAN_NEEDS_IN_PERSON_CHECK"


def test_an_account_holding_the_identity_is_told_once_and_must_accept(client, world, sandbox):
    holder_of_r1 = world.accounts["resident"]
    invitation = invite_resident(client, world, "resident_2", "R1")
    again = invite(client, world.headers("resident_2"), world.residents["R1"].name, world.residents["R1"].id_number)
    assert assert_error_shape(again, 409)["code"] == "FAMILY_MEMBER_EXISTS"

    messages = requests.get(f"{sandbox.base_url}/sandbox/wechat/messages", params={"openid": holder_of_r1.openid},
                            timeout=5).json()["messages"]
    assert [m["template_id"] for m in messages] == ["proxy-invitation-template"]
    assert world.residents["R1"].name not in str(messages)

    refused = confirm_in_person(client, world, invitation["invitation_code"])
    assert assert_error_shape(refused, 422)["code"] == "PERSON_MUST_ACCEPT"
    accepted = client.post(f"{MP}/me/proxies-on-me/{invitation['id']}/accept", headers=world.headers("resident"))
    assert accepted.status_code == 200
    assert client.get(f"{MP}/residents/{world.residents['R1'].id}", headers=world.headers("resident_2")).status_code \
        == 200


def test_the_number_of_people_one_account_acts_for_comes_from_the_rules(client, world):
    rules = _rules_of_region_a(world)
    rules.proxy_max_people = 2  # W1 already acts for R5 besides itself
    db.session.commit()
    assert invite_resident(client, world, "resident", "R2")["status"] == "pending"
    over = invite(client, world.headers("resident"), world.residents["R3"].name, world.residents["R3"].id_number)
    body = assert_error_shape(over, 422)
    assert (body["code"], body["details"]) == ("PROXY_LIMIT_REACHED", {"max_people": 2})
    assert db.session.scalar(sa.select(sa.func.count()).select_from(FamilyLink).where(
        FamilyLink.resident_id == world.residents["R3"].id)) == 0

    _rules_of_region_a(world).proxy_max_people = 3
    db.session.commit()
    assert invite_resident(client, world, "resident", "R3")["status"] == "pending"


def test_the_person_concerned_ends_a_proxy_and_access_stops_at_once(client, world):
    invitation = invite_resident(client, world, "resident_2", "R1")
    client.post(f"{MP}/me/proxies-on-me/{invitation['id']}/accept", headers=world.headers("resident"))
    r1_path = f"{MP}/residents/{world.residents['R1'].id}"
    assert client.get(r1_path, headers=world.headers("resident_2")).status_code == 200

    [on_me] = client.get(f"{MP}/me/proxies-on-me", headers=world.headers("resident")).get_json()
    assert (on_me["id"], on_me["status"], on_me["confirmed_via"]) == (invitation["id"], "active", "accepted")
    ended = client.delete(f"{MP}/me/proxies-on-me/{on_me['id']}", headers=world.headers("resident"))
    assert ended.status_code == 204
    assert_error_shape(client.get(r1_path, headers=world.headers("resident_2")), 404)  # the same token, at once
    assert client.get(f"{MP}/me/proxies-on-me", headers=world.headers("resident")).get_json() == []
    assert db.session.get(FamilyLink, on_me["id"]).status is ProxyStatus.ENDED
    [event] = audited("resident.proxy_end")
    assert (event.actor_account_id, event.details["was"]) == (world.accounts["resident"].id, "active")
    assert_error_shape(client.delete(f"{MP}/me/proxies-on-me/{on_me['id']}", headers=world.headers("resident")), 404)


def test_a_person_declines_an_invitation_and_cannot_touch_others_proxies(client, world):
    invitation = invite_resident(client, world, "resident_2", "R1")
    declined = client.delete(f"{MP}/me/proxies-on-me/{invitation['id']}", headers=world.headers("resident"))
    assert declined.status_code == 204
    family = client.get(f"{MP}/me", headers=world.headers("resident_2")).get_json()["family"]
    assert [m["relation"] for m in family] == ["self"]
    own_child = db.session.scalars(sa.select(FamilyLink.id).where(
        FamilyLink.resident_id == world.residents["R5"].id)).one()
    assert_error_shape(client.delete(f"{MP}/me/proxies-on-me/{own_child}", headers=world.headers("resident_2")), 404)
    assert_error_shape(client.post(f"{MP}/me/proxies-on-me/{own_child}/accept",
                                   headers=world.headers("resident_2")), 404)


def test_the_holder_withdraws_an_invitation_with_the_family_delete(client, world):
    invitation = invite_resident(client, world, "resident_2", "R5")
    removed = client.delete(f"{MP}/me/family/{invitation['resident_id']}", headers=world.headers("resident_2"))
    assert removed.status_code == 204
    assert_error_shape(confirm_in_person(client, world, invitation["invitation_code"]), 404)


@pytest.mark.parametrize("typed", [" 林淑珍 ", "林淑珍\u3000"])
def test_the_stored_name_is_the_platforms_not_the_callers(client, world, sandbox, typed):
    number = new_id_number(born_years_ago(70))
    requests.post(f"{sandbox.base_url}/sandbox/insurance/persons", json={"id_number": number, "name": "林淑珍"},
                  timeout=5).raise_for_status()
    invitation = invite(client, world.headers("resident"), typed, number).get_json()
    assert db.session.get(Resident, invitation["resident_id"]).name == "林淑珍"
    own_phone = new_wechat_user(client, sandbox)
    assert bind_own_identity(client, own_phone, typed, number) == invitation["resident_id"]
    assert db.session.get(Resident, invitation["resident_id"]).name == "林淑珍"


def _rules_of_region_a(world) -> LocalRules:
    return db.session.scalars(sa.select(LocalRules).where(LocalRules.region_id == world.regions["A"].id)).one()
