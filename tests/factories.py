"""A small two-region world with every role, for scope, masking and validation tests.

Region A (漳州) has institutions I1 (teams T1, T2) and I2 (team T3); region B (厦门) has I3
(team T4). Residents R1 and R5 (R1's child) sign with T1, R2 with T2, R3 with T3, R4 with
T4. WeChat account W1 acts for R1 and R5, W2 for R2.
"""
from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

from server.common import idcard
from server.common.timeutil import SHANGHAI, local_today, utcnow
from server.contracts.models import Contract, ContractEvent
from server.demo.catalogue import ZHANGZHOU_RULES
from server.contracts.states import ContractStatus
from server.extensions import db
from server.identity.models import UserAccount, WechatAccount
from server.identity.roles import Role
from server.identity.services import hash_password, issue_resident_token
from server.institutions.models import Agreement, AgreementEvent, AgreementStatus, Institution
from server.packages.models import ItemCategory, PackageItem, PackageVersion, ServicePackage
from server.regions.models import LocalRules, Region
from server.residents.models import ChronicCondition, FamilyLink, ProxyConfirmation, ProxyStatus, Relation, Resident
from server.servicerecords.models import ServiceRecord, ServiceType
from server.surveys.models import Survey, SurveyInvitation
from server.teams.models import Staff, StaffKind, Team, TeamMembership

PASSWORD = "Test@2026"
# Tests serve and prescribe up to weeks ago under this year's contracts. In a year's first
# weeks that is before 1 January, so there the world's contracts start earlier than real ones.
HISTORY_DAYS = 90
_sequence = itertools.count(1)
_PASSWORD_HASH: list[str] = []


def password_hash() -> str:
    if not _PASSWORD_HASH:  # argon2 is slow on purpose; hash the shared test password once
        _PASSWORD_HASH.append(hash_password(PASSWORD))
    return _PASSWORD_HASH[0]


def rules_kwargs(**overrides) -> dict:
    """Zhangzhou's numbers: 100 yuan = 20 personal + 40 public health + 40 insurance fund."""
    values = {**copy.deepcopy(ZHANGZHOU_RULES), "effective_from": date(2024, 1, 1),
              "document_no": "漳医保〔2024〕1号"}
    values.update(overrides)
    return values


def add(obj):
    db.session.add(obj)
    db.session.flush()
    return obj


def make_region(code: str, name: str) -> Region:
    region = add(Region(admdvs_code=code, name=name))
    add(LocalRules(region_id=region.id, **rules_kwargs()))
    return region


def make_institution(region: Region, name: str) -> Institution:
    n = next(_sequence)
    institution = add(Institution(region_id=region.id, code=f"H{region.admdvs_code}{n:05d}", name=name,
                                  kind="乡镇卫生院"))
    agreement = add(Agreement(region_id=region.id, institution_id=institution.id, agreement_no=f"XY-{n:05d}",
                              period_start=date(2024, 1, 1), period_end=date(2026, 12, 31),
                              status=AgreementStatus.ACTIVE))
    add(AgreementEvent(agreement_id=agreement.id, to_status=AgreementStatus.ACTIVE, reason="签订协议"))
    return institution


def make_team(institution: Institution, name: str) -> tuple[Team, Staff]:
    team = add(Team(region_id=institution.region_id, institution_id=institution.id, name=name, capacity=500))
    doctor = add(Staff(region_id=institution.region_id, institution_id=institution.id, name=f"{name}医生",
                       kind=StaffKind.DOCTOR, licence_no=f"1103506{next(_sequence):08d}"))
    doctor.set_phone(f"139{next(_sequence):08d}")
    add(TeamMembership(team_id=team.id, staff_id=doctor.id, is_leader=True, joined_on=date(2024, 1, 1)))
    return team, doctor


def make_package(region: Region) -> tuple[PackageVersion, PackageItem]:
    package = add(ServicePackage(region_id=region.id, code=f"HTN-{region.admdvs_code}", name="高血压签约服务包"))
    version = add(PackageVersion(package_id=package.id, region_id=region.id, version=1,
                                 effective_from=date(2024, 1, 1), target_disease_codes=["hypertension"]))
    item = add(PackageItem(package_version_id=version.id, region_id=region.id, code="BP", name="血压测量",
                           category=ItemCategory.FOLLOW_UP, target_disease_codes=["hypertension"],
                           yearly_quantity=4, unit_value_fen=500))
    return version, item


