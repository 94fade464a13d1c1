"""Use cases of identity: staff sign-in, and turning a token into an `Actor`."""
from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from server.assessment.models import AssessorAssignment
from server.audit import services as audit
from server.common.timeutil import local_today, utcnow
from server.common.uow import transaction
from server.errors import Conflict, Unauthenticated
from server.extensions import db
from server.identity import throttle
from server.identity.models import UserAccount, WechatAccount
from server.identity.roles import STAFF_ROLES, Actor, Role, allowed
from server.identity.throttle import SignInAttempt
from server.identity.tokens import TokenService
from server.integrations.errors import WechatCodeInvalid, WechatCodeUsed
from server.integrations.wechat import WechatClient
from server.residents.models import FamilyLink, ProxyStatus
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


def staff_login(tokens: TokenService, username: str, password: str, attempt: SignInAttempt, *,
                roles: Collection[Role]) -> SignedIn:
    """Check a staff password (argon2) and issue a token to an account of `roles`; failures look identical.

    A locked account or address is refused before any hash is checked. Otherwise a hash is
    always verified (a fixed one for an unknown name) and the role checked after it, so
    neither the answer nor the work done tells a wrong password from a right one at the wrong door.
    """
    by_account, by_address = throttle.account_key(username), throttle.address_key(attempt.ip)
    with transaction():
        throttle.refuse_if_locked(by_account, by_address)
        account = db.session.scalars(sa.select(UserAccount).where(UserAccount.username == username)).first()
        refusal = _password_refusal(account, password, roles)
        if refusal is None:
            if _hasher.check_needs_rehash(account.password_hash):
                account.password_hash = _hasher.hash(password)
            return _signed_in(tokens, account, attempt, "account.login")
    # An unknown name is kept only as its keyed hash: people type passwords into the name field.
    _sign_in_failed(attempt, "account.login_failed", refusal, (by_account, by_address), account,
                    username_key=None if account else by_account[1])
    raise Unauthenticated("用户名或密码错误", code="LOGIN_FAILED")


def _password_refusal(account: UserAccount | None, password: str, roles: Collection[Role]) -> str | None:
    """Why the sign-in fails (for the audit trail only), or None."""
    try:
        verified = _hasher.verify(account.password_hash if account else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        verified = False
    if account is None:
        return "unknown_account"
    if not verified:
        return "wrong_password"
    return _account_refusal(account, roles)


def _account_refusal(account: UserAccount, roles: Collection[Role]) -> str | None:
    if not account.is_active:
        return "inactive"
    if account.role not in roles:
        return "role_not_admitted"
    return None


def _signed_in(tokens: TokenService, account: UserAccount, attempt: SignInAttempt, action: str) -> SignedIn:
    """Inside the sign-in's transaction: a success forgets the account's failures and is audited."""
    throttle.reset(throttle.account_key(account.username))
    account.last_login_at = utcnow()
    actor = replace(_staff_actor(account), ip=attempt.ip, user_agent=attempt.user_agent)
    audit.record(actor, action, "user_account", account.id)
    token = tokens.issue("staff", account.id, account.token_version)
    return SignedIn(token=token, expires_in=tokens.ttl_seconds, actor=actor, display_name=account.display_name)


def _sign_in_failed(attempt: SignInAttempt, action: str, reason: str, keys: tuple[throttle.Key, ...],
                    account: UserAccount | None, *, username_key: str | None = None) -> None:
    """Count and audit a refused sign-in in a transaction of its own (the attempt's own changes nothing)."""
    with transaction():
        region_id = throttle.counting_region(account.region_id if account else None, attempt.region_code)
        throttle.record_failure(region_id, *keys)
        details = {"reason": reason} | ({"username_key": username_key} if username_key else {})
        audit.record_anonymous(region_id, attempt.ip, attempt.user_agent, action, "user_account",
                               account.id if account else 0, details)


@allowed(*Role)
def logout(actor: Actor) -> None:
    """End the account's tokens: its token version moves on, so every token issued before is refused."""
    model = WechatAccount if actor.role is Role.RESIDENT else UserAccount
    with transaction():
        db.session.execute(sa.update(model).where(model.id == actor.account_id)
                           .values(token_version=model.token_version + 1))
        audit.record(actor, "account.logout", model.__tablename__, actor.account_id)


@allowed(*STAFF_ROLES)
def staff_profile(actor: Actor) -> Actor:
    """The signed-in staff member's role and scope, as their token resolved them."""
    return actor


def issue_resident_token(tokens: TokenService, account: WechatAccount) -> str:
    return tokens.issue("wechat", account.id, account.token_version)


def actor_for_token(tokens: TokenService, token: str, *, ip: str | None, user_agent: str | None) -> Actor:
    """Resolve a bearer token to the actor and its scope, as of now.

    In a transaction of its own, so the use case after it starts with none open: one that
    calls an outside service first holds no lock meanwhile (on SQLite, the write lock).
    """
    claims = tokens.verify(token)
    with transaction():
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
    assignment_ids: frozenset[int] = frozenset()
    if account.role is Role.ASSESSOR:
        assignment_ids = frozenset(db.session.scalars(
            sa.select(AssessorAssignment.id).where(AssessorAssignment.account_id == account.id)))
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
        assignment_ids=assignment_ids,
        staff_id=account.staff_id,
    )


