"""Refunds after services follow the region's rules; reminders respect refusals; the bill is reconciled."""
from __future__ import annotations

from datetime import timedelta

import pytest
import requests

from server.common.timeutil import local_today
from server.contracts import reminders
from server.contracts.models import Contract
from server.extensions import db
from server.integrations import registry
from server.integrations.models import MessageLog
from server.payments import reconciliation
from server.payments import services as payments
from server.payments.models import PaymentOrder, Refund
from server.regions.models import LocalRules
from server.supervision.models import AlertKind, SupervisionAlert
from tests.factories import make_served_visit
from tests.helpers import sign_as_resident


@pytest.fixture
def paid_contract(app, client, world, newcomer, sandbox):
    """The newcomer's contract, paid through WeChat Pay (sandbox) and settled by query."""
    contract = sign_as_resident(client, world, newcomer).get_json()
    order = client.post(f"/api/mp/v1/contracts/{contract['id']}/payment",
                        headers=world.headers("resident")).get_json()["out_trade_no"]
    requests.post(f"{sandbox.base_url}/sandbox/pay/{order}/pay", json={"deliver": "drop"}, timeout=5)
    with app.app_context():
        payments.settle_from_query(registry.wechatpay(), order)
    assert db.session.get(Contract, contract["id"]).status.value == "active"
    return contract["id"]


@pytest.mark.parametrize("policy, served, refunded", [
    ("none", True, []), ("full", True, [2000]), ("unused_items", True, [1500]),  # 1 of 4 × 5 yuan used
    ("none", False, [2000]),  # before any service everything comes back, whatever the policy
])
def test_cancelling_refunds_as_the_rules_say(client, world, paid_contract, policy, served, refunded):
    contract = db.session.get(Contract, paid_contract)
    db.session.get(LocalRules, contract.rules_id).refund_after_service = policy
    if served:
        make_served_visit(contract)
    db.session.commit()
    response = client.post(f"/api/mp/v1/contracts/{paid_contract}/cancel", json={"reason": "迁出本地"},
                           headers=world.headers("resident"))
    assert response.status_code == 200, response.get_json()
    assert [r.amount_fen for r in db.session.query(Refund).all()] == refunded


def test_refunds_never_exceed_what_was_paid(app, client, world, paid_contract):
    contract = db.session.get(Contract, paid_contract)
    assert payments.plan_refund(contract, 5000, "测试") and payments.net_paid_fen(contract.id) == 0
    assert payments.plan_refund(contract, 100, "再次退款") == []


def test_renewal_reminders_go_once_and_respect_a_refusal(app, world, sandbox):
    contract = db.session.get(Contract, world.contracts["R1"].id)
    today = contract.period_end - timedelta(days=reminders.REMIND_DAYS_BEFORE_END)
    w1, w2 = world.accounts["resident"], world.accounts["resident_2"]
    requests.post(f"{sandbox.base_url}/sandbox/wechat/refuse",
                  json={"openid": w1.openid, "template_id": "renewal-template"}, timeout=5)
    with app.app_context():
        wechat = registry.wechat()
        # W1 acts for R1 and R5 but refused the template; W2 acts for R2. All three end that day.
        assert reminders.send_renewal_reminders(wechat, today, "renewal-template") == 1
        assert reminders.send_renewal_reminders(wechat, today, "renewal-template") == 0
    tried = [(m.wechat_account_id, m.status) for m in db.session.query(MessageLog).order_by(MessageLog.id)]
    assert tried == [(w1.id, "refused"), (w2.id, "sent")]  # W1 was asked once, then never again


def test_the_daily_bill_matches_and_a_difference_becomes_an_alert(app, world, paid_contract):
    def alerts():
        return db.session.query(SupervisionAlert).filter_by(kind=AlertKind.PAYMENT_MISMATCH).all()

    with app.app_context():
        reconciliation.reconcile_day(registry.wechatpay(), local_today())
        assert alerts() == []  # our order is in the bill exactly as in our books
        order = db.session.query(PaymentOrder).filter_by(contract_id=paid_contract).one()
        order.transaction_id = "4200000000000000000000000000"  # now our books disagree with WeChat's
        db.session.commit()
        reconciliation.reconcile_day(registry.wechatpay(), local_today())
    [alert] = alerts()
    assert alert.details == {"problem": "amount_or_transaction", "out_trade_no": order.out_trade_no,
                             "bill_fen": 2000, "our_fen": 2000}