def make_resident(region: Region, name: str, born: date = date(1960, 5, 17)) -> Resident:
    number = idcard.make(region.admdvs_code, born, next(_sequence))
    resident = Resident(region_id=region.id, name=name, gender=idcard.gender(number), birth_date=born,
                        insurance_type="390", insurance_status="active", insured_admdvs=region.admdvs_code)
    resident.set_id_number(number)
    resident.set_phone(f"138{next(_sequence):08d}")
    add(resident)
    add(ChronicCondition(resident_id=resident.id, disease_code="hypertension", diagnosed_on=date(2020, 3, 1)))
    return resident


def period_start(year: int) -> date:
    """1 January of `year`; for this year's contracts, no later than `HISTORY_DAYS` before today."""
    today = local_today()
    return min(date(year, 1, 1), today - timedelta(days=HISTORY_DAYS)) if year == today.year else date(year, 1, 1)


def make_contract(resident: Resident, team: Team, doctor: Staff, version: PackageVersion,
                  status: ContractStatus = ContractStatus.ACTIVE, year: int | None = None) -> Contract:
    year = year or local_today().year
    rules = db.session.query(LocalRules).filter_by(region_id=resident.region_id).first()
    start = period_start(year)
    now = datetime.combine(start + timedelta(days=4), time(10), SHANGHAI).astimezone(timezone.utc)  # e.g. 5 Jan
    contract = add(Contract(
        contract_no=f"QY{year}{next(_sequence):08d}", region_id=resident.region_id, resident_id=resident.id,
        institution_id=team.institution_id, team_id=team.id, doctor_staff_id=doctor.id,
        package_version_id=version.id, rules_id=rules.id, status=status, period_year=year,
        period_start=start, period_end=date(year, 12, 31), channel="mini_program",
        consent_at=now, consent_version="2026.1", fee_per_head_fen=10000, personal_share_fen=2000,
        public_health_share_fen=4000, insurance_fund_share_fen=4000,
        activated_at=None if status is ContractStatus.PENDING_PAYMENT else now))  # ended ones were active once
    add(ContractEvent(contract_id=contract.id, from_status=ContractStatus.PENDING_PAYMENT,
                      to_status=status, at=now))
    return contract


def make_served_visit(contract: Contract) -> tuple[ServiceRecord, SurveyInvitation]:
    """A follow-up a week ago (in a year's first week, on 1 January, as the year's counts want it),
    waiting for the resident's confirmation, and its survey invitation."""
    item = db.session.query(PackageItem).filter_by(package_version_id=contract.package_version_id).first()
    new_year = datetime.combine(date(local_today().year, 1, 1), time(8), SHANGHAI)
    served = max(utcnow() - timedelta(days=7), new_year).astimezone(timezone.utc)
    record = add(ServiceRecord(contract_id=contract.id, package_item_id=item.id, resident_id=contract.resident_id,
                               region_id=contract.region_id, institution_id=contract.institution_id,
                               team_id=contract.team_id, staff_id=contract.doctor_staff_id,
                               service_type=ServiceType.CLINIC, served_at=served, served_on=served.date()))
    survey = db.session.query(Survey).filter_by(region_id=contract.region_id).first() or add(
        Survey(region_id=contract.region_id, name="家庭医生签约服务满意度调查"))
    invitation = add(SurveyInvitation(survey_id=survey.id, contract_id=contract.id, service_record_id=record.id,
                                      invited_at=served, expires_at=served + timedelta(days=14)))
    return record, invitation


def make_account(role: Role, region: Region, *, institution: Institution | None = None,
                 staff: Staff | None = None) -> UserAccount:
    return add(UserAccount(username=f"{role.value}-{next(_sequence)}", password_hash=password_hash(),
                           display_name=role.value, role=role, region_id=region.id,
                           institution_id=institution.id if institution else None,
                           staff_id=staff.id if staff else None))


