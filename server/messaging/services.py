"""Sending one subscribe message and remembering the answer.

A resident who refused a template (WeChat error 43101) is not sent it again by any job:
the refusal is logged here and checked before every send.
"""
from __future__ import annotations

import sqlalchemy as sa
import structlog

from server.common.uow import transaction
from server.extensions import db
from server.identity.models import WechatAccount
from server.integrations.errors import IntegrationError, SubscriptionRefused
from server.integrations.models import MessageLog
from server.integrations.wechat import WechatClient

log = structlog.get_logger(__name__)


def refused(account_id: int, template_id: str) -> bool:
    return db.session.scalar(sa.select(MessageLog.id).where(
        MessageLog.wechat_account_id == account_id, MessageLog.template_id == template_id,
        MessageLog.status == "refused")) is not None


def already_sent(account_id: int, purpose: str, subject_id: str) -> bool:
    return db.session.scalar(sa.select(MessageLog.id).where(
        MessageLog.wechat_account_id == account_id, MessageLog.purpose == purpose,
        MessageLog.subject_id == subject_id, MessageLog.status == "sent")) is not None


def send(wechat: WechatClient, account: WechatAccount, *, template_id: str, purpose: str, subject_id: str,
         page: str, data: dict[str, str]) -> str:
    """Send unless refused or already sent; returns the outcome ("sent", "refused", "skipped", "failed").

    Called outside a unit of work; the checks end the caller's reads, so on SQLite the
    client's own token transaction does not wait behind them.
    """
    with transaction():
        skip = refused(account.id, template_id) or already_sent(account.id, purpose, subject_id)
    if skip:
        return "skipped"
    errcode = None
    try:
        wechat.send_subscribe_message(openid=account.openid, template_id=template_id, page=page, data=data)
        status = "sent"
    except SubscriptionRefused as error:
        status, errcode = "refused", 43101
        log.info("subscribe_refused", account=account.id, template=template_id, code=error.code)
    except IntegrationError as error:
        status = "failed"
        log.warning("subscribe_failed", account=account.id, template=template_id, code=error.code)
    with transaction():
        db.session.add(MessageLog(wechat_account_id=account.id, template_id=template_id, purpose=purpose,
                                  subject_id=subject_id, status=status, errcode=errcode, payload={"page": page}))
    return status
