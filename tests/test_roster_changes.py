"""Roster changes (参保状态变更) from the bureau: a death ends contracts as the rules say, leaving or
stopping flags them for the settlement's verification, every change is in the contract's history,
the resident follows the latest change, and a file applied twice changes nothing the second time."""
from __future__ import annotations

from datetime import timedelta

import pytest
import requests
import sqlalchemy as sa

from server.common.timeutil import local_today, utcnow
from server.contracts.models import Contract, ContractEvent
from server.contracts.states import ContractStatus
from server.extensions import db
from server.imports.models import ImportBatch
from server.integrations import registry
from server.payments import reconciliation
from server.payments import services as payments
from server.payments.models import OrderStatus, PaymentOrder, Refund, RefundStatus
from server.regions.models import LocalRules
from server.residents.models import Resident, RosterChange
from server.residents.roster import apply_roster_changes
from server.settlement.checks import contracts_to_verify
from server.settlement.models import CheckReason, SettlementCheck
from tests import factories
from tests.helpers import db_fingerprint, sign_as_resident
from tests.staging import ROSTER, staged

ELSEWHERE = "350200"  # 厦门: where a person who moves out is insured next


def days_ago(n: int):
    return local_today() - timedelta(days=n)


def new_batch(world) -> int:
    return factories.add(ImportBatch(region_id=world.regions["A"].id, institution_id=world.institutions["I1"].id,
                                     kind="roster_changes", file_format="csv",
                                     submitted_by_account_id=world.accounts["bureau"].id)).id


def apply(world, *rows, batch=None):
    return apply_roster_changes(world.regions["A"].id, batch or new_batch(world), staged(ROSTER, list(rows)),
                                local_today())


def change(world, sn, key, kind, on, admdvs=None, **extra):
    return {"chg_sn": sn, "resident_id": world.residents[key].id, "chg_type": kind, "chg_date": on,
            "insu_admdvs": admdvs, **extra}


def fresh(model, row_id):
    return db.session.get(model, row_id, populate_existing=True)


def history(contract_id):
    return db.session.scalars(sa.select(ContractEvent).where(ContractEvent.contract_id == contract_id)
                              .order_by(ContractEvent.id)).all()


def paid(contract_id, amount_fen=2000):
    factories.add(PaymentOrder(contract_id=contract_id, out_trade_no=f"JY{contract_id:030d}", status=OrderStatus.PAID,
                               amount_fen=amount_fen, payer_openid="o-payer", transaction_id=f"42{contract_id:030d}",
                               expires_at=utcnow(), paid_at=utcnow()))


def refunds_of(contract_id):
    return db.session.scalars(sa.select(Refund).join(PaymentOrder, PaymentOrder.id == Refund.payment_order_id)
                              .where(PaymentOrder.contract_id == contract_id).order_by(Refund.id)).all()


# --- death -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("died, policy, refunded", [
    (20, "full", []),             # before the new rules: the old ones refund nothing
    (5, "full", [2000]),
    (5, "unused_items", [1500]),  # one of four 5-yuan checks delivered: three quarters come back
    (5, "none", []),
])
def test_a_death_ends_the_contract_and_refunds_as_the_rules_of_that_day_say(world, died, policy, refunded):
    contract = world.contracts["R2"]  # active, one check of four delivered (the world's served visit)
    paid(contract.id)
    factories.add(LocalRules(region_id=world.regions["A"].id,
                             **factories.rules_kwargs(effective_from=days_ago(10), refund_on_death=policy)))
    died_on = days_ago(died)

    applied = apply(world, change(world, "BG0001", "R2", "death", died_on))

    assert (applied.stored, applied.already_stored, applied.failures) == (1, 0, [])
    assert applied.changes["contracts_ended"] == 1 and applied.changes["refunds_planned"] == len(refunded)
    ended = fresh(Contract, contract.id)
    last = history(contract.id)[-1]
    assert ended.status is ContractStatus.TERMINATED and ended.ended_at == last.at
    assert (last.from_status, last.to_status, last.account_id, last.wechat_account_id) == (
        ContractStatus.ACTIVE, ContractStatus.TERMINATED, None, None)
    assert "死亡" in last.reason and died_on.isoformat() in last.reason and ended.end_reason == last.reason
    refunds = refunds_of(contract.id)
    assert [r.amount_fen for r in refunds] == refunded
    # Planned here; the refund job sends them to WeChat Pay after the import commits.
    assert all(r.status is RefundStatus.REQUESTED for r in refunds)
    assert fresh(Resident, world.residents["R2"].id).insurance_status == "deceased"


