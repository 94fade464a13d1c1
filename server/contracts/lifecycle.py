"""The resident's contract use cases: sign, renew, change team (转签), cancel (解约).

A contract year is the calendar year: a contract signed mid-year runs to 31 December, a
renewal covers the next whole year. A contract whose personal share another fund pays is
active at once; otherwise it waits for payment.
"""
from __future__ import annotations

import secrets
from datetime import date
from fractions import Fraction

import sqlalchemy as sa

from server.audit import services as audit
from server.common.guards import unique_guard
from server.common.timeutil import local_today, utcnow
from server.common.uow import transaction
from server.contracts import eligibility, transitions, usage
from server.contracts.models import Contract
from server.contracts.states import ContractStatus
from server.errors import Conflict, RuleViolation
from server.extensions import db
from server.identity.roles import Actor, Role, allowed
from server.identity.scoping import get_visible
from server.integrations.wechatpay import WechatPayClient
from server.payments import services as payments
from server.packages.models import PackageVersion
from server.regions.models import LocalRules, Region
from server.regions.rules import rules_in_force
from server.residents.models import Resident
from server.teams.models import Team, TeamMembership

RENEWAL_OPENS_DAYS_BEFORE_END = 60


@allowed(Role.RESIDENT)
def sign(actor: Actor, *, resident_id: int, team_id: int, package_version_id: int, consent: bool,
         consent_version: str, on: date | None = None) -> Contract:
    """Sign for oneself or a family member one acts for; the contract waits for payment."""
    on = on or local_today()
    if not consent:
        raise RuleViolation("须同意签约服务协议后方可签约", code="CONSENT_REQUIRED")
    with transaction():
        contract = _new_contract(actor, resident_id, team_id, package_version_id, on, date(on.year, 12, 31),
                                 consent_version=consent_version)
        audit.record(actor, "contract.sign", "contract", contract.id, {"status": contract.status.value})
    return contract


@allowed(Role.RESIDENT)
def renew(actor: Actor, contract_id: int, *, consent: bool, consent_version: str,
          today: date | None = None) -> Contract:
    """Sign the next year with the same team and package (one step)."""
    if not consent:
        raise RuleViolation("须同意签约服务协议后方可续约", code="CONSENT_REQUIRED")
    today = today or local_today()
    with transaction():
        current = get_visible(Contract, contract_id, actor)
        if current.status not in (ContractStatus.ACTIVE, ContractStatus.EXPIRED):
            raise RuleViolation("只有履约中或已到期的签约可以续约", code="RENEWAL_NOT_ALLOWED")
        if (current.period_end - today).days > RENEWAL_OPENS_DAYS_BEFORE_END:
            raise RuleViolation(f"签约到期前{RENEWAL_OPENS_DAYS_BEFORE_END}天内方可续约", code="RENEWAL_TOO_EARLY")
        year = max(current.period_year + 1, today.year)
        start = date(year, 1, 1)
        version = _version_in_force(db.session.get(PackageVersion, current.package_version_id).package_id, start)
        contract = _new_contract(actor, current.resident_id, current.team_id, version.id, start, date(year, 12, 31),
                                 consent_version=consent_version, renewed_from_id=current.id)
        audit.record(actor, "contract.renew", "contract", contract.id, {"renewed_from": current.id})
    return contract


@allowed(Role.RESIDENT)
def change_team(actor: Actor, contract_id: int, *, team_id: int, reason: str) -> Contract:
    """Move an active contract to another team for the rest of its period; what was paid carries over."""
    with transaction():
        current = get_visible(Contract, contract_id, actor)
        if current.status is not ContractStatus.ACTIVE:
            raise RuleViolation("只有履约中的签约可以更换团队", code="CONTRACT_NOT_ACTIVE")
        if current.team_id == team_id:
            raise RuleViolation("新团队与当前团队相同", code="SAME_TEAM")
        team = _lock_team(team_id, current.region_id)
        eligibility.check_team_open(team, current.period_year)
        current, _ = transitions.move(actor, contract_id, ContractStatus.TRANSFERRED, reason)
        db.session.flush()  # frees the person's place for the period before the new contract takes it
        contract = _copy(current, team, today=local_today())
        transitions.opened(actor, contract, f"由{current.contract_no}转签：{reason}")
        audit.record(actor, "contract.change_team", "contract", contract.id,
                     {"from_contract": current.id, "from_team": current.team_id, "to_team": team.id,
                      "reason": reason})
    return contract


