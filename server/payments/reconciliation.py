"""Keeping our books and WeChat Pay's in step (对账).

Orders that never got a notification are asked about and settled; once a day the trade
bill is compared with every order and refund of that day, and each difference becomes a
supervision alert for a person to look at.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta

import sqlalchemy as sa
import structlog

from server.common.timeutil import SHANGHAI
from server.common.uow import transaction
from server.contracts.models import Contract
from server.errors import DomainError
from server.extensions import db
from server.integrations.wechatpay import BillRow, WechatPayClient
from server.payments import services as payments
from server.payments.models import OrderStatus, PaymentOrder, Refund, RefundStatus
from server.supervision.models import AlertKind, SupervisionAlert

log = structlog.get_logger(__name__)
QUIET_BEFORE_QUERY = timedelta(minutes=5)


def settle_open_orders(wechatpay: WechatPayClient, now: datetime) -> int:
    """Query every order still open after a few minutes without a notification, and settle it."""
    numbers = list(db.session.scalars(sa.select(PaymentOrder.out_trade_no).where(
        PaymentOrder.status == OrderStatus.CREATED, PaymentOrder.created_at <= now - QUIET_BEFORE_QUERY)))
    for out_trade_no in numbers:
        try:
            payments.settle_from_query(wechatpay, out_trade_no)
        except DomainError as error:  # one bad order must not stop the others
            log.warning("order_settle_failed", out_trade_no=out_trade_no, code=error.code)
    return len(numbers)


def settle_open_refunds(wechatpay: WechatPayClient) -> int:
    """Send refunds only planned so far, query those in progress, and record how they ended.

    A planned refund (requested) may never have reached WeChat Pay: planned by a bureau's
    roster file, whose import calls no outside service, or its cancellation's call failed.
    Asking again under its `out_refund_no` is safe: WeChat Pay answers with the refund it has.
    """
    open_refunds = db.session.execute(sa.select(Refund.id, Refund.status).where(
        Refund.status.in_([RefundStatus.REQUESTED, RefundStatus.PROCESSING]))).all()
    for refund_id, status in open_refunds:
        try:
            if status is RefundStatus.REQUESTED:
                payments.send_refund(wechatpay, refund_id)
            else:
                payments.refresh_refund(wechatpay, refund_id)
        except DomainError as error:
            log.warning("refund_refresh_failed", refund=refund_id, code=error.code)
    return len(open_refunds)


def reconcile_day(wechatpay: WechatPayClient, bill_date: date) -> int:
    """Compare the day's trade bill with our orders and refunds; returns the differences found."""
    rows = wechatpay.trade_bill(bill_date)
    start = datetime.combine(bill_date, datetime.min.time(), SHANGHAI)
    end = start + timedelta(days=1)
    ours = {o.out_trade_no: o for o in db.session.scalars(sa.select(PaymentOrder).where(
        PaymentOrder.paid_at >= start, PaymentOrder.paid_at < end))}
    our_refunds = {r.out_refund_no: r for r in db.session.scalars(sa.select(Refund).where(
        Refund.succeeded_at >= start, Refund.succeeded_at < end))}
    problems: list[tuple[str, dict]] = []
    seen_orders, seen_refunds = set(), set()
    for row in rows:
        if row.out_refund_no:
            seen_refunds.add(row.out_refund_no)
            problems += _refund_problems(row, our_refunds.get(row.out_refund_no))
        elif row.trade_state == "SUCCESS":
            seen_orders.add(row.out_trade_no)
            problems += _order_problems(row, ours.get(row.out_trade_no))
    problems += [(f"bill:{bill_date}:{no}", {"problem": "paid_here_not_in_bill", "out_trade_no": no})
                 for no in ours.keys() - seen_orders]
    problems += [(f"bill:{bill_date}:{no}", {"problem": "refunded_here_not_in_bill", "out_refund_no": no})
                 for no in our_refunds.keys() - seen_refunds]
    for subject, details in problems:
        _alert(subject, details)
    return len(problems)


def _order_problems(row: BillRow, order: PaymentOrder | None) -> list[tuple[str, dict]]:
    subject = f"bill:{row.out_trade_no}"
    if order is None:
        order = db.session.scalars(sa.select(PaymentOrder).where(PaymentOrder.out_trade_no == row.out_trade_no)).first()
    if order is None:
        return [(subject, {"problem": "unknown_order", "out_trade_no": row.out_trade_no})]
    if order.status not in (OrderStatus.PAID, OrderStatus.REFUNDED):
        return [(subject, {"problem": "paid_in_bill_not_here", "out_trade_no": row.out_trade_no})]
    if order.amount_fen != row.total_fen or order.transaction_id != row.transaction_id:
        return [(subject, {"problem": "amount_or_transaction", "out_trade_no": row.out_trade_no,
                           "bill_fen": row.total_fen, "our_fen": order.amount_fen})]
    return []


def _refund_problems(row: BillRow, refund: Refund | None) -> list[tuple[str, dict]]:
    subject = f"bill-refund:{row.out_refund_no}"
    if refund is None:
        refund = db.session.scalars(sa.select(Refund).where(Refund.out_refund_no == row.out_refund_no)).first()
    if refund is None:
        return [(subject, {"problem": "unknown_refund", "out_refund_no": row.out_refund_no})]
    if refund.amount_fen != row.refund_fen or refund.status is not RefundStatus.SUCCESS:
        return [(subject, {"problem": "refund_amount_or_state", "out_refund_no": row.out_refund_no,
                           "bill_fen": row.refund_fen, "our_fen": refund.amount_fen})]
    return []


def _alert(subject: str, details: dict) -> None:
    number = details.get("out_trade_no") or details.get("out_refund_no")
    contract = db.session.scalars(
        sa.select(Contract).join(PaymentOrder, PaymentOrder.contract_id == Contract.id)
        .outerjoin(Refund, Refund.payment_order_id == PaymentOrder.id)
        .where(sa.or_(PaymentOrder.out_trade_no == number, Refund.out_refund_no == number))).first()
    log.warning("reconciliation_difference", subject=subject, **details)
    if contract is None:
        return
    with transaction():
        exists = db.session.scalar(sa.select(SupervisionAlert.id).where(
            SupervisionAlert.kind == AlertKind.PAYMENT_MISMATCH, SupervisionAlert.subject_type == "bill",
            SupervisionAlert.subject_id == subject[:64]))
        if exists is None:
            db.session.add(SupervisionAlert(region_id=contract.region_id, institution_id=contract.institution_id,
                                            kind=AlertKind.PAYMENT_MISMATCH, subject_type="bill",
                                            subject_id=subject[:64], details=details))
