"""Payment orders and refunds; amounts in fen, each keyed by the number WeChat Pay sees."""
from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from server.common.models import IdMixin, TimestampMixin, fk, money
from server.common.types import UTCDateTime, enum_column
from server.contracts.models import Contract
from server.extensions import db
from server.identity.scoping import inherit_scope


class OrderStatus(str, enum.Enum):
    CREATED = "created"    # 待支付
    PAID = "paid"          # 已支付
    CLOSED = "closed"      # 已关闭
    REFUNDED = "refunded"  # 已全额退款


class PaymentOrder(IdMixin, TimestampMixin, db.Model):
    """A WeChat Pay JSAPI order (缴费订单) for a contract's personal share."""

    __tablename__ = "payment_order"
    __table_args__ = (sa.CheckConstraint("amount_fen > 0", name="amount_positive"),)

    contract_id: Mapped[int] = fk("contract.id")
    out_trade_no: Mapped[str] = mapped_column(sa.String(32), unique=True)
    amount_fen = money()
    status: Mapped[OrderStatus] = mapped_column(enum_column(OrderStatus))
    payer_openid: Mapped[str] = mapped_column(sa.String(64))
    prepay_id: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    transaction_id: Mapped[str | None] = mapped_column(sa.String(32), nullable=True, unique=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    version: Mapped[int] = mapped_column(sa.Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class RefundStatus(str, enum.Enum):
    REQUESTED = "requested"
    PROCESSING = "processing"
    SUCCESS = "success"
    FAILED = "failed"


class Refund(IdMixin, TimestampMixin, db.Model):
    """A refund (退款) of part or all of a paid order, under a stable `out_refund_no`."""

    __tablename__ = "refund"
    __table_args__ = (sa.CheckConstraint("amount_fen > 0", name="amount_positive"),)

    payment_order_id: Mapped[int] = fk("payment_order.id")
    out_refund_no: Mapped[str] = mapped_column(sa.String(64), unique=True)
    amount_fen = money()
    status: Mapped[RefundStatus] = mapped_column(enum_column(RefundStatus))
    reason: Mapped[str] = mapped_column(sa.String(80), default="")
    refund_id: Mapped[str | None] = mapped_column(sa.String(32), nullable=True)
    succeeded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


PaymentOrder.__scope__ = inherit_scope(PaymentOrder.contract_id, Contract)
Refund.__scope__ = inherit_scope(Refund.payment_order_id, PaymentOrder)
