"""Renewal reminders (续约提醒) 30 days before a contract ends."""
from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from server.contracts.models import Contract
from server.contracts.states import LIVE_STATES, ContractStatus
from server.extensions import db
from server.identity.models import WechatAccount
from server.integrations.wechat import WechatClient
from server.messaging import services as messaging
from server.residents.models import FamilyLink, ProxyStatus

REMIND_DAYS_BEFORE_END = 30


def send_renewal_reminders(wechat: WechatClient, today: date, template_id: str) -> int:
    """Remind every account acting for a person whose contract ends in 30 days and is not yet renewed."""
    ends_on = today + timedelta(days=REMIND_DAYS_BEFORE_END)
    renewal = aliased(Contract)
    rows = db.session.execute(
        sa.select(Contract, WechatAccount)
        .join(FamilyLink, sa.and_(FamilyLink.resident_id == Contract.resident_id,
                                  FamilyLink.status == ProxyStatus.ACTIVE))
        .join(WechatAccount, WechatAccount.id == FamilyLink.wechat_account_id)
        .where(Contract.status == ContractStatus.ACTIVE, Contract.period_end == ends_on,
               ~sa.exists().where(renewal.resident_id == Contract.resident_id,
                                  renewal.period_year == Contract.period_year + 1,
                                  renewal.status.in_(LIVE_STATES)))).all()
    sent = 0
    for contract, account in rows:
        outcome = messaging.send(wechat, account, template_id=template_id, purpose="renewal_reminder",
                                 subject_id=str(contract.id), page=f"pages/contract/detail?id={contract.id}",
                                 data={"thing1": "家庭医生签约即将到期", "date2": contract.period_end.isoformat(),
                                       "thing3": "点击一键续约"})
        sent += outcome == "sent"
    return sent