def _new_contract(actor: Actor, resident_id: int, team_id: int, package_version_id: int, start: date,
                  end: date, *, consent_version: str, renewed_from_id: int | None = None) -> Contract:
    resident = get_visible(Resident, resident_id, actor)
    region = db.session.get(Region, resident.region_id)
    problem = eligibility.insured_problem(resident, region)
    if problem:
        raise problem
    rules: LocalRules = rules_in_force(region.id, start)
    version = db.session.get(PackageVersion, package_version_id)
    if version is None or version.region_id != region.id:
        raise RuleViolation("服务包不存在或不属于本统筹地区", code="PACKAGE_NOT_FOUND")
    problems = eligibility.package_problems(resident, version, rules, start)
    if problems:
        raise problems[0]
    if eligibility.live_contract_exists(resident.id, start.year):
        raise Conflict("该人员本年度已有签约（待缴费或履约中）", code="CONTRACT_EXISTS")
    team = _lock_team(team_id, region.id)
    eligibility.check_team_open(team, start.year)
    split = eligibility.split_for(resident, rules, start)
    status = ContractStatus.PENDING_PAYMENT if split.resident_pays_fen else ContractStatus.ACTIVE
    now = utcnow()
    contract = Contract(
        contract_no=_contract_no(start), region_id=region.id, resident_id=resident.id,
        institution_id=team.institution_id, team_id=team.id, doctor_staff_id=_leader(team.id),
        package_version_id=version.id, rules_id=rules.id, status=status, period_year=start.year,
        period_start=start, period_end=end, channel="mini_program", consent_at=now, consent_version=consent_version,
        signed_by_wechat_account_id=actor.account_id, fee_per_head_fen=split.fee_per_head_fen,
        personal_share_fen=split.personal_share_fen, public_health_share_fen=split.public_health_share_fen,
        insurance_fund_share_fen=split.insurance_fund_share_fen, personal_share_payer=split.personal_share_payer,
        activated_at=now if status is ContractStatus.ACTIVE else None, renewed_from_id=renewed_from_id)
    db.session.add(contract)
    # A concurrent sign-up for the same person may have won the race past the eligibility check.
    with unique_guard("uq_contract_live_per_period",
                      Conflict("该人员本年度已有签约（待缴费或履约中）", code="CONTRACT_EXISTS")):
        db.session.flush()
    transitions.opened(actor, contract, "签约", at=now)
    return contract


def _copy(current: Contract, team: Team, *, today: date) -> Contract:
    contract = Contract(
        contract_no=_contract_no(today), region_id=current.region_id, resident_id=current.resident_id,
        institution_id=team.institution_id, team_id=team.id, doctor_staff_id=_leader(team.id),
        package_version_id=current.package_version_id, rules_id=current.rules_id, status=ContractStatus.ACTIVE,
        period_year=current.period_year, period_start=max(today, current.period_start), period_end=current.period_end,
        channel=current.channel, consent_at=current.consent_at, consent_version=current.consent_version,
        signed_by_wechat_account_id=current.signed_by_wechat_account_id,
        fee_per_head_fen=current.fee_per_head_fen, personal_share_fen=current.personal_share_fen,
        public_health_share_fen=current.public_health_share_fen,
        insurance_fund_share_fen=current.insurance_fund_share_fen,
        personal_share_payer=current.personal_share_payer, activated_at=utcnow(), transferred_from_id=current.id)
    db.session.add(contract)
    db.session.flush()
    return contract


def _lock_team(team_id: int, region_id: int) -> Team:
    """Lock the team row so two sign-ups cannot both take its last place."""
    team = db.session.scalars(sa.select(Team).where(Team.id == team_id).with_for_update()).first()
    if team is None or team.region_id != region_id:
        raise RuleViolation("团队不存在或不属于本统筹地区", code="TEAM_NOT_FOUND")
    return team


def _leader(team_id: int) -> int | None:
    return db.session.scalar(sa.select(TeamMembership.staff_id).where(
        TeamMembership.team_id == team_id, TeamMembership.left_on.is_(None))
        .order_by(TeamMembership.is_leader.desc(), TeamMembership.id).limit(1))


def _version_in_force(package_id: int, on: date) -> PackageVersion:
    version = db.session.scalars(sa.select(PackageVersion).where(
        PackageVersion.package_id == package_id, PackageVersion.effective_from <= on,
        sa.or_(PackageVersion.effective_to.is_(None), PackageVersion.effective_to >= on))
        .order_by(PackageVersion.version.desc()).limit(1)).first()
    if version is None:
        raise RuleViolation("该服务包下一年度暂未发布", code="PACKAGE_NOT_IN_FORCE")
    return version


def _contract_no(on: date) -> str:
    return f"QY{on:%Y%m%d}{secrets.token_hex(5).upper()}"


@allowed(Role.RESIDENT)
def cancel(actor: Actor, wechatpay: WechatPayClient, contract_id: int, *, reason: str) -> Contract:
    """Cancel (解约): before any service, everything paid comes back; after, as the region's rules say.

    The state change and the refund rows are one transaction under the contract's row lock,
    so two cancellations at once produce one refund; WeChat Pay is called after the commit
    with stable `out_refund_no`s.
    """
    with transaction():
        contract, was = transitions.move(actor, contract_id, ContractStatus.CANCELLED, reason)
        share = _refund_share(contract) if was is ContractStatus.ACTIVE else Fraction(0)
        owed = payments.refund_paid_share(contract, share, f"解约退费：{reason}")
        audit.record(actor, "contract.cancel", "contract", contract.id,
                     {"from": was.value, "refund_fen": owed.refund_fen, "reason": reason})
    payments.finish_cancellation(wechatpay, owed)
    return contract


def _refund_share(contract: Contract) -> Fraction:
    """The part of what was paid that comes back: all of it before any service, after that as the rules say."""
    if usage.services_delivered(contract.id) == 0:
        return Fraction(1)
    return refund_share(contract, db.session.get(LocalRules, contract.rules_id).refund_after_service)


def refund_share(contract: Contract, policy: str) -> Fraction:
    """The part of what was paid that a refund policy of the rules (`regions.rules.REFUND_POLICIES`) gives back."""
    if policy == "full":
        return Fraction(1)
    if policy == "unused_items":
        unused, total = usage.unused_share(contract)
        return Fraction(unused, total) if total else Fraction(0)
    return Fraction(0)
