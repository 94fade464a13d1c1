"""Acting for another person (亲情代办): invitation, the person's consent, in-person checks, ending.

Knowing someone's name and ID number is not their consent. Adding a family member creates
a pending link that shows its holder only the invitation (relation, masked name, status,
code, expiry). It becomes active, and only then counts in the holder's scope, when
- an adult (by the age in the ID number and the rules' guardian age line) accepts from
  their own WeChat account bound to their own identity, or a team member confirms the
  relation face to face; an adult whose identity another account already holds is told
  by subscribe message and must accept from that account;
- a child under the age line has had the guardian confirmed in person by a team member
  (a child cannot accept).
The person concerned sees every proxy on them and may end any; the holder may end their
own. How many people one account may act for comes from the region's rules.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import aliased, selectinload

from server.audit import services as audit
from server.common.timeutil import local_today, utcnow
from server.common.uow import transaction
from server.contracts.eligibility import age_on
from server.errors import Conflict, NotFound, RuleViolation, ValidationFailed
from server.extensions import db
from server.identity.models import WechatAccount
from server.identity.roles import Actor, Role, allowed
from server.integrations.insurance import InsuranceClient
from server.integrations.wechat import WechatClient
from server.messaging import services as messaging
from server.regions.rules import rules_in_force
from server.residents import binding
from server.residents.models import FamilyLink, ProofDocument, ProxyConfirmation, ProxyStatus, Relation, Resident

# How long a code shown on the holder's phone stays usable: a bearer secret's lifetime, not
# a regional policy. 12 characters from 31 unambiguous ones are about 2^59 possibilities.
INVITATION_VALID_FOR = timedelta(days=7)
_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
_CODE_LENGTH = 12
_LIVE = (ProxyStatus.PENDING, ProxyStatus.ACTIVE)


@dataclass(frozen=True)
class ProxyOnMe:
    """A proxy someone holds over the caller's own identity, with the holder's own name."""

    link: FamilyLink
    holder_name: str | None
    minor: bool  # under the guardian age line: only a team member's in-person check activates it


@allowed(Role.RESIDENT)
def add_family_member(actor: Actor, insurance: InsuranceClient, region_code: str, *, name: str, id_number: str,
                      consent: bool, relation: Relation, wechat: WechatClient, template_id: str) -> FamilyLink:
    """Invite a person to be acted for; nothing of theirs is shared until they or a team member confirm.

    The room under the rules' limit is checked before the platform is asked (so the
    endpoint is no lookup service) and again under the account's lock. An account that
    already holds the person's own identity is told by subscribe message, after the commit.
    """
    if relation is Relation.SELF:
        raise ValidationFailed(details={"fields": {"relation": "家庭成员关系不能为本人"}})
    with transaction():
        _check_may_invite(actor)
    verified = binding.verify_with_platform(insurance, region_code, name=name, id_number=id_number, consent=consent)
    with transaction():
        account = db.session.get(WechatAccount, actor.account_id, with_for_update=True)
        resident = binding.upsert_resident(account.region_id, verified, None)
        existing = db.session.scalars(sa.select(FamilyLink).where(
            FamilyLink.wechat_account_id == account.id, FamilyLink.resident_id == resident.id,
            FamilyLink.status.in_(_LIVE))).first()
        if existing is not None and not _expired(existing):
            raise Conflict("该家庭成员已添加", code="FAMILY_MEMBER_EXISTS")
        if existing is not None:
            _end(existing)
        _check_may_invite(actor)
        link = FamilyLink(wechat_account_id=account.id, resident_id=resident.id, relation=relation,
                          status=ProxyStatus.PENDING, invitation_code=_new_code(),
                          invitation_expires_at=utcnow() + INVITATION_VALID_FOR)
        db.session.add(link)
        db.session.flush()
        owner = binding.own_account(resident.id)
        audit.record(actor, "resident.proxy_invite", "family_link", link.id,
                     {"resident_id": resident.id, "relation": relation.value, "minor": _is_minor(actor, resident),
                      "owner_notified": owner is not None})
    if owner is not None:
        messaging.send(wechat, owner, template_id=template_id, purpose="proxy_invitation", subject_id=str(link.id),
                       page="pages/proxies/on-me", data={"thing1": "亲情代办授权申请",
                                                         "thing2": "有人申请代您办理家庭医生签约，请确认或拒绝"})
    return link


@allowed(Role.RESIDENT)
def remove_family_member(actor: Actor, resident_id: int) -> None:
    """The holder stops acting for someone, or withdraws an invitation; effective at once."""
    with transaction():
        link = db.session.scalars(sa.select(FamilyLink).where(
            FamilyLink.wechat_account_id == actor.account_id, FamilyLink.resident_id == resident_id,
            FamilyLink.status.in_(_LIVE)).with_for_update()).first()
        if link is None:
            raise NotFound()
        if link.relation is Relation.SELF:
            raise RuleViolation("本人身份不能移除", code="CANNOT_REMOVE_SELF")
        was = link.status
        _end(link)
        audit.record(actor, "resident.remove_family", "resident", resident_id,
                     {"family_link_id": link.id, "was": was.value})


@allowed(Role.RESIDENT)
def proxies_on_me(actor: Actor) -> list[ProxyOnMe]:
    """Every pending or active proxy any account holds over my own identity."""
    return _on_me_with_holders(actor, _my_identity(actor))


@allowed(Role.RESIDENT)
def accept(actor: Actor, link_id: int) -> ProxyOnMe:
    """The person concerned, signed in with their own identity, consents to an invitation."""
    with transaction():
        me = _my_identity(actor)
        link = _on_me(me, link_id, ProxyStatus.PENDING)
        if _expired(link):
            raise RuleViolation("邀请已过期，请对方重新发起", code="INVITATION_EXPIRED")
        if _is_minor(actor, link.resident):
            raise RuleViolation("未成年人的代办须由家庭医生团队当面核验监护关系", code="GUARDIAN_NEEDS_IN_PERSON_CHECK")
        _activate(link, ProxyConfirmation.ACCEPTED, wechat_account_id=actor.account_id)
        audit.record(actor, "resident.proxy_accept", "family_link", link.id,
                     {"holder_account_id": link.wechat_account_id, "relation": link.relation.value})
        [accepted] = _on_me_with_holders(actor, me, FamilyLink.id == link.id)
    return accepted


@allowed(Role.RESIDENT)
def end_on_me(actor: Actor, link_id: int) -> None:
    """The person concerned declines an invitation or ends a proxy on them; effective at once."""
    with transaction():
        link = _on_me(_my_identity(actor), link_id, *_LIVE)
        was = link.status
        _end(link)
        audit.record(actor, "resident.proxy_end", "family_link", link.id,
                     {"holder_account_id": link.wechat_account_id, "was": was.value})


@allowed(Role.TEAM_MEMBER)
def confirm_in_person(actor: Actor, code: str, documents_seen: list[ProofDocument]) -> FamilyLink:
    """A team member, having seen the people and their documents, confirms a pending proxy.

    A wrong, used, expired or other region's code is a plain 404 that names nobody; the
    attempt is still audited, so guessing leaves a trail.
    """
    with transaction():
        link = db.session.scalars(
            sa.select(FamilyLink).join(WechatAccount, WechatAccount.id == FamilyLink.wechat_account_id)
            .where(FamilyLink.invitation_code == code.strip().upper(), FamilyLink.status == ProxyStatus.PENDING,
                   FamilyLink.invitation_expires_at > utcnow(), WechatAccount.region_id == actor.region_id)
            .options(selectinload(FamilyLink.resident)).with_for_update(of=FamilyLink)).first()
        if link is None:
            audit.record(actor, "resident.proxy_confirm_refused", "family_link", "*")
        else:
            minor = _is_minor(actor, link.resident)
            if not minor and binding.own_account(link.resident_id) is not None:
                raise RuleViolation("本人已绑定微信，须由本人在小程序中同意", code="PERSON_MUST_ACCEPT")
            _activate(link, ProxyConfirmation.IN_PERSON, user_account_id=actor.account_id,
                      documents=list(dict.fromkeys(document.value for document in documents_seen)))
            audit.record(actor, "resident.proxy_confirm_in_person", "family_link", link.id,
                         {"resident_id": link.resident_id, "holder_account_id": link.wechat_account_id,
                          "relation": link.relation.value, "guardian": minor, "documents": link.documents_seen})
    if link is None:
        raise NotFound()
    return link


def _check_may_invite(actor: Actor) -> None:
    """The account has bound its own identity and has room under the rules' limit."""
    _my_identity(actor)
    limit = rules_in_force(actor.region_id, local_today()).proxy_max_people
    held = db.session.scalar(sa.select(sa.func.count(FamilyLink.id)).where(
        FamilyLink.wechat_account_id == actor.account_id, FamilyLink.relation != Relation.SELF,
        FamilyLink.status.in_(_LIVE)))
    if held >= limit:
        raise RuleViolation(f"一个微信账号最多为{limit}人代办", code="PROXY_LIMIT_REACHED",
                            details={"max_people": limit})


