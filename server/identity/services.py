"""Use cases of identity: staff sign-in, and turning a token into an `Actor`."""
from __future__ import annotations

from dataclasses import dataclass, replace

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from server.audit import services as audit
from server.common.timeutil import local_today, utcnow
from server.common.uow import transaction
from server.errors import Conflict, Unauthenticated
from server.extensions import db
from server.identity.models import UserAccount, WechatAccount
from server.identity.roles import Actor, Role
from server.identity.tokens import TokenService
from server.integrations.wechat import WechatClient
from server.residents.models import FamilyLink
from server.teams.models import TeamMembership

_hasher = PasswordHasher()
# Verifying against a fixed hash when the user is unknown keeps timing the same either way.
_DUMMY_HASH = _hasher.hash("jiayi-timing-equaliser")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


@dataclass(frozen=True)
class SignedIn:
    token: str
    expires_in: int
    actor: Actor
    display_name: str


def staff_login(tokens: TokenService, username: str, password: str, *, ip: str | None,
                user_agent: str | None) -> SignedIn:
    """Check a staff password (argon2) and issue a token; failures look identical."""
    with transaction():
        account = db.session.scalars(sa.select(UserAccount).where(UserAccount.username == username)).first()
        try:
            _hasher.verify(account.password_hash if account else _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            account = None
        if account is None or not account.is_active:
            raise Unauthenticated("用户名或密码错误", code="LOGIN_FAILED")
        if _hasher.check_needs_rehash(account.password_hash):
            account.password_hash = _hasher.hash(password)
        account.last_login_at = utcnow()
        actor = replace(_staff_actor(account), ip=ip, user_agent=user_agent)
        audit.record(actor, "account.login", "user_account", account.id)
        token = tokens.issue("staff", account.id, account.token_version)
        return SignedIn(token=token, expires_in=tokens.ttl_seconds, actor=actor, display_name=account.display_name)


def issue_resident_token(tokens: TokenService, account: WechatAccount) -> str:
    return tokens.issue("wechat", account.id, account.token_version)


def actor_for_token(tokens: TokenService, token: str, *, ip: str | None, user_agent: str | None) -> Actor:
    """Resolve a bearer token to the actor and its scope, as of now."""
    claims = tokens.verify(token)
    if claims.kind == "staff":
        account = db.session.get(UserAccount, claims.account_id)
        if account is None or not account.is_active or account.token_version != claims.version:
            raise Unauthenticated("登录凭证已失效", code="TOKEN_REVOKED")
        actor = _staff_actor(account)
    else:
        wechat = db.session.get(WechatAccount, claims.account_id)
        if wechat is None or wechat.token_version != claims.version:
            raise Unauthenticated("登录凭证已失效", code="TOKEN_REVOKED")
        actor = resident_actor(wechat)
    return replace(actor, ip=ip, user_agent=user_agent)


def _staff_actor(account: UserAccount) -> Actor:
    team_ids: frozenset[int] = frozenset()
    if account.role is Role.TEAM_MEMBER and account.staff_id is not None:
        today = local_today()
        team_ids = frozenset(db.session.scalars(
            sa.select(TeamMembership.team_id).where(
                TeamMembership.staff_id == account.staff_id,
                TeamMembership.joined_on <= today,
                sa.or_(TeamMembership.left_on.is_(None), TeamMembership.left_on >= today),
            )
        ))
    return Actor(
        role=account.role,
        account_id=account.id,
        region_id=account.region_id,
        institution_id=account.institution_id,
        team_ids=team_ids,
        staff_id=account.staff_id,
    )


def resident_actor(wechat: WechatAccount) -> Actor:
    """A WeChat account acts for its own resident and the family members it holds consent for."""
    resident_ids = frozenset(db.session.scalars(
        sa.select(FamilyLink.resident_id).where(
            FamilyLink.wechat_account_id == wechat.id, FamilyLink.revoked_at.is_(None))
    ))
    return Actor(role=Role.RESIDENT, account_id=wechat.id, region_id=wechat.region_id, resident_ids=resident_ids)


def bind_staff_wechat(actor: Actor, wechat: WechatClient, code: str) -> None:
    """A signed-in team member links their WeChat, for the doctor side of the mini-program."""
    openid = wechat.code_to_session(code).openid
    with transaction():
        taken = db.session.scalar(sa.select(UserAccount.id).where(UserAccount.wechat_openid == openid))
        if taken is not None and taken != actor.account_id:
            raise Conflict("该微信已绑定其他工作人员账号", code="WECHAT_BOUND_ELSEWHERE")
        db.session.get(UserAccount, actor.account_id).wechat_openid = openid
        audit.record(actor, "account.bind_wechat", "user_account", actor.account_id)


def staff_wechat_login(tokens: TokenService, wechat: WechatClient, code: str, *, ip: str | None,
                       user_agent: str | None) -> SignedIn:
    """Sign a team member in by the WeChat they bound."""
    openid = wechat.code_to_session(code).openid
    with transaction():
        account = db.session.scalars(sa.select(UserAccount).where(UserAccount.wechat_openid == openid)).first()
        if account is None or not account.is_active:
            raise Unauthenticated("该微信尚未绑定工作人员账号，请先用账号密码登录后绑定", code="WECHAT_NOT_BOUND")
        account.last_login_at = utcnow()
        actor = replace(_staff_actor(account), ip=ip, user_agent=user_agent)
        audit.record(actor, "account.login_wechat", "user_account", account.id)
        token = tokens.issue("staff", account.id, account.token_version)
        return SignedIn(token=token, expires_in=tokens.ttl_seconds, actor=actor, display_name=account.display_name)
