"""Residents sign in with the code from `wx.login` (微信登录)."""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from server.audit import services as audit
from server.common.timeutil import utcnow
from server.common.uow import transaction
from server.errors import NotFound
from server.extensions import db
from server.identity import throttle
from server.identity.models import WechatAccount
from server.identity.roles import Actor
from server.identity.services import issue_resident_token, resident_actor
from server.identity.throttle import SignInAttempt
from server.identity.tokens import TokenService
from server.integrations.errors import WechatCodeInvalid, WechatCodeUsed
from server.integrations.wechat import WechatClient
from server.regions.models import Region
from server.residents.models import FamilyLink, Relation


@dataclass(frozen=True)
class ResidentSession:
    token: str
    expires_in: int
    account_id: int
    bound: bool  # whether the account has bound its own identity yet


def sign_in(wechat: WechatClient, tokens: TokenService, code: str, attempt: SignInAttempt) -> ResidentSession:
    """Exchange the login code with WeChat, then find or create the account for that openid.

    A code WeChat refuses counts as a failure of the address: guessing codes is throttled.
    """
    address = throttle.address_key(attempt.ip)
    with transaction():
        throttle.refuse_if_locked(address)
    try:
        session = wechat.code_to_session(code)
    except (WechatCodeInvalid, WechatCodeUsed):
        with transaction():
            throttle.record_failure(throttle.counting_region(None, attempt.region_code), address)
        raise
    with transaction():
        region_id = db.session.scalar(sa.select(Region.id).where(Region.admdvs_code == attempt.region_code))
        if region_id is None:
            raise NotFound("本统筹地区尚未开通", code="REGION_NOT_CONFIGURED")
        account = db.session.scalars(sa.select(WechatAccount).where(
            WechatAccount.appid == wechat.appid, WechatAccount.openid == session.openid).with_for_update()).first()
        if account is None:
            account = WechatAccount(appid=wechat.appid, openid=session.openid, region_id=region_id)
            db.session.add(account)
        account.unionid = session.unionid
        account.session_key = session.session_key
        account.last_login_at = utcnow()
        db.session.flush()
        actor = Actor(role=resident_actor(account).role, account_id=account.id, region_id=region_id, ip=attempt.ip,
                      user_agent=attempt.user_agent)
        audit.record(actor, "wechat.sign_in", "wechat_account", account.id)
        bound = db.session.scalar(sa.select(FamilyLink.id).where(
            FamilyLink.wechat_account_id == account.id, FamilyLink.relation == Relation.SELF,
            FamilyLink.revoked_at.is_(None))) is not None
    return ResidentSession(token=issue_resident_token(tokens, account), expires_in=tokens.ttl_seconds,
                           account_id=account.id, bound=bound)