def test_a_death_cancels_a_contract_still_waiting_for_payment_without_refund(world, newcomer):
    waiting = factories.make_contract(newcomer, world.teams["T1"], world.doctors["T1"], world.packages["A"],
                                      status=ContractStatus.PENDING_PAYMENT)
    db.session.get(LocalRules, waiting.rules_id).refund_on_death = "full"
    row = {"chg_sn": "BG0002", "resident_id": newcomer.id, "chg_type": "death", "chg_date": days_ago(1)}

    applied = apply(world, row)

    assert applied.changes["contracts_ended"] == 1 and applied.changes["refunds_planned"] == 0
    assert fresh(Contract, waiting.id).status is ContractStatus.CANCELLED
    assert (history(waiting.id)[-1].from_status, history(waiting.id)[-1].to_status) == (
        ContractStatus.PENDING_PAYMENT, ContractStatus.CANCELLED)


def test_a_death_applied_twice_ends_and_refunds_once(world):
    contract = world.contracts["R2"]
    paid(contract.id)
    db.session.get(LocalRules, contract.rules_id).refund_on_death = "full"
    row = change(world, "BG0003", "R2", "death", days_ago(2))
    apply(world, row)
    batch = new_batch(world)
    before = db_fingerprint()

    again = apply(world, row, batch=batch)

    assert (again.stored, again.already_stored, again.failures) == (0, 1, [])
    assert again.changes == {"contracts_flagged": 0, "flags_cleared": 0, "contracts_ended": 0, "refunds_planned": 0}
    assert [r.amount_fen for r in refunds_of(contract.id)] == [2000]
    assert db_fingerprint() == before


def test_the_refund_job_sends_the_refund_a_death_planned(app, client, world, newcomer, sandbox):
    contract_id = sign_as_resident(client, world, newcomer).get_json()["id"]
    order = client.post(f"/api/mp/v1/contracts/{contract_id}/payment",
                        headers=world.headers("resident")).get_json()["out_trade_no"]
    requests.post(f"{sandbox.base_url}/sandbox/pay/{order}/pay", json={"deliver": "drop"}, timeout=5)
    with app.app_context():
        payments.settle_from_query(registry.wechatpay(), order)
    db.session.get(LocalRules, fresh(Contract, contract_id).rules_id).refund_on_death = "full"
    apply(world, {"chg_sn": "BG0004", "resident_id": newcomer.id, "chg_type": "death", "chg_date": days_ago(1)})
    db.session.commit()

    with app.app_context():
        assert reconciliation.settle_open_refunds(registry.wechatpay()) == 1

    [refund] = refunds_of(contract_id)
    refund = fresh(Refund, refund.id)
    assert refund.amount_fen == 2000 and refund.refund_id and refund.status is not RefundStatus.REQUESTED


# --- leaving the region, stopping and resuming -----------------------------------------------------


def test_moving_out_flags_the_contract_for_settlement_with_a_history_row(world):
    contract = world.contracts["R1"]
    moved = days_ago(3)

    applied = apply(world, change(world, "BG0010", "R1", "move_out", moved, ELSEWHERE))

    assert applied.changes["contracts_flagged"] == 1 and applied.changes["contracts_ended"] == 0
    flag = db.session.scalars(sa.select(SettlementCheck).where(SettlementCheck.contract_id == contract.id)).one()
    assert (flag.reason, flag.since, flag.cleared_on) == (CheckReason.MOVED_OUT, moved, None)
    note = history(contract.id)[-1]
    assert fresh(Contract, contract.id).status is ContractStatus.ACTIVE
    assert (note.from_status, note.to_status, note.account_id) == (ContractStatus.ACTIVE, ContractStatus.ACTIVE, None)
    assert "转出本统筹地区" in note.reason and moved.isoformat() in note.reason
    resident = fresh(Resident, world.residents["R1"].id)
    assert (resident.insurance_status, resident.insured_admdvs) == ("moved_out", ELSEWHERE)
    # What settlement reads: the region's contracts of the year to verify, and why.
    due = db.session.execute(contracts_to_verify(world.regions["A"].id, local_today().year)).all()
    assert [(row.contract_id, row.reason, row.since) for row in due] == [(contract.id, CheckReason.MOVED_OUT, moved)]


