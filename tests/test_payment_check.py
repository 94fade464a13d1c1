"""The check the mini-program makes when wx.requestPayment returns: the platform asks WeChat Pay
(the sandbox, over HTTP) at once, so a lost notification never keeps a paid contract waiting."""
from __future__ import annotations

import pytest
import requests
import sqlalchemy as sa

from server.audit.models import AuditEvent
from server.contracts.models import Contract, ContractEvent
from server.contracts.states import ContractStatus
from server.extensions import db
from tests.helpers import assert_error_shape, db_fingerprint, sign_as_resident


@pytest.fixture
def order(client, world, newcomer) -> tuple[int, str]:
    """The newcomer's contract waiting for the personal share, and its WeChat Pay order."""
    contract = sign_as_resident(client, world, newcomer).get_json()
    payment = client.post(f"/api/mp/v1/contracts/{contract['id']}/payment", headers=world.headers("resident"))
    return contract["id"], payment.get_json()["out_trade_no"]


def pay_without_notification(sandbox, out_trade_no: str) -> None:
    """wx.requestPayment succeeds; WeChat Pay's notification never arrives."""
    requests.post(f"{sandbox.base_url}/sandbox/pay/{out_trade_no}/pay", json={"deliver": "drop"},
                  timeout=5).raise_for_status()


def check(client, world, contract_id: int, who: str = "resident"):
    return client.post(f"/api/mp/v1/contracts/{contract_id}/payment/check", headers=world.headers(who))


def activations(contract_id: int) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(ContractEvent).where(
        ContractEvent.contract_id == contract_id, ContractEvent.to_status == ContractStatus.ACTIVE))


def test_a_check_after_paying_activates_the_contract_at_once_though_the_notification_is_lost(
        client, world, sandbox, order):
    contract_id, out_trade_no = order
    pay_without_notification(sandbox, out_trade_no)

    response = check(client, world, contract_id)

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["contract_id"], body["status"]) == (contract_id, "active") and body["activated_at"]
    assert [(o["out_trade_no"], o["status"], o["amount_fen"]) for o in body["orders"]] == [
        (out_trade_no, "paid", 2000)]
    assert db.session.get(Contract, contract_id).status is ContractStatus.ACTIVE
    assert activations(contract_id) == 1
    assert db.session.scalars(sa.select(AuditEvent.action).where(
        AuditEvent.entity_id == str(contract_id), AuditEvent.action == "contract.activate")).all() == [
        "contract.activate"]


def test_checking_again_changes_nothing(client, world, sandbox, order):
    contract_id, out_trade_no = order
    pay_without_notification(sandbox, out_trade_no)
    first = check(client, world, contract_id).get_json()
    before = db_fingerprint()

    again = check(client, world, contract_id)

    assert again.status_code == 200 and again.get_json() == first
    assert db_fingerprint() == before and activations(contract_id) == 1


def test_checking_an_unpaid_order_changes_nothing(client, world, order):
    contract_id, out_trade_no = order
    before = db_fingerprint()

    response = check(client, world, contract_id)

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["status"], body["activated_at"]) == ("pending_payment", None)
    assert [(o["out_trade_no"], o["status"]) for o in body["orders"]] == [(out_trade_no, "created")]
    assert db_fingerprint() == before


def test_checking_someone_else_s_contract_is_not_found_and_asks_nobody(client, world, sandbox, order):
    contract_id, out_trade_no = order
    pay_without_notification(sandbox, out_trade_no)
    before = db_fingerprint()

    assert_error_shape(check(client, world, contract_id, who="resident_2"), 404)
    assert_error_shape(check(client, world, contract_id, who="doctor"), 403)

    assert db_fingerprint() == before
    assert db.session.get(Contract, contract_id).status is ContractStatus.PENDING_PAYMENT
