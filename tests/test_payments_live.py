"""The resident journey and WeChat Pay over real HTTP: the platform on a port, the sandbox
posting signed, encrypted notifications to it. Nothing here mocks `requests`."""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import requests
import sqlalchemy as sa

from server.common.timeutil import local_today, utcnow
from server.contracts.models import Contract, ContractEvent
from server.contracts.states import ContractStatus
from server.extensions import db
from server.integrations import registry
from server.payments import reconciliation
from server.payments.models import OrderStatus, PaymentOrder, Refund
from server.supervision.models import AlertKind, SupervisionAlert

pytestmark = pytest.mark.live


def _query(live, fn):
    with live.server.app.app_context():
        try:
            return fn()
        finally:
            db.session.remove()


def _contract(live, contract_id) -> Contract:
    return _query(live, lambda: db.session.get(Contract, contract_id))


def _activations(live, contract_id) -> int:
    return _query(live, lambda: db.session.scalar(sa.select(sa.func.count()).select_from(ContractEvent).where(
        ContractEvent.contract_id == contract_id, ContractEvent.to_status == ContractStatus.ACTIVE)))


def _wait(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def _signed(live, person=0):
    """A resident signed in, bound and signed, with the WeChat Pay order created."""
    phone = live.phone()
    phone.login()
    resident = phone.bind(*live.people[person])
    contract = phone.sign(resident, live.team_id, live.package_version_id)
    assert contract["status"] == "pending_payment"
    return phone, resident, contract["id"], phone.start_payment(contract["id"])


def test_a_resident_goes_from_wx_login_to_an_active_contract_and_uses_it(live, sandbox):
    phone = live.phone()
    session = phone.login()
    assert session["bound"] is False
    resident = phone.bind(*live.people[0])
    [offer] = phone.ok("GET", f"/residents/{resident}/offers")
    assert offer["eligible"] and offer["fee_split"]["resident_pays_fen"] == 2000
    team = phone.ok("GET", "/teams")["items"][0]
    assert team["id"] == live.team_id and team["places_left"] > 0
    contract = phone.sign(resident, live.team_id, offer["package_version_id"], key="e2e-sign-0001")
    assert phone.sign(resident, live.team_id, offer["package_version_id"], key="e2e-sign-0001")["id"] == contract["id"]

    payment = phone.ok("POST", f"/contracts/{contract['id']}/payment")
    assert set(payment["params"]) == {"timeStamp", "nonceStr", "package", "signType", "paySign"}
    assert payment["params"]["signType"] == "RSA" and payment["params"]["package"].startswith("prepay_id=")
    phone.pay(payment["out_trade_no"])  # WeChat Pay now notifies the platform by itself
    _wait(lambda: phone.ok("GET", f"/contracts/{contract['id']}/view")["contract"]["status"] == "active")
    deliveries = requests.get(f"{sandbox.base_url}/sandbox/pay/deliveries",
                              params={"out_trade_no": payment["out_trade_no"]}, timeout=5).json()["deliveries"]
    assert deliveries and all(d["status"] in (200, 204) for d in deliveries)

    view = phone.ok("GET", f"/contracts/{contract['id']}/view")
    assert view["payments"][0]["status"] == "paid" and view["items"][0]["remaining"] == 4

    _doctor_serves_and_prescribes(live, contract["id"])
    [script] = phone.ok("GET", "/prescriptions")["items"]
    assert script["items"][0]["drug_name"] == "缬沙坦胶囊" and script["next_refill_on"]
    with live.server.app.app_context():
        from server.surveys import services as surveys
        assert surveys.invite_served_residents(registry.wechat(), utcnow(), "survey-template") == 1
        db.session.remove()
    [invitation] = phone.ok("GET", "/survey-invitations")["items"]
    answer = phone.ok("POST", f"/survey-invitations/{invitation['id']}/response", json={
        "score_ability": 5, "score_attitude": 5, "score_timeliness": 4, "score_overall": 5})
    assert answer["id"]
    messages = requests.get(f"{sandbox.base_url}/sandbox/wechat/messages", timeout=5).json()["messages"]
    assert any(m["template_id"] == "survey-template" for m in messages)


def _doctor_serves_and_prescribes(live, contract_id):
    """What the doctor's workspace will record: a follow-up and a long-term prescription."""
    from server.packages.models import PackageItem
    from server.prescriptions.models import Dispensing, Prescription, PrescriptionItem, PrescriptionStatus
    from server.servicerecords.models import ServiceRecord, ServiceType
    with live.server.app.app_context():
        contract = db.session.get(Contract, contract_id)
        item = db.session.scalars(sa.select(PackageItem).where(
            PackageItem.package_version_id == contract.package_version_id)).first()
        served = utcnow() - timedelta(hours=2)
        db.session.add(ServiceRecord(contract_id=contract.id, package_item_id=item.id, resident_id=contract.resident_id,
                                     region_id=contract.region_id, institution_id=contract.institution_id,
                                     team_id=contract.team_id, staff_id=contract.doctor_staff_id,
                                     service_type=ServiceType.CLINIC, served_at=served, served_on=served.date()))
        script = Prescription(contract_id=contract.id, resident_id=contract.resident_id, region_id=contract.region_id,
                              institution_id=contract.institution_id, team_id=contract.team_id,
                              prescriber_staff_id=contract.doctor_staff_id, issued_on=local_today(), weeks=4,
                              status=PrescriptionStatus.ACTIVE)
        db.session.add(script)
        db.session.flush()
        drug = PrescriptionItem(prescription_id=script.id, drug_code="XC09CAV", drug_name="缬沙坦胶囊", quantity=28)
        db.session.add(drug)
        db.session.flush()
        db.session.add(Dispensing(prescription_id=script.id, prescription_item_id=drug.id,
                                  institution_id=contract.institution_id, dispensed_on=local_today(), quantity=28))
        db.session.commit()
        db.session.remove()


def test_the_same_notification_ten_times_then_twenty_at_once_activates_once(live):
    phone, _, contract_id, order = _signed(live)
    phone.pay(order, deliver="drop")
    headers, body = phone.notification(order)
    statuses = [phone.deliver(headers, body).status_code for _ in range(10)]
    with ThreadPoolExecutor(20) as pool:
        statuses += list(pool.map(lambda _: requests.post(
            f"{live.server.url}/api/mp/v1/payments/notify", data=body, headers=headers, timeout=10).status_code,
            range(20)))
    assert set(statuses) <= {200, 204} and len(statuses) == 30
    assert _contract(live, contract_id).status is ContractStatus.ACTIVE
    assert _activations(live, contract_id) == 1


@pytest.mark.parametrize("fault", ["bad_signature", "unknown_serial", "stale_timestamp", "broken_tag"])
def test_a_notification_we_cannot_trust_is_refused_and_changes_nothing(live, fault):
    phone, _, contract_id, order = _signed(live)
    phone.pay(order, deliver="drop")
    answer = phone.deliver(*phone.notification(order, fault=fault))
    assert 400 <= answer.status_code < 500 and answer.json()["code"] == "FAIL"
    assert _contract(live, contract_id).status is ContractStatus.PENDING_PAYMENT


@pytest.mark.parametrize("fault", ["wrong_amount", "wrong_mchid"])
def test_a_genuine_notification_that_does_not_match_the_order_is_refused_with_an_alert(live, fault):
    phone, _, contract_id, order = _signed(live)
    phone.pay(order, deliver="drop")
    answer = phone.deliver(*phone.notification(order, fault=fault))
    assert 400 <= answer.status_code < 500 and answer.json()["code"] == "FAIL"
    assert _contract(live, contract_id).status is ContractStatus.PENDING_PAYMENT
    alerts = _query(live, lambda: db.session.scalars(sa.select(SupervisionAlert).where(
        SupervisionAlert.kind == AlertKind.PAYMENT_MISMATCH)).all())
    assert len(alerts) == 1 and alerts[0].details["out_trade_no"] == order


def test_a_lost_notification_is_settled_by_the_job(live):
    phone, _, contract_id, order = _signed(live)
    phone.pay(order, deliver="drop")
    with live.server.app.app_context():
        later = utcnow() + timedelta(minutes=10)
        assert reconciliation.settle_open_orders(registry.wechatpay(), later) == 1
        db.session.remove()
    assert _contract(live, contract_id).status is ContractStatus.ACTIVE
    assert _activations(live, contract_id) == 1


def test_an_unpaid_expired_order_is_closed_by_the_job(live):
    _, _, contract_id, order = _signed(live)
    with live.server.app.app_context():
        db.session.execute(sa.update(PaymentOrder).values(expires_at=utcnow() - timedelta(minutes=1)))
        db.session.commit()
        reconciliation.settle_open_orders(registry.wechatpay(), utcnow() + timedelta(minutes=10))
        status = db.session.scalars(sa.select(PaymentOrder.status).where(PaymentOrder.out_trade_no == order)).one()
        db.session.remove()
    assert status is OrderStatus.CLOSED
    assert _contract(live, contract_id).status is ContractStatus.PENDING_PAYMENT


def test_paying_while_the_order_is_being_closed_loses_no_money(live):
    phone, _, contract_id, order = _signed(live)
    phone.pay(order, deliver="drop")  # paid at WeChat; the platform does not know yet
    cancelled = phone.ok("POST", f"/contracts/{contract_id}/cancel", json={"reason": "改变主意"})
    assert cancelled["status"] == "cancelled"  # closing found the order paid: it was recorded and refunded
    refunds = _query(live, lambda: db.session.scalars(sa.select(Refund)).all())
    assert [r.amount_fen for r in refunds] == [2000]
    orders = _query(live, lambda: db.session.scalars(sa.select(PaymentOrder)).all())
    assert orders[0].status is OrderStatus.REFUNDED and orders[0].transaction_id


def test_two_cancellations_at_once_make_one_refund(live):
    phone, _, contract_id, order = _signed(live)
    phone.pay(order)
    _wait(lambda: _contract(live, contract_id).status is ContractStatus.ACTIVE)
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda _: phone.call("POST", f"/contracts/{contract_id}/cancel",
                                                     json={"reason": "搬离本地"}), range(2)))
    assert sorted(a.status_code for a in answers) == [200, 422]
    refunds = _query(live, lambda: db.session.scalars(sa.select(Refund)).all())
    assert [r.amount_fen for r in refunds] == [2000]  # before any service: everything back
    with live.server.app.app_context():
        reconciliation.settle_open_refunds(registry.wechatpay())
        db.session.remove()