def test_a_file_applied_twice_changes_nothing_the_second_time(world):
    rows = [change(world, "BG0020", "R1", "move_out", days_ago(3), ELSEWHERE),
            change(world, "BG0021", "R2", "stop", days_ago(4)),
            change(world, "BG0022", "R3", "death", days_ago(5))]
    first = apply(world, *rows)
    batch = new_batch(world)
    before = db_fingerprint()

    again = apply(world, *rows, batch=batch)

    assert (first.stored, first.already_stored) == (3, 0)
    assert (again.stored, again.already_stored, again.failures) == (0, 3, [])
    assert set(again.changes.values()) == {0}
    assert db_fingerprint() == before


def test_resuming_clears_the_stop_flag_and_a_new_stop_opens_it_again(world):
    contract = world.contracts["R2"]
    apply(world, change(world, "BG0030", "R2", "stop", days_ago(30)))

    resumed = apply(world, change(world, "BG0031", "R2", "resume", days_ago(20), "350600"))

    flag = db.session.scalars(sa.select(SettlementCheck).where(SettlementCheck.contract_id == contract.id)).one()
    assert resumed.changes["flags_cleared"] == 1 and (flag.since, flag.cleared_on) == (days_ago(30), days_ago(20))
    assert fresh(Resident, world.residents["R2"].id).insurance_status == "active"
    assert contracts_to_verify_of(world) == []
    notes = [e.reason for e in history(contract.id)[-2:]]
    assert "暂停/终止参保" in notes[0] and "恢复参保" in notes[1]

    stopped = apply(world, change(world, "BG0032", "R2", "stop", days_ago(10)))

    flag = fresh(SettlementCheck, flag.id)
    assert stopped.changes["contracts_flagged"] == 1 and (flag.since, flag.cleared_on) == (days_ago(10), None)
    assert contracts_to_verify_of(world) == [(contract.id, CheckReason.INSURANCE_STOPPED)]


def contracts_to_verify_of(world):
    return [(row.contract_id, row.reason) for row in
            db.session.execute(contracts_to_verify(world.regions["A"].id, local_today().year))]


def test_the_resident_follows_the_latest_change_by_date_not_by_file(world):
    apply(world, change(world, "BG0040", "R2", "resume", days_ago(5), "350600"))

    apply(world, change(world, "BG0041", "R2", "stop", days_ago(40)))  # older news, sent later

    assert fresh(Resident, world.residents["R2"].id).insurance_status == "active"


# --- refused rows --------------------------------------------------------------------------------------


def test_a_serial_sent_again_with_other_content_is_refused_with_its_line(world):
    apply(world, change(world, "BG0050", "R1", "stop", days_ago(3)))
    batch = new_batch(world)
    before = db_fingerprint()

    applied = apply(world, change(world, "BG0050", "R1", "death", days_ago(3)), batch=batch)

    [(line, field, code, message)] = applied.failures
    assert (line, field, code, applied.stored, applied.already_stored) == (2, "chg_sn", "ROSTER_CHANGE_CONFLICT", 0, 0)
    assert "BG0050" in message
    assert db_fingerprint() == before


def test_within_a_file_the_first_line_of_a_serial_counts(world):
    rows = [change(world, "BG0060", "R1", "stop", days_ago(3), line=2),
            change(world, "BG0060", "R1", "stop", days_ago(3), line=3),   # the same again: already stored
            change(world, "BG0060", "R1", "death", days_ago(3), line=4)]  # something else: refused

    applied = apply(world, *rows)

    assert (applied.stored, applied.already_stored) == (1, 1)
    assert [(f[0], f[2]) for f in applied.failures] == [(4, "ROSTER_CHANGE_CONFLICT")]
    assert fresh(Contract, world.contracts["R1"].id).status is ContractStatus.ACTIVE
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RosterChange)) == 1
