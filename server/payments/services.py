"""Paying the personal share through WeChat Pay, and giving it back.

Calls to WeChat Pay happen outside database transactions; every state change happens
inside one, under a row lock on the order, so a notification, a query and a close that
race each other settle the order exactly once. Money is never lost: a payment that lands
on a contract no longer waiting for it is refunded.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction

import sqlalchemy as sa
import structlog

from server.audit import services as audit
from server.common.timeutil import SHANGHAI, utcnow
from server.common.uow import transaction
from server.contracts import transitions
from server.contracts.models import Contract
from server.contracts.states import ContractStatus
from server.errors import RuleViolation
from server.extensions import db
from server.identity.models import WechatAccount
from server.identity.roles import SYSTEM_ACTOR, Actor, Role, allowed
from server.identity.scoping import get_visible
from server.integrations.wechatpay import OrderAlreadyPaid, OrderState, WechatPayClient
from server.payments.models import OrderStatus, PaymentOrder, Refund, RefundStatus
from server.supervision.models import AlertKind, SupervisionAlert

log = structlog.get_logger(__name__)
ORDER_TTL = timedelta(minutes=30)


@dataclass(frozen=True)
class PaymentRequest:
    """What the mini-program passes to `wx.requestPayment`."""

    out_trade_no: str
    params: dict


@allowed(Role.RESIDENT)
def start_payment(actor: Actor, wechatpay: WechatPayClient, contract_id: int) -> PaymentRequest:
    """Create (or reuse) the JSAPI order for a contract waiting for its personal share."""
    with transaction():
        contract = get_visible(Contract, contract_id, actor, for_update=True)
        if contract.status is not ContractStatus.PENDING_PAYMENT:
            raise RuleViolation("该签约无需缴费或已缴费", code="PAYMENT_NOT_REQUIRED")
        now = utcnow()
        order = db.session.scalars(sa.select(PaymentOrder).where(
            PaymentOrder.contract_id == contract.id, PaymentOrder.status == OrderStatus.CREATED,
            PaymentOrder.expires_at > now + timedelta(minutes=2))).first()
        if order is None:
            openid = db.session.get(WechatAccount, actor.account_id).openid
            order = PaymentOrder(contract_id=contract.id, out_trade_no=_trade_no(now), status=OrderStatus.CREATED,
                                 amount_fen=contract.personal_share_fen, payer_openid=openid,
                                 expires_at=now + ORDER_TTL)
            db.session.add(order)
            db.session.flush()
            audit.record(actor, "payment.create", "payment_order", order.id, {"amount_fen": order.amount_fen})
        out_trade_no, prepay_id = order.out_trade_no, order.prepay_id
        description = f"家庭医生签约服务费（{contract.period_year}年度）"
        amount, openid, expires_at = order.amount_fen, order.payer_openid, order.expires_at
    if prepay_id is None:
        # WeChat returns the same prepay_id for the same out_trade_no and parameters.
        prepay_id = wechatpay.create_jsapi_order(out_trade_no=out_trade_no, description=description,
                                                 amount_fen=amount, payer_openid=openid, expires_at=expires_at)
        with transaction():
            db.session.execute(sa.update(PaymentOrder).where(PaymentOrder.out_trade_no == out_trade_no)
                               .values(prepay_id=prepay_id))
    return PaymentRequest(out_trade_no, wechatpay.request_payment_params(prepay_id))


@dataclass(frozen=True)
class Paid:
    """A payment as WeChat Pay reported it (by notification or by query)."""

    out_trade_no: str
    transaction_id: str
    amount_fen: int
    appid: str
    mchid: str
    payer_openid: str | None
    success_time: object


def handle_notification(wechatpay: WechatPayClient, resource: dict) -> None:
    """Apply a verified, decrypted TRANSACTION.SUCCESS resource. Raises RuleViolation to refuse it."""
    if resource.get("trade_state") != "SUCCESS":
        return
    paid = Paid(out_trade_no=resource.get("out_trade_no", ""), transaction_id=resource.get("transaction_id", ""),
                amount_fen=int((resource.get("amount") or {}).get("total", -1)), appid=resource.get("appid", ""),
                mchid=resource.get("mchid", ""), payer_openid=(resource.get("payer") or {}).get("openid"),
                success_time=resource.get("success_time"))
    record_payment(wechatpay, paid)


def record_payment(wechatpay: WechatPayClient, paid: Paid) -> None:
    """Mark the order paid and activate its contract, exactly once, under a row lock."""
    with transaction():
        order = db.session.scalars(sa.select(PaymentOrder).where(
            PaymentOrder.out_trade_no == paid.out_trade_no).with_for_update()).first()
        problem = _mismatch(wechatpay, order, paid)
        refund_needed = None if problem else _apply_payment(order, paid)
    if problem:
        _alert(paid, problem)
        raise RuleViolation("支付通知与订单不符", code="PAYMENT_MISMATCH", details={"problem": problem})
    if refund_needed is not None:
        send_refund(wechatpay, refund_needed)


def _apply_payment(order: PaymentOrder, paid: Paid) -> int | None:
    """Inside the caller's transaction; returns a refund to send when the money is not wanted."""
    if order.status in (OrderStatus.PAID, OrderStatus.REFUNDED):
        return None  # a repeated notification, or the query got here first
    order.status = OrderStatus.PAID
    order.transaction_id = paid.transaction_id
    order.paid_at = utcnow()
    audit.record(SYSTEM_ACTOR, "payment.paid", "payment_order", order.id, {"transaction_id": paid.transaction_id})
    if transitions.move_by_system(order.contract_id, ContractStatus.ACTIVE, "个人缴费已到账"):
        audit.record(SYSTEM_ACTOR, "contract.activate", "contract", order.contract_id,
                     {"out_trade_no": order.out_trade_no})
        return None
    # Paid after the contract was cancelled or the order closed: give the money back.
    return _new_refund(order, order.amount_fen, "签约已取消，退还已缴费用")