def test_fifty_simultaneous_sign_ups_for_one_person_make_one_contract(live):
    phone = live.phone()
    phone.login()
    resident = phone.bind(*live.people[0])
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda _: phone.call("POST", "/contracts/sign", json={
            "resident_id": resident, "team_id": live.team_id, "package_version_id": live.package_version_id,
            "consent": True}), range(50)))
    assert sorted({a.status_code for a in answers}) == [201, 409]
    assert sum(a.status_code == 201 for a in answers) == 1
    assert _query(live, lambda: db.session.scalar(sa.select(sa.func.count()).select_from(Contract))) == 1


def test_a_team_at_capacity_is_never_oversubscribed(live):
    with live.server.app.app_context():
        from server.teams.models import Team
        db.session.get(Team, live.team_id).capacity = 5
        db.session.commit()
        db.session.remove()
    phones = []
    for n in range(20):
        phone = live.phone()
        phone.login()
        phones.append((phone, phone.bind(*live.people[n])))
    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(lambda pr: pr[0].call("POST", "/contracts/sign", json={
            "resident_id": pr[1], "team_id": live.team_id, "package_version_id": live.package_version_id,
            "consent": True}), phones))
    assert sum(a.status_code == 201 for a in answers) == 5
    assert {a.json()["code"] for a in answers if a.status_code != 201} == {"TEAM_FULL"}