def _my_identity(actor: Actor) -> FamilyLink:
    me = binding.self_link(actor.account_id)
    if me is None:
        raise RuleViolation("请先绑定本人身份", code="IDENTITY_NOT_BOUND")
    return me


def _on_me(me: FamilyLink, link_id: int, *statuses: ProxyStatus) -> FamilyLink:
    """A proxy over my own identity in one of `statuses`; anything else is 404."""
    link = db.session.scalars(sa.select(FamilyLink).where(
        FamilyLink.id == link_id, FamilyLink.resident_id == me.resident_id, FamilyLink.relation != Relation.SELF,
        FamilyLink.status.in_(statuses)).options(selectinload(FamilyLink.resident)).with_for_update()).first()
    if link is None:
        raise NotFound()
    return link


def _on_me_with_holders(actor: Actor, me: FamilyLink, *where) -> list[ProxyOnMe]:
    """Live proxies over my identity, each with the name its holder bound as their own."""
    holder_self = aliased(FamilyLink)
    holder = aliased(Resident)
    rows = db.session.execute(
        sa.select(FamilyLink, holder.name)
        .outerjoin(holder_self, sa.and_(holder_self.wechat_account_id == FamilyLink.wechat_account_id,
                                        holder_self.relation == Relation.SELF, holder_self.revoked_at.is_(None)))
        .outerjoin(holder, holder.id == holder_self.resident_id)
        .where(FamilyLink.resident_id == me.resident_id, FamilyLink.relation != Relation.SELF,
               FamilyLink.status.in_(_LIVE), *where)
        .options(selectinload(FamilyLink.resident)).order_by(FamilyLink.id)).all()
    return [ProxyOnMe(link, name, _is_minor(actor, link.resident)) for link, name in rows]


def _is_minor(actor: Actor, resident: Resident) -> bool:
    """Under the rules' guardian age line, by the birth date in the ID number."""
    today = local_today()
    return age_on(resident, today) < rules_in_force(actor.region_id, today).guardian_child_max_age


def _expired(link: FamilyLink) -> bool:
    return link.status is ProxyStatus.PENDING and link.invitation_expires_at <= utcnow()


def _activate(link: FamilyLink, via: ProxyConfirmation, *, wechat_account_id: int | None = None,
              user_account_id: int | None = None, documents: list[str] | None = None) -> None:
    """The person (or, for a child, the guardian) has consented: the link counts from now on."""
    now = utcnow()
    link.status = ProxyStatus.ACTIVE
    link.confirmed_via = via
    link.confirmed_at = now
    link.confirmed_by_wechat_account_id = wechat_account_id
    link.confirmed_by_user_account_id = user_account_id
    link.documents_seen = documents or []
    link.consent_at = now
    link.consent_version = binding.CONSENT_VERSION
    link.invitation_code = None


def _end(link: FamilyLink) -> None:
    link.status = ProxyStatus.ENDED
    link.revoked_at = utcnow()
    link.invitation_code = None


def _new_code() -> str:
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(_CODE_LENGTH))