@dataclass(frozen=True)
class PaymentCheck:
    """A contract's state and its orders as they stand after asking WeChat Pay."""

    contract_id: int
    status: ContractStatus
    activated_at: datetime | None
    orders: list[PaymentOrder]


@allowed(Role.RESIDENT)
def check_payment(actor: Actor, wechatpay: WechatPayClient, contract_id: int) -> PaymentCheck:
    """Ask WeChat Pay at once about a contract's open orders, as the mini-program does when
    `wx.requestPayment` returns, so a lost notification never leaves a paid contract waiting.

    A paid order is recorded by `record_payment` under the order's row lock, exactly as the
    notification is; whichever of the two comes second finds the order paid and changes nothing.
    """
    with transaction():
        contract = get_visible(Contract, contract_id, actor)
        open_orders = list(db.session.scalars(sa.select(PaymentOrder.out_trade_no).where(
            PaymentOrder.contract_id == contract.id, PaymentOrder.status == OrderStatus.CREATED)
            .order_by(PaymentOrder.id)))
    for out_trade_no in open_orders:
        settle_from_query(wechatpay, out_trade_no)
    with transaction():
        db.session.refresh(contract)  # a notification may have settled it in another session meanwhile
        orders = list(db.session.scalars(sa.select(PaymentOrder).where(PaymentOrder.contract_id == contract.id)
                                         .order_by(PaymentOrder.id).execution_options(populate_existing=True)))
    return PaymentCheck(contract.id, contract.status, contract.activated_at, orders)


def settle_from_query(wechatpay: WechatPayClient, out_trade_no: str) -> OrderStatus:
    """Ask WeChat Pay about an order and settle it: paid → activate; expired and unpaid → close."""
    state: OrderState = wechatpay.query_order(out_trade_no)
    if state.trade_state in ("SUCCESS", "REFUND"):
        record_payment(wechatpay, Paid(out_trade_no, state.transaction_id or "", state.amount_total_fen or -1,
                                       state.appid, state.mchid, state.payer_openid, state.success_time))
    elif state.trade_state in ("NOTPAY", "CLOSED", "PAYERROR", "REVOKED"):
        order = db.session.scalars(sa.select(PaymentOrder).where(PaymentOrder.out_trade_no == out_trade_no)).one()
        if order.expires_at <= utcnow() or state.trade_state != "NOTPAY":
            close_order(wechatpay, out_trade_no)
    return db.session.scalars(sa.select(PaymentOrder.status).where(PaymentOrder.out_trade_no == out_trade_no)).one()


