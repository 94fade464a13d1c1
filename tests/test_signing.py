"""Signing for oneself or family: every rule with its clear error, idempotency, renew, change team, cancel."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from server.common.timeutil import local_today
from server.contracts import lifecycle
from server.contracts.models import Contract
from server.contracts.states import ContractStatus
from server.extensions import db
from server.institutions.models import Agreement, AgreementStatus
from server.regions.models import LocalRules
from server.residents.models import BenefitEnrolment, BenefitScheme, ChronicCondition
from server.teams.models import Team
from tests.factories import add
from tests.helpers import assert_error_shape, sign_as_resident

def test_a_resident_signs_for_a_parent_and_sees_what_they_pay(client, world, newcomer):
    offers = client.get(f"/api/mp/v1/residents/{newcomer.id}/offers", headers=world.headers("resident")).get_json()
    [offer] = offers
    assert offer["eligible"] and offer["fee_split"]["resident_pays_fen"] == 2000
    assert offer["fee_split"]["insurance_fund_share_fen"] == 4000
    response = sign_as_resident(client, world, newcomer)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["status"] == "pending_payment" and body["period_end"] == f"{local_today().year}-12-31"
    assert body["fee_split"]["personal_share_fen"] == 2000


def test_teams_show_members_and_places_left(client, world):
    page = client.get("/api/mp/v1/teams?lat=24.51&lng=117.65", headers=world.headers("resident")).get_json()
    cards = {card["name"]: card for card in page["items"]}
    assert set(cards) == {"T1团队", "T2团队", "T3团队"}
    t1 = cards["T1团队"]
    assert t1["places_left"] == t1["capacity"] - 2 and t1["members"][0]["is_leader"]


def test_the_same_idempotency_key_returns_the_first_contract(client, world, newcomer):
    first = sign_as_resident(client, world, newcomer, key="sign-0001-abcdef")
    again = sign_as_resident(client, world, newcomer, key="sign-0001-abcdef")
    assert first.status_code == again.status_code == 201
    assert first.get_json()["id"] == again.get_json()["id"]
    assert db.session.query(Contract).filter_by(resident_id=newcomer.id).count() == 1
    other = sign_as_resident(client, world, newcomer, key="sign-0001-abcdef", team="T2")
    assert assert_error_shape(other, 409)["code"] == "IDEMPOTENCY_KEY_REUSED"


def _expect(response, code, status=422):
    body = assert_error_shape(response, status)
    assert body["code"] == code, body
    assert body["message"]


def test_one_live_contract_per_person_per_year(client, world):
    _expect(sign_as_resident(client, world, world.residents["R1"]), "CONTRACT_EXISTS", 409)


def test_package_conditions_must_be_met(client, world, newcomer):
    db.session.query(ChronicCondition).filter_by(resident_id=newcomer.id).delete()
    db.session.commit()
    _expect(sign_as_resident(client, world, newcomer), "PACKAGE_CONDITION_NOT_MET")


def test_a_full_team_takes_no_one(client, world, newcomer):
    db.session.get(Team, world.teams["T1"].id).capacity = 2
    db.session.commit()
    _expect(sign_as_resident(client, world, newcomer), "TEAM_FULL")


def test_the_institution_agreement_must_be_active(client, world, newcomer):
    db.session.query(Agreement).filter_by(institution_id=world.institutions["I1"].id).update(
        {"status": AgreementStatus.SUSPENDED})
    db.session.commit()
    _expect(sign_as_resident(client, world, newcomer), "AGREEMENT_NOT_ACTIVE")


@pytest.mark.parametrize("scheme", list(BenefitScheme))
def test_no_double_benefit_with_other_outpatient_schemes(client, world, newcomer, scheme):
    add(BenefitEnrolment(resident_id=newcomer.id, scheme=scheme, disease_code="hypertension",
                         valid_from=date(2020, 1, 1)))
    db.session.commit()
    _expect(sign_as_resident(client, world, newcomer), "DUPLICATE_BENEFIT")


def test_only_people_insured_in_the_region_sign(client, world, newcomer):
    from server.residents.models import Resident
    db.session.get(Resident, newcomer.id).insured_admdvs = "350200"
    db.session.commit()
    _expect(sign_as_resident(client, world, newcomer), "NOT_INSURED_IN_REGION")


def test_consent_is_required(client, world, newcomer):
    _expect(sign_as_resident(client, world, newcomer, consent=False), "CONSENT_REQUIRED")


def test_a_team_of_another_region_is_not_offered(client, world, newcomer):
    _expect(sign_as_resident(client, world, newcomer, team="T4"), "TEAM_NOT_FOUND")


def test_nobody_signs_for_a_stranger(client, world):
    response = sign_as_resident(client, world, world.residents["R2"])
    assert_error_shape(response, 404)


def test_another_fund_paying_the_share_activates_at_once(client, world, newcomer):
    rules = db.session.query(LocalRules).filter_by(region_id=world.regions["A"].id).one()
    rules.other_fund_populations = [{**rules.other_fund_populations[0], "until": "2099-12-31"}]
    from server.residents.models import Resident
    db.session.get(Resident, newcomer.id).populations = ["poverty_registered"]
    db.session.commit()
    body = sign_as_resident(client, world, newcomer).get_json()
    assert body["status"] == "active" and body["fee_split"]["personal_share_payer"] == "poverty_top_up"


def test_renewal_opens_sixty_days_before_the_end(app, world):
    from server.identity.services import resident_actor
    from server.identity.models import WechatAccount
    actor = resident_actor(db.session.get(WechatAccount, world.accounts["resident"].id))
    contract = world.contracts["R1"]
    early = contract.period_end - timedelta(days=61)
    with pytest.raises(Exception) as refused:
        lifecycle.renew(actor, contract.id, consent=True, consent_version="2026.1", today=early)
    assert refused.value.code == "RENEWAL_TOO_EARLY"
    renewed = lifecycle.renew(actor, contract.id, consent=True, consent_version="2026.1",
                            today=contract.period_end - timedelta(days=30))
    assert renewed.renewed_from_id == contract.id and renewed.period_year == contract.period_year + 1
    assert renewed.status is ContractStatus.PENDING_PAYMENT and renewed.team_id == contract.team_id


def test_changing_team_moves_the_contract_and_keeps_what_was_paid(client, world):
    contract = world.contracts["R1"]
    response = client.post(f"/api/mp/v1/contracts/{contract.id}/change-team",
                           json={"team_id": world.teams["T2"].id, "reason": "搬家到西桥街道"},
                           headers=world.headers("resident"))
    assert response.status_code == 201, response.get_json()
    new = response.get_json()
    assert new["status"] == "active" and new["team_id"] == world.teams["T2"].id
    assert new["transferred_from_id"] == contract.id and new["fee_split"]["personal_share_fen"] == 2000
    assert db.session.get(Contract, contract.id).status is ContractStatus.TRANSFERRED


def test_cancelling_a_contract_waiting_for_payment(client, world, newcomer):
    contract = sign_as_resident(client, world, newcomer).get_json()
    response = client.post(f"/api/mp/v1/contracts/{contract['id']}/cancel", json={"reason": "暂不需要"},
                           headers=world.headers("resident"))
    assert response.status_code == 200 and response.get_json()["status"] == "cancelled"
    again = client.post(f"/api/mp/v1/contracts/{contract['id']}/cancel", json={"reason": "暂不需要"},
                        headers=world.headers("resident"))
    _expect(again, "CONTRACT_STATE_INVALID")


def test_payment_is_only_for_contracts_waiting_for_it(client, world):
    response = client.post(f"/api/mp/v1/contracts/{world.contracts['R1'].id}/payment",
                           headers=world.headers("resident"))
    _expect(response, "PAYMENT_NOT_REQUIRED")


def test_changing_to_the_same_team_is_refused(client, world):
    response = client.post(f"/api/mp/v1/contracts/{world.contracts['R1'].id}/change-team",
                           json={"team_id": world.teams["T1"].id, "reason": "想换个医生"}, headers=world.headers("resident"))
    _expect(response, "SAME_TEAM")


def test_a_cancelled_contract_is_not_renewed(client, world):
    contract = world.contracts["R1"]
    client.post(f"/api/mp/v1/contracts/{contract.id}/cancel", json={"reason": "暂不需要"},
                headers=world.headers("resident"))
    response = client.post(f"/api/mp/v1/contracts/{contract.id}/renew", json={"consent": True},
                           headers=world.headers("resident"))
    _expect(response, "RENEWAL_NOT_ALLOWED")


def test_a_package_for_older_people_is_refused_to_the_young(client, world, newcomer):
    from server.packages.models import PackageVersion
    db.session.get(PackageVersion, world.packages["A"].id).min_age = 80
    db.session.commit()
    _expect(sign_as_resident(client, world, newcomer), "PACKAGE_AGE_NOT_MET")