def test_paying_on_the_phone_activates_at_once_though_the_notification_is_lost(live, sandbox):
    phone = live.phone()
    phone.login()
    resident = phone.bind(*live.people[0])
    contract_id = phone.sign(resident, live.team_id, live.package_version_id)["id"]

    checked = phone.pay_for(contract_id, deliver="drop")  # the order, wx.requestPayment, then the check

    assert checked["status"] == "active" and [o["status"] for o in checked["orders"]] == ["paid"]
    assert _contract(live, contract_id).status is ContractStatus.ACTIVE
    assert _activations(live, contract_id) == 1
    deliveries = requests.get(f"{sandbox.base_url}/sandbox/pay/deliveries",
                              params={"out_trade_no": checked["orders"][0]["out_trade_no"]}, timeout=5).json()
    assert deliveries["deliveries"] == []  # no notification ever reached the platform


def test_checks_racing_the_notification_activate_once(live):
    phone, _, contract_id, order = _signed(live)
    phone.pay(order, deliver="drop")
    headers, body = phone.notification(order)

    def notify(_):
        return requests.post(f"{live.server.url}/api/mp/v1/payments/notify", data=body, headers=headers,
                             timeout=10)

    def check(_):
        return requests.post(f"{live.server.url}/api/mp/v1/contracts/{contract_id}/payment/check",
                             headers={"Authorization": f"Bearer {phone.token}"}, timeout=10)

    with ThreadPoolExecutor(12) as pool:
        answers = [pool.submit(call, n) for n in range(6) for call in (check, notify)]
        notified = [a.result() for a in answers[1::2]]
        checked = [a.result() for a in answers[::2]]

    assert {a.status_code for a in notified} <= {200, 204}
    assert [(a.status_code, a.json()["status"]) for a in checked] == [(200, "active")] * 6
    assert _activations(live, contract_id) == 1