def make_wechat(region: Region, *links: tuple[Resident, Relation]) -> WechatAccount:
    account = add(WechatAccount(appid="wx0000000000000000", openid=f"o{next(_sequence):027d}", region_id=region.id))
    consented = datetime.combine(period_start(local_today().year) + timedelta(days=1), time(8), SHANGHAI) \
        .astimezone(timezone.utc)
    for resident, relation in links:
        # Active links: one's own identity, or family a team member confirmed in person.
        via = ProxyConfirmation.OWN_IDENTITY if relation is Relation.SELF else ProxyConfirmation.IN_PERSON
        add(FamilyLink(wechat_account_id=account.id, resident_id=resident.id, relation=relation,
                       status=ProxyStatus.ACTIVE, confirmed_via=via, confirmed_at=consented, consent_at=consented,
                       consent_version="2026.1"))
    return account


@dataclass
class World:
    regions: dict[str, Region] = field(default_factory=dict)
    institutions: dict[str, Institution] = field(default_factory=dict)
    teams: dict[str, Team] = field(default_factory=dict)
    doctors: dict[str, Staff] = field(default_factory=dict)
    residents: dict[str, Resident] = field(default_factory=dict)
    contracts: dict[str, Contract] = field(default_factory=dict)
    packages: dict[str, PackageVersion] = field(default_factory=dict)
    records: dict[str, ServiceRecord] = field(default_factory=dict)
    invitations: dict[str, SurveyInvitation] = field(default_factory=dict)
    accounts: dict[str, UserAccount | WechatAccount] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"} if who in self.tokens else {}


def build_world(app) -> World:
    w = World()
    w.regions = {"A": make_region("350600", "漳州市"), "B": make_region("350200", "厦门市")}
    w.institutions = {"I1": make_institution(w.regions["A"], "芗城区石亭镇卫生院"),
                      "I2": make_institution(w.regions["A"], "龙文区朝阳镇卫生院"),
                      "I3": make_institution(w.regions["B"], "思明区鹭江街道社区卫生服务中心")}
    for team_key, inst_key in (("T1", "I1"), ("T2", "I1"), ("T3", "I2"), ("T4", "I3")):
        w.teams[team_key], w.doctors[team_key] = make_team(w.institutions[inst_key], f"{team_key}团队")
    for region_key in ("A", "B"):
        w.packages[region_key], _ = make_package(w.regions[region_key])
    for key, name, region_key, team_key in (("R1", "王秀英", "A", "T1"), ("R2", "李建国", "A", "T2"),
                                            ("R3", "张桂兰", "A", "T3"), ("R4", "陈志强", "B", "T4"),
                                            ("R5", "王小明", "A", "T1")):
        resident = make_resident(w.regions[region_key], name)
        w.residents[key] = resident
        w.contracts[key] = make_contract(resident, w.teams[team_key], w.doctors[team_key], w.packages[region_key])
        w.records[key], w.invitations[key] = make_served_visit(w.contracts[key])
    a = w.regions["A"]
    w.accounts = {
        "bureau": make_account(Role.BUREAU_STAFF, a),
        "assessor": make_account(Role.ASSESSOR, a),
        "manager": make_account(Role.INSTITUTION_MANAGER, a, institution=w.institutions["I1"]),
        "doctor": make_account(Role.TEAM_MEMBER, a, institution=w.institutions["I1"], staff=w.doctors["T1"]),
        "bureau_b": make_account(Role.BUREAU_STAFF, w.regions["B"]),
        "resident": make_wechat(a, (w.residents["R1"], Relation.SELF), (w.residents["R5"], Relation.CHILD)),
        "resident_2": make_wechat(a, (w.residents["R2"], Relation.SELF)),
    }
    db.session.commit()
    # Detached with their values loaded, so a later request's rollback cannot expire them.
    db.session.expunge_all()
    tokens = app.extensions["jiayi.tokens"]
    for who, account in w.accounts.items():
        if isinstance(account, WechatAccount):
            w.tokens[who] = issue_resident_token(tokens, account)
        else:
            w.tokens[who] = tokens.issue("staff", account.id, account.token_version)
    return w