def resident_actor(wechat: WechatAccount) -> Actor:
    """A WeChat account acts for its own resident and the family members whose proxy is active.

    A pending invitation gives nothing: the person has not yet consented or been confirmed.
    """
    resident_ids = frozenset(db.session.scalars(
        sa.select(FamilyLink.resident_id).where(
            FamilyLink.wechat_account_id == wechat.id, FamilyLink.status == ProxyStatus.ACTIVE)
    ))
    return Actor(role=Role.RESIDENT, account_id=wechat.id, region_id=wechat.region_id, resident_ids=resident_ids)


@allowed(Role.TEAM_MEMBER)
def bind_staff_wechat(actor: Actor, wechat: WechatClient, code: str) -> None:
    """A signed-in team member links their WeChat, for the doctor side of the mini-program."""
    openid = wechat.code_to_session(code).openid
    with transaction():
        taken = db.session.scalar(sa.select(UserAccount.id).where(UserAccount.wechat_openid == openid))
        if taken is not None and taken != actor.account_id:
            raise Conflict("该微信已绑定其他工作人员账号", code="WECHAT_BOUND_ELSEWHERE")
        db.session.get(UserAccount, actor.account_id).wechat_openid = openid
        audit.record(actor, "account.bind_wechat", "user_account", actor.account_id)


def staff_wechat_login(tokens: TokenService, wechat: WechatClient, code: str, attempt: SignInAttempt, *,
                       roles: Collection[Role]) -> SignedIn:
    """Sign a team member in by the WeChat they bound; held to the same throttle as their password."""
    address = throttle.address_key(attempt.ip)
    with transaction():
        throttle.refuse_if_locked(address)
    try:
        openid = wechat.code_to_session(code).openid
    except (WechatCodeInvalid, WechatCodeUsed) as exc:
        _sign_in_failed(attempt, "account.login_wechat_failed", exc.code.lower(), (address,), None)
        raise
    with transaction():
        account = db.session.scalars(sa.select(UserAccount).where(UserAccount.wechat_openid == openid)).first()
        refusal = "wechat_not_bound" if account is None else _account_refusal(account, roles)
        if account is not None:
            throttle.refuse_if_locked(throttle.account_key(account.username))
        if refusal is None:
            return _signed_in(tokens, account, attempt, "account.login_wechat")
    _sign_in_failed(attempt, "account.login_wechat_failed", refusal, (address,), account)
    raise Unauthenticated("该微信尚未绑定工作人员账号，请先用账号密码登录后绑定", code="WECHAT_NOT_BOUND")
