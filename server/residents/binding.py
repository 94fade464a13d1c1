"""Binding one's own real identity to a WeChat account, checked with the insurance platform.

Each identity, one's own or a family member's (`proxies`), is checked with the provincial
insurance platform (1101: insured, in this region, active) before anything is stored. The
platform's answers refresh the resident's insurance facts, and its outpatient
chronic/special registrations (5301) become benefit enrolments, which the signing rules
use to avoid paying a benefit twice.
"""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from server.audit import services as audit
from server.common import idcard, pii
from server.common.timeutil import utcnow
from server.common.uow import transaction
from server.errors import Conflict, RuleViolation, ValidationFailed
from server.extensions import db
from server.identity.models import WechatAccount
from server.identity.roles import Actor, Role, allowed
from server.integrations.insurance import ChronicRegistration, InsuranceClient, PersonInfo
from server.regions.models import Disease, Region
from server.residents.models import (
    BenefitEnrolment, BenefitScheme, ChronicCondition, FamilyLink, ProxyConfirmation, ProxyStatus, Relation, Resident,
)

CONSENT_VERSION = "2026.1"


@dataclass(frozen=True)
class Verified:
    """What the insurance platform said about a person, fetched before any transaction opens."""

    id_number: str
    person: PersonInfo
    registrations: list[ChronicRegistration]


def verify_with_platform(insurance: InsuranceClient, region_code: str, *, name: str, id_number: str,
                         consent: bool) -> Verified:
    """Ask the platform (1101, 5301) whether the person is insured and active in this region.

    Only with consent: a person's insurance record is not queried before they (or their
    guardian) agree, so the consent check comes first.
    """
    _require_consent(consent)
    number = idcard.normalise(id_number)
    if not idcard.is_valid(number):
        raise ValidationFailed(details={"fields": {"id_number": "身份证号码校验不通过"}})
    person = insurance.person_info(id_number=number, name=name)
    if person.insured_in(region_code) is None:
        raise RuleViolation("未在本统筹地区参加基本医疗保险或参保状态不正常，暂不能签约",
                            code="NOT_INSURED_IN_REGION")
    return Verified(number, person, insurance.chronic_registrations(person.psn_no))


@allowed(Role.RESIDENT)
def bind_self(actor: Actor, verified: Verified, *, phone: str | None) -> FamilyLink:
    """Bind the account holder's own identity (verified, with consent, by `verify_with_platform`)."""
    with transaction():
        account = db.session.get(WechatAccount, actor.account_id, with_for_update=True)
        if self_link(account.id) is not None:
            raise Conflict("本账号已绑定本人身份", code="IDENTITY_ALREADY_BOUND")
        resident = upsert_resident(account.region_id, verified, phone)
        if own_account(resident.id) is not None:
            raise Conflict("该身份已被其他微信账号绑定", code="IDENTITY_BOUND_ELSEWHERE")
        if phone:
            account.set_phone(phone)
        link = _link_self(account, resident)
        audit.record(actor, "resident.bind_self", "resident", resident.id)
    return link


def _require_consent(consent: bool) -> None:
    if not consent:
        raise RuleViolation("须本人（或监护人）同意授权后方可办理", code="CONSENT_REQUIRED")


def self_link(account_id: int) -> FamilyLink | None:
    """The account's own bound identity, if it has bound one."""
    return db.session.scalars(sa.select(FamilyLink).where(
        FamilyLink.wechat_account_id == account_id, FamilyLink.relation == Relation.SELF,
        FamilyLink.revoked_at.is_(None))).first()


def own_account(resident_id: int) -> WechatAccount | None:
    """The WeChat account that bound this person's own identity, if any."""
    return db.session.scalars(sa.select(WechatAccount).join(FamilyLink, sa.and_(
        FamilyLink.wechat_account_id == WechatAccount.id, FamilyLink.resident_id == resident_id,
        FamilyLink.relation == Relation.SELF, FamilyLink.revoked_at.is_(None)))).first()


def _link_self(account: WechatAccount, resident: Resident) -> FamilyLink:
    """One's own identity: the person's own consent, given by binding it."""
    now = utcnow()
    link = FamilyLink(wechat_account_id=account.id, resident_id=resident.id, relation=Relation.SELF,
                      status=ProxyStatus.ACTIVE, confirmed_via=ProxyConfirmation.OWN_IDENTITY, confirmed_at=now,
                      confirmed_by_wechat_account_id=account.id, consent_at=now, consent_version=CONSENT_VERSION)
    db.session.add(link)
    db.session.flush()
    return link


def upsert_resident(region_id: int, verified: Verified, phone: str | None) -> Resident:
    """Find the person by keyed hash or create them; refresh what the platform just said.

    The name stored is always the platform's (`PersonInfo.name`), never the spelling the
    caller typed, which the platform may have matched after normalising it.
    """
    person = verified.person
    resident = db.session.scalars(sa.select(Resident).where(
        Resident.id_number_hash == pii.blind_index(verified.id_number)).with_for_update()).first()
    if resident is None:
        resident = Resident(region_id=region_id, name=person.name, gender=idcard.gender(verified.id_number),
                            birth_date=idcard.birth_date(verified.id_number))
        resident.set_id_number(verified.id_number)
        db.session.add(resident)
    region_code = db.session.get(Region, region_id).admdvs_code
    insured = person.insured_in(region_code)
    resident.name = person.name
    resident.insurance_type = insured.insutype
    resident.insurance_status = "active"
    resident.insured_admdvs = insured.insuplc_admdvs
    resident.insurance_verified_at = utcnow()
    resident.populations = sorted(set(resident.populations or []) | set(person.identities))
    if phone:
        resident.set_phone(phone)
    db.session.flush()
    _record_registrations(resident, verified.registrations)
    return resident


def _record_registrations(resident: Resident, registrations: list[ChronicRegistration]) -> None:
    """5301 registrations for a covered disease become chronic/special-disease enrolments."""
    by_code = {code: disease.code for disease in db.session.scalars(sa.select(Disease))
               for code in disease.opsp_codes}
    for registration in registrations:
        disease_code = by_code.get(registration.disease_code)
        if disease_code is None:
            continue
        exists = db.session.scalar(sa.select(BenefitEnrolment.id).where(
            BenefitEnrolment.resident_id == resident.id,
            BenefitEnrolment.scheme == BenefitScheme.CHRONIC_SPECIAL_OUTPATIENT,
            BenefitEnrolment.disease_code == disease_code, BenefitEnrolment.valid_from == registration.begin))
        if exists is None:
            db.session.add(BenefitEnrolment(resident_id=resident.id, scheme=BenefitScheme.CHRONIC_SPECIAL_OUTPATIENT,
                                            disease_code=disease_code, valid_from=registration.begin,
                                            valid_to=registration.end))
        if db.session.scalar(sa.select(ChronicCondition.id).where(
                ChronicCondition.resident_id == resident.id, ChronicCondition.disease_code == disease_code)) is None:
            db.session.add(ChronicCondition(resident_id=resident.id, disease_code=disease_code,
                                            diagnosed_on=registration.begin, source="insurance_5301"))
    db.session.flush()

