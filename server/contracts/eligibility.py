"""What a person may sign, with whom, and what they would pay: the signing rules in one place."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from server.common.timeutil import local_today
from server.contracts.models import Contract
from server.contracts.states import LIVE_STATES
from server.errors import RuleViolation
from server.extensions import db
from server.identity.roles import Actor, Role, allowed
from server.identity.scoping import get_visible
from server.institutions.models import Agreement, AgreementStatus
from server.packages.models import PackageVersion, ServicePackage
from server.regions.models import LocalRules, Region
from server.regions.rules import FeeSplit, fee_split, rules_in_force
from server.residents.benefits import held_for_package
from server.residents.models import ChronicCondition, Resident
from server.teams.models import Team


@dataclass
class Offer:
    """A package version a person may (or may not, with reasons) sign, and their fee split."""

    package: ServicePackage
    version: PackageVersion
    split: FeeSplit
    reasons: list[RuleViolation] = field(default_factory=list)

    @property
    def eligible(self) -> bool:
        return not self.reasons


def age_on(resident: Resident, on: date) -> int:
    born = resident.birth_date
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def package_problems(resident: Resident, version: PackageVersion, rules: LocalRules, on: date) -> list[RuleViolation]:
    """Why `resident` may not sign `version` on `on` (empty when they may)."""
    problems = []
    if version.effective_from > on or (version.effective_to is not None and version.effective_to < on):
        problems.append(RuleViolation("该服务包版本不在有效期内", code="PACKAGE_NOT_IN_FORCE"))
    covered = set(version.target_disease_codes) & set(rules.covered_disease_codes)
    conditions = set(db.session.scalars(sa.select(ChronicCondition.disease_code).where(
        ChronicCondition.resident_id == resident.id)))
    if version.target_disease_codes and not (covered & conditions):
        problems.append(RuleViolation("签约对象须患有该服务包所针对的病种", code="PACKAGE_CONDITION_NOT_MET",
                                      details={"diseases": sorted(version.target_disease_codes)}))
    if age_on(resident, on) < version.min_age:
        problems.append(RuleViolation(f"该服务包适用于{version.min_age}岁及以上人员", code="PACKAGE_AGE_NOT_MET"))
    duplicates = held_for_package(resident.id, version, rules, on)
    if duplicates:
        problems.append(RuleViolation(
            "已享受“两病”门诊用药保障或门诊慢特病待遇，不能重复享受同病种签约服务待遇", code="DUPLICATE_BENEFIT",
            details={"schemes": sorted({d.scheme.value for d in duplicates})}))
    return problems


def insured_problem(resident: Resident, region: Region) -> RuleViolation | None:
    if resident.insured_admdvs != region.admdvs_code or resident.insurance_status != "active":
        return RuleViolation("未在本统筹地区参加基本医疗保险或参保状态不正常，暂不能签约",
                             code="NOT_INSURED_IN_REGION")
    return None


def split_for(resident: Resident, rules: LocalRules, on: date) -> FeeSplit:
    return fee_split(rules, list(resident.populations or []), on)


def live_contract_exists(resident_id: int, period_year: int) -> bool:
    return db.session.scalar(sa.select(Contract.id).where(
        Contract.resident_id == resident_id, Contract.period_year == period_year,
        Contract.status.in_(LIVE_STATES))) is not None


def signed_counts(team_ids: list[int], period_year: int) -> dict[int, int]:
    """Live contracts per team for a contract year, in one grouped query."""
    rows = db.session.execute(
        sa.select(Contract.team_id, sa.func.count()).where(
            Contract.team_id.in_(team_ids), Contract.period_year == period_year, Contract.status.in_(LIVE_STATES))
        .group_by(Contract.team_id)).all()
    return dict(rows)


def check_team_open(team: Team, period_year: int) -> None:
    """The team takes new people: active, its institution under an active agreement, not full."""
    if not team.is_active:
        raise RuleViolation("该团队已停止签约", code="TEAM_INACTIVE")
    agreement = db.session.scalar(sa.select(Agreement.id).where(
        Agreement.institution_id == team.institution_id, Agreement.status == AgreementStatus.ACTIVE))
    if agreement is None:
        raise RuleViolation("该机构医保协议未生效或已暂停，暂不能签约", code="AGREEMENT_NOT_ACTIVE")
    if signed_counts([team.id], period_year).get(team.id, 0) >= team.capacity:
        raise RuleViolation("该团队签约人数已满，请选择其他团队", code="TEAM_FULL")


@allowed(Role.RESIDENT)
def offers_for(actor: Actor, resident_id: int, on: date | None = None) -> list[Offer]:
    """Every package version in force for the person's region, each with its fee split and any reasons why not."""
    on = on or local_today()
    resident = get_visible(Resident, resident_id, actor)
    region = db.session.get(Region, resident.region_id)
    rules = rules_in_force(region.id, on)
    split = split_for(resident, rules, on)
    general = [p for p in (insured_problem(resident, region),) if p]
    if live_contract_exists(resident.id, on.year):
        general.append(RuleViolation("该人员本年度已有签约（待缴费或履约中）", code="CONTRACT_EXISTS"))
    rows = db.session.execute(
        sa.select(ServicePackage, PackageVersion).join(PackageVersion, PackageVersion.package_id == ServicePackage.id)
        .where(PackageVersion.region_id == region.id, PackageVersion.effective_from <= on,
               sa.or_(PackageVersion.effective_to.is_(None), PackageVersion.effective_to >= on))
        .options(selectinload(PackageVersion.items)).order_by(ServicePackage.id)).all()
    return [Offer(package, version, split, general + package_problems(resident, version, rules, on))
            for package, version in rows]