def close_order(wechatpay: WechatPayClient, out_trade_no: str) -> None:
    """Close an unpaid order; if WeChat says it was paid meanwhile, record the payment instead."""
    try:
        wechatpay.close_order(out_trade_no)
    except OrderAlreadyPaid:
        settle_from_query(wechatpay, out_trade_no)
        return
    with transaction():
        order = db.session.scalars(sa.select(PaymentOrder).where(
            PaymentOrder.out_trade_no == out_trade_no).with_for_update()).one()
        if order.status is OrderStatus.CREATED:
            order.status = OrderStatus.CLOSED
            order.closed_at = utcnow()
            audit.record(SYSTEM_ACTOR, "payment.close", "payment_order", order.id)


def _fen_sum(column) -> sa.ColumnElement[int]:
    # PostgreSQL's SUM over BIGINT is NUMERIC (a Decimal in Python); money stays integer fen.
    return sa.cast(sa.func.coalesce(sa.func.sum(column), 0), sa.BigInteger)


def net_paid_fen(contract_id: int) -> int:
    """What the resident has paid for a contract, less what has been (or is being) refunded."""
    paid = db.session.scalar(sa.select(_fen_sum(PaymentOrder.amount_fen)).where(
        PaymentOrder.contract_id == contract_id, PaymentOrder.status.in_([OrderStatus.PAID, OrderStatus.REFUNDED])))
    refunded = db.session.scalar(
        sa.select(_fen_sum(Refund.amount_fen))
        .join(PaymentOrder, Refund.payment_order_id == PaymentOrder.id)
        .where(PaymentOrder.contract_id == contract_id, Refund.status != RefundStatus.FAILED))
    return paid - refunded


def refunded_fen(order_id: int) -> int:
    return db.session.scalar(sa.select(_fen_sum(Refund.amount_fen)).where(
        Refund.payment_order_id == order_id, Refund.status != RefundStatus.FAILED))


def plan_refund(contract: Contract, amount_fen: int, reason: str) -> list[int]:
    """Within the caller's transaction: refund rows for `amount_fen` across the contract's paid orders."""
    refunds = []
    orders = db.session.scalars(sa.select(PaymentOrder).where(
        PaymentOrder.contract_id == contract.id, PaymentOrder.status == OrderStatus.PAID)
        .order_by(PaymentOrder.id).with_for_update()).all()
    remaining = amount_fen
    for order in orders:
        take = min(remaining, order.amount_fen - refunded_fen(order.id))
        if take > 0:
            refunds.append(_new_refund(order, take, reason))
            remaining -= take
    return refunds


@dataclass(frozen=True)
class Cancellation:
    """What a cancelled contract leaves payments to do with WeChat Pay once the cancellation commits."""

    refund_fen: int
    refund_ids: list[int]
    open_orders: list[str]


def refund_paid_share(contract: Contract, share: Fraction, reason: str) -> Cancellation:
    """Within the cancellation's transaction: plan refunds of `share` of what was paid (net) for
    the contract, and note its orders still open, for `finish_cancellation` after the commit."""
    paid = max(net_paid_fen(contract.id), 0) if share else 0
    refund_fen = paid * share.numerator // share.denominator
    refund_ids = plan_refund(contract, refund_fen, reason) if refund_fen else []
    open_orders = list(db.session.scalars(sa.select(PaymentOrder.out_trade_no).where(
        PaymentOrder.contract_id == contract.id, PaymentOrder.status == OrderStatus.CREATED)))
    return Cancellation(refund_fen, refund_ids, open_orders)


def finish_cancellation(wechatpay: WechatPayClient, cancellation: Cancellation) -> None:
    """Close the open orders (a payment that still lands is refunded there), then ask for the refunds."""
    for out_trade_no in cancellation.open_orders:
        close_order(wechatpay, out_trade_no)
    for refund_id in cancellation.refund_ids:
        send_refund(wechatpay, refund_id)


def orders_and_refunds(contract_id: int) -> tuple[list[PaymentOrder], list[Refund]]:
    """A contract's payment orders and their refunds, each oldest first."""
    orders = list(db.session.scalars(sa.select(PaymentOrder).where(PaymentOrder.contract_id == contract_id)
                                     .order_by(PaymentOrder.id)))
    refunds = list(db.session.scalars(sa.select(Refund).where(
        Refund.payment_order_id.in_([o.id for o in orders])).order_by(Refund.id))) if orders else []
    return orders, refunds


def send_refund(wechatpay: WechatPayClient, refund_id: int) -> Refund:
    """Ask WeChat Pay for a planned refund; its `out_refund_no` makes a retry safe."""
    refund = db.session.get(Refund, refund_id)
    order = db.session.get(PaymentOrder, refund.payment_order_id)
    state = wechatpay.refund(out_trade_no=order.out_trade_no, out_refund_no=refund.out_refund_no,
                             refund_fen=refund.amount_fen, total_fen=order.amount_fen, reason=refund.reason)
    with transaction():
        refund = db.session.get(Refund, refund_id, with_for_update=True)
        _apply_refund_state(refund, state)
    return refund


def _apply_refund_state(refund: Refund, state) -> None:
    status = {"SUCCESS": RefundStatus.SUCCESS, "CLOSED": RefundStatus.FAILED,
              "ABNORMAL": RefundStatus.FAILED}.get(state.status, RefundStatus.PROCESSING)
    if status is refund.status and refund.refund_id:
        return
    refund.refund_id = state.refund_id
    refund.status = status
    if status is RefundStatus.SUCCESS:
        refund.succeeded_at = utcnow()
    order = db.session.get(PaymentOrder, refund.payment_order_id, with_for_update=True)
    if refunded_fen(order.id) >= order.amount_fen:
        order.status = OrderStatus.REFUNDED
    audit.record(SYSTEM_ACTOR, "payment.refund", "refund", refund.id,
                 {"amount_fen": refund.amount_fen, "status": status.value})


def _new_refund(order: PaymentOrder, amount_fen: int, reason: str) -> int:
    number = db.session.scalar(sa.select(sa.func.count()).select_from(Refund).where(
        Refund.payment_order_id == order.id)) + 1
    refund = Refund(payment_order_id=order.id, out_refund_no=f"{order.out_trade_no}R{number}",
                    amount_fen=amount_fen, status=RefundStatus.REQUESTED, reason=reason[:80])
    db.session.add(refund)
    db.session.flush()
    return refund.id


def _mismatch(wechatpay: WechatPayClient, order: PaymentOrder | None, paid: Paid) -> str | None:
    if order is None:
        return "unknown_order"
    if paid.mchid != wechatpay.mchid:
        return "mchid"
    if paid.appid != wechatpay.appid:
        return "appid"
    if paid.amount_fen != order.amount_fen:
        return "amount"
    return None


def _alert(paid: Paid, problem: str) -> None:
    """Record a mismatching payment for supervision, once per order and transaction."""
    details = {"problem": problem, "out_trade_no": paid.out_trade_no, "transaction_id": paid.transaction_id,
               "amount_fen": paid.amount_fen, "mchid": paid.mchid, "appid": paid.appid}
    log.warning("payment_mismatch", **details)
    with transaction():
        contract = db.session.scalars(sa.select(Contract).join(PaymentOrder, PaymentOrder.contract_id == Contract.id)
                                      .where(PaymentOrder.out_trade_no == paid.out_trade_no)).first()
        if contract is None:
            return  # not our order at all: nothing to attribute it to beyond the log line
        subject = f"{paid.out_trade_no}:{paid.transaction_id}"[:64]
        if db.session.scalar(sa.select(SupervisionAlert.id).where(
                SupervisionAlert.kind == AlertKind.PAYMENT_MISMATCH, SupervisionAlert.subject_type == "payment",
                SupervisionAlert.subject_id == subject)) is None:
            db.session.add(SupervisionAlert(region_id=contract.region_id, institution_id=contract.institution_id,
                                            kind=AlertKind.PAYMENT_MISMATCH, subject_type="payment",
                                            subject_id=subject, details=details))


def _trade_no(now) -> str:
    # 32 characters at most; time first so the bill sorts naturally.
    return f"JY{now.astimezone(SHANGHAI):%Y%m%d%H%M%S}{secrets.token_hex(6).upper()}"


def refresh_refund(wechatpay: WechatPayClient, refund_id: int) -> Refund:
    """Ask WeChat Pay how a refund in progress went (refunds complete asynchronously)."""
    refund = db.session.get(Refund, refund_id)
    state = wechatpay.query_refund(refund.out_refund_no)
    with transaction():
        refund = db.session.get(Refund, refund_id, with_for_update=True)
        _apply_refund_state(refund, state)
    return refund
