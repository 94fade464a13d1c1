"""Load the demo region: Zhangzhou (漳州市, 350600) as it might stand in late November 2026.

One pooling region with two dated versions of its local rules; five primary-care
institutions (two of them in each of two county medical communities, one outside), each
under an agreement with the bureau; ten family-doctor teams; the hypertension and diabetes
packages; and insured residents with two contract years behind them, 2025 (expired) and
2026 (in force), with the services delivered, readings taken, long-term prescriptions,
hospital claims, satisfaction surveys and the supervision alerts disputed services raise.

Every run builds the same region from `random.Random(SEED)` with data up to `SNAPSHOT`;
only the ciphertext of personal data differs. Small reference tables go through the ORM,
the big ones through one bulk INSERT per table (`_insert`), all in one transaction.
"""
from __future__ import annotations

import calendar
import itertools
import math
import os
import random
import string
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

import click
import sqlalchemy as sa

from server.assessment import assignments, runs, schemes
from server.assessment.models import AssessmentRun
from server.claims.models import Claim
from server.common import idcard, pii
from server.common.timeutil import SHANGHAI
from server.common.uow import transaction
from server.contracts.models import Contract, ContractEvent
from server.contracts.states import ContractStatus
from server.demo import catalogue as cat
from server.demo.catalogue import ItemSpec, Schedule
from server.extensions import db
from server.identity.models import UserAccount, WechatAccount
from server.identity.roles import Actor, Role
from server.identity.services import hash_password
from server.institutions.models import Agreement, AgreementEvent, AgreementStatus, Institution, MedicalCommunity
from server.packages.models import ItemCategory, PackageItem, PackageVersion, ServicePackage
from server.payments.models import OrderStatus, PaymentOrder, Refund, RefundStatus
from server.prescriptions.models import Dispensing, Prescription, PrescriptionItem, PrescriptionStatus
from server.regions.models import LocalRules, Region
from server.regions.rules import FeeSplit, fee_split, max_prescription_weeks, rules_in_force
from server.residents.models import (
    BenefitEnrolment, BenefitScheme, ChronicCondition, FamilyLink, ProxyConfirmation, ProxyStatus, Relation, Resident,
)
from server.servicerecords.models import Confirmation, Reading, ServiceRecord, ServiceType
from server.supervision.models import AlertKind, SupervisionAlert
from server.surveys.models import Survey, SurveyInvitation, SurveyResponse
from server.teams.models import Staff, StaffKind, Team, TeamMembership

SEED = 20261123
SNAPSHOT = date(2026, 11, 20)  # the last local day the demo has data for
PASSWORD = "Jiayi@2026"
APPID = "wx0000000000000000"
LINK_CONSENT_VERSION = "2026.1"
CONTRACT_CONSENT_VERSION = {2025: "2024.1", 2026: "2026.1"}
# The mini-program opened for the 2026 signing season; 2025 contracts were all signed on site.
MINI_PROGRAM_OPENED = date(2025, 11, 15)
# 天宝镇卫生院 was suspended for a month in 2025 and reinstated: an agreement with a history.
SUSPENDED_IN_2025 = "H35060200002"
# The institutions the third-party assessor checks on site in the 2025 run; they see no other.
ASSESSED = cat.INSTITUTIONS[:2]

IN_PERSON = (ServiceType.CLINIC, ServiceType.HOME_VISIT)
SERVED = (ContractStatus.ACTIVE, ContractStatus.EXPIRED)


class DemoAlreadyLoaded(click.ClickException):
    """The demo region is already in this database; loading it twice would duplicate it."""


@dataclass(frozen=True)
class DemoSummary:
    institutions: int
    teams: int
    staff: int
    residents: int
    contracts: int
    service_records: int
    readings: int
    prescriptions: int
    claims: int
    survey_responses: int
    assessment_run_id: int

    def describe(self) -> str:
        return "\n".join((
            f"演示统筹地区已加载：{cat.REGION_NAME}（{cat.REGION_CODE}），数据截至 {SNAPSHOT.isoformat()}",
            f"  基层医疗卫生机构 {self.institutions} 家，家庭医生团队 {self.teams} 个，医务人员 {self.staff} 名",
            f"  参保居民 {self.residents} 人，签约协议 {self.contracts} 份（2025、2026 两个年度）",
            f"  履约记录 {self.service_records} 条，体征记录 {self.readings} 条，长期处方 {self.prescriptions} 张",
            f"  结算记录 {self.claims} 条，满意度评价 {self.survey_responses} 份",
            f"  2025年度考核草稿（编号 {self.assessment_run_id}）：GET /api/admin/v1/assessment/runs/"
            f"{self.assessment_run_id}/results，发布 POST …/publish，导出 GET …/export.xlsx",
            "  （截止日跨入日历组件尚未收录的年份时，先录入该年节假日安排 PUT /api/admin/v1/holiday-arrangements/{年份}）",
            "",
            sign_in_help(),
        ))


def demo_already_loaded() -> bool:
    return bool(db.session.scalar(sa.select(sa.exists().where(Region.admdvs_code == cat.REGION_CODE))))


def sign_in_help() -> str:
    """The demo's staff sign-ins and how to use them, in Chinese and English."""
    lines = [
        f"演示账号 Demo staff accounts（密码均为 password for all: {PASSWORD}）",
        "  用户名 username / 角色 role / 范围 scope",
        f"  bureau / 医保部门 bureau_staff / {cat.REGION_NAME}全市 whole region",
        f"  assessor / 第三方评估 assessor / 2025年度考核中分配的{'、'.join(spec.name for spec in ASSESSED)}"
        " the institutions assigned in the 2025 run",
    ]
    lines += [f"  manager{n} / 机构管理员 institution_manager / {spec.name}"
              for n, spec in enumerate(cat.INSTITUTIONS, 1)]
    lines += [f"  doctor{n} / 团队成员 team_member / {_team_name(spec, slot)}（队长医生 team leader）"
              for n, (spec, slot) in enumerate(_team_slots(), 1)]
    lines += [
        "",
        "获取令牌 Get a token:",
        "  POST /api/admin/v1/auth/login  JSON {\"username\": \"bureau\", \"password\": \"" + PASSWORD + "\"}",
        "  之后每个请求带上 then send with every request:  Authorization: Bearer <token>",
        "  curl -s -X POST http://127.0.0.1:5000/api/admin/v1/auth/login -H 'Content-Type: application/json' \\",
        "       -d '{\"username\": \"bureau\", \"password\": \"" + PASSWORD + "\"}'",
        "",
        "居民登录 Residents sign in through the WeChat sandbox (what wx.login does on a phone):",
        "  curl -s -X POST http://127.0.0.1:5100/sandbox/wechat/login -H 'Content-Type: application/json' -d '{}'",
        "  POST /api/mp/v1/auth/wechat-login  JSON {\"code\": \"<code>\"}  →  token",
        "  POST /api/mp/v1/me/identity  JSON {\"name\": …, \"id_number\": …, \"consent\": true}",
        "  沙箱中任何校验位正确的身份证号均视为本地区参保 (any ID number with a valid check digit is insured here).",
    ]
    return "\n".join(lines)


def seed_demo(residents: int = 2400) -> DemoSummary:
    """Load the demo region with `residents` insured residents, in one transaction."""
    if demo_already_loaded():
        raise DemoAlreadyLoaded(
            f"演示数据已存在（{cat.REGION_NAME} {cat.REGION_CODE}），未重复加载。"
            "The demo region is already loaded; use an empty database to load it again.")
    rng = random.Random(SEED)
    with transaction():
        region_id = _region()
        # argon2 is slow on purpose: hash the one demo password once for every account.
        password_hash = hash_password(PASSWORD)
        bureau_id = _region_accounts(region_id, password_hash)
        _rules(region_id, bureau_id)
        clinics = _organisation(rng, region_id, bureau_id, password_hash, residents)
        packs = _packages(region_id)
        people = _residents(rng, region_id, clinics, residents)
        _conditions(rng, people)
        _benefit_enrolments(rng, people)
        _wechat_accounts(rng, region_id, people)
        contracts = _contracts(rng, region_id, people, packs)
        _payments(rng, contracts)
        visits, service_records = _service_records(rng, contracts)
        readings = _readings(visits)
        prescriptions = _prescriptions(rng, visits)
        claims = _claims(rng, contracts)
        responses = _surveys(rng, region_id, visits)
        _supervision_alerts(region_id, visits)
        _advance_sequences()
    run = _assessment_2025(region_id, bureau_id)
    crews = [crew for clinic in clinics for crew in clinic.teams]
    return DemoSummary(
        institutions=len(clinics), teams=len(crews), staff=sum(len(crew.members) for crew in crews),
        residents=len(people), contracts=len(contracts), service_records=service_records, readings=readings,
        prescriptions=prescriptions, claims=claims, survey_responses=responses, assessment_run_id=run.id,
    )


def _assessment_2025(region_id: int, bureau_id: int) -> AssessmentRun:
    """2025 as the bureau leaves it in January: the default scheme and a draft run, ready to review and publish,
    with the third-party assessor assigned to check the first institutions on site."""
    bureau = Actor(role=Role.BUREAU_STAFF, account_id=bureau_id, region_id=region_id)
    scheme = schemes.create_scheme(bureau, year=2025, name="2025年度家庭医生医保签约服务考核方案", copy_from_id=None)
    run = runs.start_run(bureau, year=2025, scheme_id=scheme.id)
    assessor_id = db.session.scalar(sa.select(UserAccount.id).where(UserAccount.username == "assessor"))
    for institution_id in db.session.scalars(sa.select(Institution.id).where(
            Institution.code.in_([spec.code for spec in ASSESSED]))):
        assignments.assign(bureau, run.id, account_id=assessor_id, institution_id=institution_id)
    return run


# --- What later steps need to know of the rows written earlier -------------------------------

@dataclass
class Crew:
    """A team as written: its id and the ids of its staff by role."""

    id: int
    region_id: int
    institution_id: int
    institution: cat.InstitutionSpec
    account_id: int
    doctors: list[int]
    nurses: list[int]
    others: list[int]  # the public-health doctor or village doctor

    @property
    def members(self) -> list[int]:
        return self.doctors + self.nurses + self.others


@dataclass
class Clinic:
    """An institution's catchment and its teams, from which residents are drawn."""

    spec: cat.InstitutionSpec
    teams: list[Crew]


@dataclass
class Pack:
    version_id: int
    spec: cat.PackageSpec
    item_ids: dict[str, int]  # item code → id


@dataclass(frozen=True)
class Login:
    """A WeChat account that acts for a resident, and since when it holds their consent."""

    id: int
    openid: str
    since: datetime


@dataclass
class Person:
    """A resident as planned; `systolic`, `glucose` and `weight` are their usual values."""

    id: int
    name: str
    gender: str
    born: date
    id_number: str
    phone: str | None
    address: str
    team: Crew
    insurance_type: str
    populations: list[str]
    conditions: dict[str, bool]  # disease code → stable
    systolic: float
    glucose: float
    weight: float
    other_benefit: bool = False  # enrolled in another outpatient benefit that pays their drugs
    account: Login | None = None
    regimen: tuple[str, ...] = ()

    @property
    def surname(self) -> str:
        return self.name[0]  # every demo surname is one character

    @property
    def age(self) -> int:
        return SNAPSHOT.year - self.born.year - ((SNAPSHOT.month, SNAPSHOT.day) < (self.born.month, self.born.day))

    @property
    def uncontrolled(self) -> bool:
        return ("hypertension" in self.conditions and self.systolic >= 140) or (
            "diabetes" in self.conditions and self.glucose >= 7.0)


@dataclass
class Signed:
    """A contract as planned and written."""

    no: str
    person: Person
    year: int
    status: ContractStatus
    pack: Pack
    rules: LocalRules
    split: FeeSplit
    doctor_id: int
    signed_at: datetime
    activated_at: datetime | None
    ended_at: datetime | None
    end_reason: str
    payer: Login | None  # the WeChat account that signed (and pays); None when signed on site
    renewed_from_id: int | None
    id: int = 0

    @property
    def team(self) -> Crew:
        return self.person.team

    @property
    def period_start(self) -> date:
        return date(self.year, 1, 1)

    @property
    def period_end(self) -> date:
        return date(self.year, 12, 31)


@dataclass
class Visit:
    """One visit of a contract's team: the items it delivered and the reading it took."""

    contract: Signed
    served_at: datetime
    kind: ServiceType
    staff_id: int
    items: list[ItemSpec]
    reading: dict | None  # measurements of a follow-up; None for the yearly check
    confirmed_at: datetime | None
    follow_up_id: int | None = None
    disputes: list[tuple[int, ItemSpec, str]] = field(default_factory=list)  # (record id, item, reason)


# --- Region, rules, packages ------------------------------------------------------------------

def _region() -> int:
    region = Region(admdvs_code=cat.REGION_CODE, name=cat.REGION_NAME)
    db.session.add(region)
    db.session.flush()
    return region.id


def _region_accounts(region_id: int, password_hash: str) -> int:
    bureau = _account("bureau", "漳州市医保局", Role.BUREAU_STAFF, region_id, password_hash)
    db.session.add_all([bureau, _account("assessor", "第三方评估机构", Role.ASSESSOR, region_id, password_hash)])
    db.session.flush()
    return bureau.id


def _account(username: str, display_name: str, role: Role, region_id: int, password_hash: str, *,
             institution_id: int | None = None, staff_id: int | None = None) -> UserAccount:
    return UserAccount(username=username, password_hash=password_hash, display_name=display_name, role=role,
                       region_id=region_id, institution_id=institution_id, staff_id=staff_id)


def _rules(region_id: int, bureau_id: int) -> None:
    """Two versions of the 实施细则: what changed in 2026 is the refund after a first service."""
    for effective_from, document_no, refund in ((date(2024, 1, 1), "漳医保〔2024〕1号", "none"),
                                                (date(2026, 1, 1), "漳医保〔2026〕2号", "unused_items")):
        db.session.add(LocalRules(
            region_id=region_id, effective_from=effective_from, document_no=document_no,
            refund_after_service=refund, created_by_account_id=bureau_id, **cat.ZHANGZHOU_RULES,
        ))
    db.session.flush()


def _packages(region_id: int) -> dict[str, Pack]:
    """The two packages, keyed by the disease they serve."""
    packs = {}
    for spec in cat.PACKAGES:
        package = ServicePackage(region_id=region_id, code=spec.code, name=spec.name, description=spec.description)
        db.session.add(package)
        db.session.flush()
        version = PackageVersion(package_id=package.id, region_id=region_id, version=1,
                                 effective_from=date(2024, 1, 1), target_disease_codes=[spec.disease])
        db.session.add(version)
        db.session.flush()
        items = [PackageItem(package_version_id=version.id, region_id=region_id, code=item.code, name=item.name,
                             category=item.category, target_disease_codes=[spec.disease],
                             yearly_quantity=item.yearly_quantity, unit_value_fen=item.unit_value_fen,
                             basic_public_health=item.basic_public_health)
                 for item in spec.items]
        db.session.add_all(items)
        db.session.flush()
        packs[spec.disease] = Pack(version.id, spec, {item.code: item.id for item in items})
    return packs


# --- Institutions, agreements, teams, staff, sign-ins -------------------------------------------

def _team_slots() -> list[tuple[cat.InstitutionSpec, int]]:
    return [(spec, slot) for spec in cat.INSTITUTIONS for slot in range(len(cat.TEAM_ORDINALS))]


def _team_name(spec: cat.InstitutionSpec, slot: int) -> str:
    return f"{spec.short}家医{cat.TEAM_ORDINALS[slot]}队"


def _organisation(rng: random.Random, region_id: int, bureau_id: int, password_hash: str,
                  residents: int) -> list[Clinic]:
    communities = [MedicalCommunity(region_id=region_id, name=name) for name in cat.COMMUNITIES]
    db.session.add_all(communities)
    db.session.flush()
    licences = itertools.count(101)
    clinics = []
    for number, spec in enumerate(cat.INSTITUTIONS, 1):
        institution = Institution(
            region_id=region_id, code=spec.code, name=spec.name, kind=spec.kind, address=spec.address,
            medical_community_id=None if spec.community is None else communities[spec.community].id,
            latitude=spec.latitude, longitude=spec.longitude)
        db.session.add(institution)
        db.session.flush()
        _agreement(region_id, institution.id, spec, number, bureau_id)
        db.session.add(_account(f"manager{number}", f"{spec.short}管理员", Role.INSTITUTION_MANAGER, region_id,
                                password_hash, institution_id=institution.id))
        teams = [_team(rng, region_id, institution.id, spec, slot, licences, residents)
                 for slot in range(len(cat.TEAM_ORDINALS))]
        clinics.append(Clinic(spec, teams))
    # Each team's leader doctor signs in as doctor1, doctor2, … in `sign_in_help`'s order.
    crews = [crew for clinic in clinics for crew in clinic.teams]
    accounts = [_account(f"doctor{n}", _staff_name(crew.doctors[0]), Role.TEAM_MEMBER, region_id, password_hash,
                         institution_id=crew.institution_id, staff_id=crew.doctors[0])
                for n, crew in enumerate(crews, 1)]
    db.session.add_all(accounts)
    db.session.flush()
    for crew, account in zip(crews, accounts):
        crew.account_id = account.id
    return clinics


def _staff_name(staff_id: int) -> str:
    return db.session.get(Staff, staff_id).name


def _agreement(region_id: int, institution_id: int, spec: cat.InstitutionSpec, number: int,
               bureau_id: int) -> None:
    agreement = Agreement(region_id=region_id, institution_id=institution_id,
                          agreement_no=f"ZZYB-JTYS-2024-{number:03d}", period_start=date(2024, 1, 1),
                          period_end=date(2026, 12, 31), status=AgreementStatus.ACTIVE)
    db.session.add(agreement)
    db.session.flush()
    history = [(None, AgreementStatus.ACTIVE, "签订2024—2026年度家庭医生签约服务医保协议", date(2023, 12, 25))]
    if spec.code == SUSPENDED_IN_2025:
        history += [
            (AgreementStatus.ACTIVE, AgreementStatus.SUSPENDED,
             "医保监管检查发现履约记录与实际服务不符，暂停协议，限期整改", date(2025, 6, 10)),
            (AgreementStatus.SUSPENDED, AgreementStatus.ACTIVE, "整改完成并经复查合格，恢复协议", date(2025, 7, 15)),
        ]
    db.session.add_all(AgreementEvent(agreement_id=agreement.id, from_status=before, to_status=after, reason=reason,
                                      account_id=bureau_id, at=_at(day, 10))
                       for before, after, reason, day in history)


def _team(rng: random.Random, region_id: int, institution_id: int, spec: cat.InstitutionSpec, slot: int,
          licences: itertools.count, residents: int) -> Crew:
    # A township health centre's team reaches villages through a village doctor; a
    # community centre's through a public-health doctor.
    third = ((StaffKind.VILLAGE_DOCTOR, "乡村医生") if spec.kind == "乡镇卫生院"
             else (StaffKind.PUBLIC_HEALTH, "公共卫生医师"))
    roles = ([(StaffKind.DOCTOR, "副主任医师"), (StaffKind.DOCTOR, "住院医师"), (StaffKind.NURSE, "主管护师"), third]
             if slot == 0 else [(StaffKind.DOCTOR, "主治医师"), (StaffKind.NURSE, "护师"), third])
    staff = []
    for kind, title in roles:
        phone = _mobile(rng)
        staff.append(Staff(region_id=region_id, institution_id=institution_id, name=_name(rng, rng.random() < 0.5),
                           kind=kind, title=title, licence_no=_licence_no(kind, spec, next(licences)),
                           phone=phone, phone_hash=pii.blind_index(phone)))
    # Room for every resident of the catchment who might sign with this team.
    capacity = max(rng.randrange(300, 601, 50), math.ceil(residents * spec.share * 0.6 / 50) * 50)
    team = Team(region_id=region_id, institution_id=institution_id, name=_team_name(spec, slot), capacity=capacity,
                specialities=cat.TEAM_SPECIALITIES[(cat.INSTITUTIONS.index(spec) + slot) % len(cat.TEAM_SPECIALITIES)])
    db.session.add_all([team, *staff])
    db.session.flush()
    db.session.add_all(TeamMembership(team_id=team.id, staff_id=member.id, is_leader=n == 0,
                                      joined_on=date(2024, 1, 1))
                       for n, member in enumerate(staff))
    by_kind = defaultdict(list)
    for member in staff:
        by_kind[member.kind].append(member.id)
    return Crew(team.id, region_id, institution_id, spec, account_id=0, doctors=by_kind[StaffKind.DOCTOR],
                nurses=by_kind[StaffKind.NURSE], others=by_kind[third[0]])


def _licence_no(kind: StaffKind, spec: cat.InstitutionSpec, number: int) -> str:
    """Shaped like the real numbers: 医师执业证书 15 digits (110 clinical, 140 public health)."""
    if kind is StaffKind.DOCTOR:
        return f"110{cat.REGION_CODE}{number:06d}"
    if kind is StaffKind.PUBLIC_HEALTH:
        return f"140{cat.REGION_CODE}{number:06d}"
    if kind is StaffKind.NURSE:
        return f"{2010 + number % 12}35{number:06d}"
    return f"{spec.district}{2008 + number % 10}{number:04d}"


# --- Residents, conditions, other benefits, WeChat accounts ------------------------------------

def _residents(rng: random.Random, region_id: int, clinics: list[Clinic], count: int) -> list[Person]:
    first_id = _next_id(Resident)
    shares = [clinic.spec.share for clinic in clinics]
    used_numbers: set[str] = set()
    people = [_person(rng, first_id + n, rng.choices(clinics, shares)[0], used_numbers) for n in range(count)]
    for person in people:
        resident = Resident(
            id=person.id, region_id=region_id, name=person.name, gender=person.gender, birth_date=person.born,
            address=person.address, insurance_type=person.insurance_type, insurance_status="active",
            insured_admdvs=cat.REGION_CODE,
            insurance_verified_at=_office_hours(rng, _day_between(rng, date(2025, 10, 1), SNAPSHOT)),
            populations=person.populations, **_health_record(rng))
        resident.set_id_number(person.id_number)
        resident.set_phone(person.phone)
        db.session.add(resident)
    db.session.flush()
    return people


def _person(rng: random.Random, resident_id: int, clinic: Clinic, used_numbers: set[str]) -> Person:
    male = rng.random() < 0.5
    # Mostly 35–85, the ages of chronic patients; a few younger adults (children of the older).
    age = rng.randint(22, 34) if rng.random() < 0.08 else int(rng.triangular(35, 90, 68))
    born = date(SNAPSHOT.year - age - 1, 1, 1) + timedelta(days=rng.randrange(365))
    while True:
        # The 17th digit is odd for men and even for women (GB 11643).
        number = idcard.make(clinic.spec.district, born, rng.randrange(500) * 2 + male)
        if number not in used_numbers:
            used_numbers.add(number)
            break
    if age < 35:
        hypertension, diabetes = rng.random() < 0.12, rng.random() < 0.05
    else:
        hypertension = rng.random() < min(0.9, 0.45 + (age - 35) * 0.012)
        diabetes = rng.random() < (0.45 if hypertension else 0.18)
    conditions = {code: rng.random() < 0.4
                  for code, has in (("hypertension", hypertension), ("diabetes", diabetes)) if has}
    stable = all(conditions.values())
    return Person(
        id=resident_id, name=_name(rng, male), gender="male" if male else "female", born=born, id_number=number,
        phone=_mobile(rng) if rng.random() < 0.92 else None,
        address=f"福建省漳州市{cat.DISTRICTS[clinic.spec.district]}{rng.choice(clinic.spec.localities)}"
                f"{rng.randint(1, 260)}号",
        team=rng.choice(clinic.teams),
        insurance_type="310" if rng.random() < (0.4 if age < 60 else 0.2) else "390",
        populations=["poverty_registered"] if rng.random() < (0.06 if clinic.spec.kind == "乡镇卫生院" else 0.02) else [],
        conditions=conditions,
        # Stable patients are well controlled; of the rest, about half are.
        systolic=rng.gauss(128, 5) if stable or rng.random() < 0.5 else rng.gauss(148, 6),
        glucose=rng.uniform(5.2, 6.8) if stable or rng.random() < 0.45 else rng.uniform(7.2, 10.0),
        weight=rng.gauss(68, 8) if male else rng.gauss(58, 7),
    )


def _health_record(rng: random.Random) -> dict:
    """Most residents have a health record (健康档案), kept up to date by their team."""
    if rng.random() < 0.08:
        return {"health_record_created_on": None, "health_record_updated_on": None}
    created = _day_between(rng, date(2010, 1, 1), date(2024, 6, 30))
    return {"health_record_created_on": created,
            "health_record_updated_on": _day_between(rng, max(created, date(2025, 6, 1)), SNAPSHOT)}


def _conditions(rng: random.Random, people: list[Person]) -> None:
    rows = []
    for person in people:
        earliest = min(max(date(2008, 1, 1), date(person.born.year + 20, 1, 1)), date(2025, 1, 1))
        for code, stable in person.conditions.items():
            rows.append({
                "resident_id": person.id, "disease_code": code,
                "diagnosed_on": _day_between(rng, earliest, date(2025, 6, 30)), "source": "platform",
                "stable": stable,
                "stable_assessed_on": _day_between(rng, date(2025, 10, 1), date(2026, 9, 30)) if stable else None,
            })
    _insert(ChronicCondition, rows)


def _benefit_enrolments(rng: random.Random, people: list[Person]) -> None:
    """A few patients get their drugs through another benefit; the demo never pays them twice."""
    rows = []
    for person in people:
        if not person.conditions:
            continue
        roll = rng.random()
        # 两病门诊用药保障 covers residents' insurance (390) only.
        if roll < 0.03 and person.insurance_type == "390":
            scheme, prefix = BenefitScheme.TWO_DISEASE_DRUG, "LB"
        elif 0.03 <= roll < 0.04:
            scheme, prefix = BenefitScheme.CHRONIC_SPECIAL_OUTPATIENT, "MT"
        else:
            continue
        person.other_benefit = True
        rows.append({"resident_id": person.id, "scheme": scheme, "disease_code": rng.choice(sorted(person.conditions)),
                     "registration_no": f"{prefix}{cat.REGION_CODE}{len(rows) + 1:06d}",
                     "valid_from": _day_between(rng, date(2021, 1, 1), date(2024, 12, 31)), "valid_to": None})
    _insert(BenefitEnrolment, rows)


def _wechat_accounts(rng: random.Random, region_id: int, people: list[Person]) -> None:
    """Accounts of the younger and some older residents; some also act for a parent or child."""
    holders = [person for person in people
               if rng.random() < (0.7 if person.age < 60 else 0.45 if person.age < 75 else 0.15)]
    rows = []
    for person in holders:
        created = _at(_day_between(rng, MINI_PROGRAM_OPENED, date(2026, 3, 31)), rng.randint(7, 21),
                      rng.randrange(60))
        rows.append({
            "appid": APPID, "openid": "o" + "".join(rng.choices(_URLSAFE, k=27)), "unionid": None,
            "session_key": None, "phone": person.phone,
            "phone_hash": pii.blind_index(person.phone) if person.phone else None, "region_id": region_id,
            "token_version": 1, "last_login_at": created + timedelta(days=rng.randint(0, 200)),
            "created_at": created, "updated_at": created,
        })
    links = []
    for person, account_id, row in zip(holders, _insert(WechatAccount, rows), rows):
        person.account = Login(account_id, row["openid"], row["created_at"])
        links.append(_link(person, person.account, Relation.SELF))
    without_account = defaultdict(list)
    for person in people:
        if person.account is None:
            without_account[person.surname].append(person)
    for holder in holders:
        relative = _relative(rng, holder, without_account[holder.surname]) if rng.random() < 0.2 else None
        if relative is None:
            continue
        relative.account = Login(holder.account.id, holder.account.openid,
                                 holder.account.since + timedelta(minutes=rng.randint(5, 60)))
        links.append(_link(relative, relative.account,
                           Relation.PARENT if relative.born < holder.born else Relation.CHILD))
    _insert(FamilyLink, links)


def _relative(rng: random.Random, holder: Person, same_surname: list[Person]) -> Person | None:
    """Someone of the holder's surname a generation apart, without an account of their own."""
    for candidate in rng.sample(same_surname, min(10, len(same_surname))):
        if abs(candidate.age - holder.age) >= 22:
            same_surname.remove(candidate)
            return candidate
    return None


def _link(person: Person, login: Login, relation: Relation) -> dict:
    """An active link as the platform held it before consent to proxies was required (spring 2026)."""
    via = ProxyConfirmation.OWN_IDENTITY if relation is Relation.SELF else ProxyConfirmation.LEGACY
    return {"wechat_account_id": login.id, "resident_id": person.id, "relation": relation,
            "status": ProxyStatus.ACTIVE, "confirmed_via": via, "confirmed_at": login.since, "documents_seen": [],
            "consent_at": login.since, "consent_version": LINK_CONSENT_VERSION, "revoked_at": None,
            "created_at": login.since, "updated_at": login.since}


# --- Contracts and payments ---------------------------------------------------------------------

def _contracts(rng: random.Random, region_id: int, people: list[Person], packs: dict[str, Pack]) -> list[Signed]:
    """2025's contracts (all expired now), then 2026's, renewing 2025's where the person renews."""
    written: list[Signed] = []
    last_year: dict[int, Signed] = {}
    for year in (2025, 2026):
        rules = rules_in_force(region_id, date(year, 1, 1))
        planned = []
        for person in people:
            if person.conditions:
                contract = _sign(rng, person, year, rules, packs, last_year.get(person.id), len(planned) + 1)
                if contract is not None:
                    planned.append(contract)
        ids = _insert(Contract, [_contract_row(region_id, contract) for contract in planned])
        for contract, contract_id in zip(planned, ids):
            contract.id = contract_id
        _insert(ContractEvent, [event for contract in planned for event in _contract_events(contract)])
        last_year = {contract.person.id: contract for contract in planned}
        written += planned
    return written


def _sign(rng: random.Random, person: Person, year: int, rules: LocalRules, packs: dict[str, Pack],
          previous: Signed | None, number: int) -> Signed | None:
    """Whether and how `person` signs for `year`: most renew, some sign for the first time."""
    if rng.random() >= (0.72 if year == 2025 else 0.88 if previous else 0.55):
        return None
    payer = person.account if year >= 2026 and person.account and rng.random() < 0.85 else None
    if year == 2025:
        status = ContractStatus.EXPIRED
        signed_at = _office_hours(rng, _day_between(rng, date(2024, 12, 1), date(2025, 3, 31)))
    else:
        roll = rng.random()
        status = (ContractStatus.ACTIVE if roll < 0.9 else ContractStatus.PENDING_PAYMENT if roll < 0.955
                  else ContractStatus.CANCELLED)
        if status is ContractStatus.PENDING_PAYMENT:  # signed lately, not paid yet
            signed_at = _office_hours(rng, _day_between(rng, date(2026, 10, 10), SNAPSHOT))
        elif payer is not None:  # signed in the mini-program right after registering
            signed_at = payer.since + timedelta(minutes=rng.randint(10, 120))
        else:
            signed_at = _office_hours(rng, _day_between(rng, date(2025, 12, 1), date(2026, 4, 30)))
    if status is ContractStatus.CANCELLED:
        paid = rng.random() < 0.5  # half cancelled before paying, half after
    else:
        paid = status is not ContractStatus.PENDING_PAYMENT
    activated_at = None
    if paid:
        activated_at = signed_at + (timedelta(minutes=rng.randint(1, 8)) if payer
                                    else timedelta(minutes=rng.randint(5, 2 * 24 * 60)))
    ended_at, end_reason = None, ""
    if status is ContractStatus.EXPIRED:
        ended_at, end_reason = _at(date(year + 1, 1, 1), 0), "协议期满"
    elif status is ContractStatus.CANCELLED and paid:
        ended_at, end_reason = activated_at + timedelta(days=rng.randint(2, 20)), "居民迁居外地，申请解约"
    elif status is ContractStatus.CANCELLED:
        ended_at, end_reason = signed_at + timedelta(days=rng.randint(3, 10)), "未缴纳个人部分，居民取消签约"
    team = person.team
    return Signed(
        no=f"QY{year}{number:06d}", person=person, year=year, status=status,
        pack=packs["diabetes" if "diabetes" in person.conditions else "hypertension"], rules=rules,
        split=fee_split(rules, person.populations, date(year, 1, 1)),
        doctor_id=team.doctors[0] if rng.random() < 0.8 else rng.choice(team.doctors),
        signed_at=signed_at, activated_at=activated_at, ended_at=ended_at, end_reason=end_reason, payer=payer,
        renewed_from_id=previous.id if previous else None,
    )


def _contract_row(region_id: int, contract: Signed) -> dict:
    split, team = contract.split, contract.team
    return {
        "contract_no": contract.no, "region_id": region_id, "resident_id": contract.person.id,
        "institution_id": team.institution_id, "team_id": team.id, "doctor_staff_id": contract.doctor_id,
        "package_version_id": contract.pack.version_id, "rules_id": contract.rules.id, "status": contract.status,
        "period_year": contract.year, "period_start": contract.period_start, "period_end": contract.period_end,
        "channel": "mini_program" if contract.payer else "on_site", "consent_at": contract.signed_at,
        "consent_version": CONTRACT_CONSENT_VERSION[contract.year],
        "signed_by_wechat_account_id": contract.payer.id if contract.payer else None,
        "signed_by_account_id": None if contract.payer else team.account_id,
        "fee_per_head_fen": split.fee_per_head_fen, "personal_share_fen": split.personal_share_fen,
        "public_health_share_fen": split.public_health_share_fen,
        "insurance_fund_share_fen": split.insurance_fund_share_fen, "personal_share_payer": split.personal_share_payer,
        "activated_at": contract.activated_at, "ended_at": contract.ended_at, "end_reason": contract.end_reason,
        "renewed_from_id": contract.renewed_from_id, "transferred_from_id": None, "version": 1,
        "created_at": contract.signed_at,
        "updated_at": contract.ended_at or contract.activated_at or contract.signed_at,
    }


def _contract_events(contract: Signed) -> list[dict]:
    by_signer = ({"account_id": None, "wechat_account_id": contract.payer.id} if contract.payer
                 else {"account_id": contract.team.account_id, "wechat_account_id": None})
    events = [(None, ContractStatus.PENDING_PAYMENT, "签约申请", contract.signed_at, by_signer)]
    if contract.activated_at:
        events.append((ContractStatus.PENDING_PAYMENT, ContractStatus.ACTIVE, "个人部分已缴费，开始履约",
                       contract.activated_at, by_signer))
    if contract.ended_at:
        ended_from = ContractStatus.ACTIVE if contract.activated_at else ContractStatus.PENDING_PAYMENT
        # Expiry is the system's doing; a cancellation is the resident's, through whoever signed.
        by_system = {"account_id": None, "wechat_account_id": None}
        events.append((ended_from, contract.status, contract.end_reason, contract.ended_at,
                       by_system if contract.status is ContractStatus.EXPIRED else by_signer))
    return [{"contract_id": contract.id, "from_status": before, "to_status": after, "reason": reason, "at": at, **by}
            for before, after, reason, at, by in events]


def _payments(rng: random.Random, contracts: list[Signed]) -> None:
    """WeChat Pay orders of mini-program contracts; cancelled paid ones were refunded in full."""
    paid = [c for c in contracts if c.payer and c.activated_at and c.split.resident_pays_fen]
    orders = []
    for n, contract in enumerate(paid, 1):
        refunded = contract.status is ContractStatus.CANCELLED
        orders.append({
            "contract_id": contract.id, "out_trade_no": f"JY{contract.no[2:]}",
            "amount_fen": contract.split.resident_pays_fen,
            "status": OrderStatus.REFUNDED if refunded else OrderStatus.PAID,
            "payer_openid": contract.payer.openid, "prepay_id": f"wx{rng.getrandbits(120):030x}",
            "transaction_id": f"4200002{contract.activated_at:%Y%m%d}{n:013d}",
            "expires_at": contract.signed_at + timedelta(hours=2), "paid_at": contract.activated_at,
            "closed_at": None, "version": 1, "created_at": contract.signed_at,
            "updated_at": contract.ended_at if refunded else contract.activated_at,
        })
    refunds = []
    for contract, order_id, order in zip(paid, _insert(PaymentOrder, orders), orders):
        if order["status"] is OrderStatus.REFUNDED:
            # No service was delivered before the cancellation, so every rule version refunds it all.
            refunds.append({
                "payment_order_id": order_id, "out_refund_no": f"RF{order['out_trade_no']}",
                "amount_fen": order["amount_fen"], "status": RefundStatus.SUCCESS, "reason": "解约退款（未接受服务）",
                "refund_id": f"503000{contract.ended_at:%Y%m%d}{order_id:010d}",
                "succeeded_at": contract.ended_at + timedelta(minutes=rng.randint(1, 30)),
                "created_at": contract.ended_at, "updated_at": contract.ended_at,
            })
    _insert(Refund, refunds)


# --- Services delivered and readings ------------------------------------------------------------

def _service_records(rng: random.Random, contracts: list[Signed]) -> tuple[list[Visit], int]:
    """Quarterly follow-ups and a yearly check for every paid contract, as far as they got."""
    visits = [visit for contract in contracts if contract.status in SERVED for visit in _visits(rng, contract)]
    rows, delivered = [], []
    for visit in visits:
        for item in visit.items:
            rows.append(_record_row(rng, visit, item, len(rows) + 1))
            delivered.append((visit, item))
    for (visit, item), record_id, row in zip(delivered, _insert(ServiceRecord, rows), rows):
        if item.schedule is Schedule.FOLLOW_UP:
            visit.follow_up_id = record_id
        if row["confirmation"] is Confirmation.DISPUTED:
            visit.disputes.append((record_id, item, row["dispute_reason"]))
    return visits, len(rows)


def _visits(rng: random.Random, contract: Signed) -> list[Visit]:
    # Service starts once the personal share is paid; the demo's teams begin the day after.
    first = max(contract.period_start, _local_day(contract.activated_at) + timedelta(days=1))
    last = min(contract.period_end, SNAPSHOT)
    visits = []
    for quarter in range(4):
        month = 3 * quarter + 3
        q_first = date(contract.year, month - 2, 1)
        q_last = date(contract.year, month, calendar.monthrange(contract.year, month)[1])
        start, end = max(first, q_first), min(last, q_last)
        if start > end:
            continue
        # About one follow-up in twelve is missed; a quarter partly covered has had less time.
        if rng.random() < 0.92 * ((end - start).days + 1) / ((q_last - q_first).days + 1):
            visits.append(_follow_up(rng, contract, _day_between(rng, start, end), quarter))
    start, end = max(first, date(contract.year, 3, 1)), min(last, date(contract.year, 10, 31))
    if start <= end and rng.random() < 0.9:
        visits.append(_yearly_check(rng, contract, _day_between(rng, start, end)))
    return visits


def _follow_up(rng: random.Random, contract: Signed, day: date, quarter: int) -> Visit:
    person, team = contract.person, contract.team
    kinds = (ServiceType.CLINIC, ServiceType.HOME_VISIT, ServiceType.PHONE, ServiceType.ONLINE)
    # The oldest are visited at home more often.
    kind = rng.choices(kinds, (35, 35, 20, 10) if person.age >= 75 else (55, 12, 23, 10))[0]
    in_person = kind in IN_PERSON
    items = [item for item in contract.pack.spec.items if _due(item, kind, quarter, person)]
    served_at = _at(day, rng.randint(8, 16) if in_person else rng.randint(9, 19), rng.randrange(60))
    staff = rng.choices((team.doctors, team.nurses, team.others), (60, 25, 15))[0]
    reading = _measure(rng, person, in_person, hba1c=any(i.schedule is Schedule.HALF_YEARLY for i in items))
    return Visit(contract, served_at, kind, rng.choice(staff), items, reading, _confirmed_at(rng, served_at))


def _yearly_check(rng: random.Random, contract: Signed, day: date) -> Visit:
    served_at = _at(day, rng.randint(8, 11), rng.randrange(60))
    items = [item for item in contract.pack.spec.items if item.schedule is Schedule.ANNUAL]
    staff = contract.team.others or contract.team.nurses
    return Visit(contract, served_at, ServiceType.CLINIC, rng.choice(staff), items, None,
                 _confirmed_at(rng, served_at))


def _due(item: ItemSpec, kind: ServiceType, quarter: int, person: Person) -> bool:
    if item.category is ItemCategory.DRUG and person.other_benefit:
        return False  # the other benefit pays for their drugs: no double benefit
    if item.schedule in (Schedule.FOLLOW_UP, Schedule.EACH_VISIT):
        return True
    if item.schedule is Schedule.IN_PERSON:
        return kind in IN_PERSON
    if item.schedule is Schedule.HALF_YEARLY:
        return kind in IN_PERSON and quarter in (1, 3)
    return False


def _confirmed_at(rng: random.Random, served_at: datetime) -> datetime | None:
    """When the resident confirmed the visit; the last week's are often still open."""
    recent = _local_day(served_at) > SNAPSHOT - timedelta(days=7)
    if rng.random() < (0.6 if recent else 0.02):
        return None
    return min(served_at + timedelta(minutes=rng.randint(3, 2 * 24 * 60)), _at(SNAPSHOT, 23, 59))


def _record_row(rng: random.Random, visit: Visit, item: ItemSpec, number: int) -> dict:
    contract = visit.contract
    team = contract.team
    disputed = rng.random() < 0.0015
    # Checks and tests arrive from the institution's laboratory system under its own numbers.
    imported = item.category in (ItemCategory.CHECK, ItemCategory.TEST)
    place = {ServiceType.CLINIC: team.institution.name, ServiceType.HOME_VISIT: contract.person.address}
    return {
        "contract_id": contract.id, "package_item_id": contract.pack.item_ids[item.code],
        "resident_id": contract.person.id, "region_id": team.region_id, "institution_id": team.institution_id,
        "team_id": team.id, "staff_id": visit.staff_id, "service_type": visit.kind, "served_at": visit.served_at,
        "served_on": _local_day(visit.served_at), "place": place.get(visit.kind, ""),
        "notes": _note(visit.reading) if item.schedule is Schedule.FOLLOW_UP else "",
        "source": "import" if imported else "platform", "external_id": f"LIS{number:08d}" if imported else None,
        "confirmation": (Confirmation.DISPUTED if disputed
                         else Confirmation.CONFIRMED if visit.confirmed_at else Confirmation.PENDING),
        "confirmed_at": None if disputed else visit.confirmed_at,
        "dispute_reason": rng.choice(cat.DISPUTE_REASONS) if disputed else "",
        "created_at": visit.served_at, "updated_at": visit.confirmed_at or visit.served_at,
    }


def _measure(rng: random.Random, person: Person, in_person: bool, *, hba1c: bool) -> dict:
    """A follow-up's readings around the person's usual values; by phone only what they measured."""
    reading = {"systolic_mmhg": None, "diastolic_mmhg": None, "fasting_glucose_mmol": None,
               "hba1c_percent": None, "weight_kg": None, "heart_rate_bpm": None}
    if "hypertension" in person.conditions:
        systolic = _clamp(round(rng.gauss(person.systolic, 7)), 110, 175)
        diastolic = _clamp(round(systolic * 0.6 + rng.gauss(0, 5)), 65, 105)
        reading.update(systolic_mmhg=systolic, diastolic_mmhg=min(diastolic, systolic - 25))
    if "diabetes" in person.conditions:
        reading["fasting_glucose_mmol"] = _one_decimal(_clamp(rng.gauss(person.glucose, 0.7), 4.5, 12.0))
        if hba1c:  # the ADAG relation of average glucose to HbA1c
            hba1c_value = (person.glucose + 2.59) / 1.59 + rng.gauss(0, 0.3)
            reading["hba1c_percent"] = _one_decimal(_clamp(hba1c_value, 5.0, 12.0))
    if in_person:
        reading.update(weight_kg=_one_decimal(_clamp(person.weight + rng.gauss(0, 0.8), 40, 110)),
                       heart_rate_bpm=rng.randint(60, 92))
    return reading


def _note(reading: dict) -> str:
    notes = []
    if reading["systolic_mmhg"] is not None:
        notes.append("血压控制满意，继续目前治疗方案" if reading["systolic_mmhg"] < 140 and reading["diastolic_mmhg"] < 90
                     else "血压控制欠佳，加强限盐和运动指导，两周后复测")
    if reading["fasting_glucose_mmol"] is not None:
        notes.append("空腹血糖控制满意" if reading["fasting_glucose_mmol"] < 7 else "空腹血糖偏高，调整饮食并按时服药")
    return "；".join(notes) + "。"


def _readings(visits: list[Visit]) -> int:
    rows = [{"service_record_id": visit.follow_up_id, "resident_id": visit.contract.person.id,
             "measured_at": visit.served_at, **visit.reading}
            for visit in visits if visit.reading is not None]
    _insert(Reading, rows)
    return len(rows)


# --- Long-term prescriptions --------------------------------------------------------------------

def _prescriptions(rng: random.Random, visits: list[Visit]) -> int:
    """For half of this year's patients: the scripts of their last two face-to-face follow-ups."""
    by_contract = defaultdict(list)
    for visit in visits:
        contract = visit.contract
        if (contract.status is ContractStatus.ACTIVE and visit.reading is not None and visit.kind in IN_PERSON
                and not contract.person.other_benefit):
            by_contract[contract.id].append(visit)
    scripts, drug_lists = [], []
    for follow_ups in by_contract.values():
        if rng.random() >= 0.5:
            continue
        follow_ups.sort(key=lambda visit: visit.served_at)
        last_two = follow_ups[-2:]
        for visit in last_two:
            # Some patients came with a hospital prescription the team continued (接续上级处方).
            continued = visit is last_two[0] and rng.random() < 0.2
            scripts.append(_prescription(rng, visit, continued=continued, latest=visit is last_two[-1]))
            drug_lists.append([cat.DRUGS[key] for key in _regimen(rng, visit.contract.person)])
    items, item_scripts = [], []
    for script, script_id, drugs in zip(scripts, _insert(Prescription, scripts), drug_lists):
        for drug in drugs:
            items.append({
                "prescription_id": script_id, "drug_code": drug.code, "drug_name": drug.name,
                "drug_class": drug.drug_class, "specification": drug.specification, "dosage": drug.dosage,
                "frequency": drug.frequency, "quantity": drug.daily_units * 7 * script["weeks"], "unit": drug.unit,
            })
            item_scripts.append(script)
    dispensings = [{
        "prescription_id": item["prescription_id"], "prescription_item_id": item_id,
        "institution_id": script["institution_id"], "dispensed_on": script["issued_on"], "quantity": item["quantity"],
        "staff_id": script["prescriber_staff_id"], "external_id": None,
        "created_at": script["created_at"], "updated_at": script["created_at"],
    } for item, item_id, script in zip(items, _insert(PrescriptionItem, items), item_scripts)]
    _insert(Dispensing, dispensings)
    return len(scripts)


def _prescription(rng: random.Random, visit: Visit, *, continued: bool, latest: bool) -> dict:
    contract = visit.contract
    person, team = contract.person, contract.team
    stable = all(person.conditions.values())
    # 4 weeks as a rule; 8 or up to the rules' maximum only for a stable patient.
    limit = max_prescription_weeks(contract.rules, stable=stable)
    weeks = rng.choice((8, limit)) if stable else limit
    issued_on = _local_day(visit.served_at)
    # A later script replaces an earlier one, so only the latest can still be running.
    running = latest and issued_on + timedelta(weeks=weeks) > SNAPSHOT
    source_name = source_no = None
    if continued:
        source_name = rng.choices(("漳州市医院", "漳州市中医院"), (2, 1))[0]
        source_no = f"MZ{issued_on - timedelta(days=rng.randint(3, 40)):%Y%m%d}{rng.randint(1000, 9999)}"
    stability = "".join(cat.STABILITY_ASSESSMENTS[code] for code in sorted(person.conditions)) if stable else ""
    return {
        "contract_id": contract.id, "resident_id": person.id, "region_id": team.region_id,
        "institution_id": team.institution_id, "team_id": team.id, "prescriber_staff_id": contract.doctor_id,
        "issued_on": issued_on, "weeks": weeks, "stable_patient": stable, "stability_assessment": stability,
        "patient_confirmed_at": visit.served_at + timedelta(minutes=rng.randint(3, 30)) if person.account else None,
        "status": PrescriptionStatus.ACTIVE if running else PrescriptionStatus.COMPLETED,
        "source_institution_name": source_name, "source_prescription_no": source_no, "external_id": None,
        "created_at": visit.served_at, "updated_at": visit.served_at,
    }


def _regimen(rng: random.Random, person: Person) -> tuple[str, ...]:
    """The person's drugs, chosen once so their prescriptions agree with each other."""
    if not person.regimen:
        person.regimen = tuple(key for code in sorted(person.conditions) for key in rng.choice(cat.REGIMENS[code]))
    return person.regimen


# --- Claims from the insurance platform ---------------------------------------------------------

def _claims(rng: random.Random, contracts: list[Signed]) -> int:
    """Hospital stays (more of them among poorly controlled patients) and outpatient visits."""
    rows = []
    for contract in contracts:
        if contract.status not in SERVED:
            continue
        last = min(contract.period_end, SNAPSHOT - timedelta(days=20))
        if rng.random() < (0.09 if contract.person.uncontrolled else 0.04):
            rows.append(_claim(rng, contract, "inpatient", last, len(rows) + 1))
        if rng.random() < 0.12:
            rows.append(_claim(rng, contract, "outpatient", last, len(rows) + 1))
    _insert(Claim, rows)
    return len(rows)


def _claim(rng: random.Random, contract: Signed, claim_type: str, last: date, number: int) -> dict:
    person, team = contract.person, contract.team
    chronic = [cat.DISEASE_DIAGNOSES[code][0][0] for code in sorted(person.conditions)]
    admitted = _day_between(rng, contract.period_start, last)
    if claim_type == "inpatient":
        medins_code, medins_name = rng.choice(cat.HOSPITALS)
        complications = [options[1] for code, options in cat.DISEASE_DIAGNOSES.items() if code in person.conditions]
        primary = rng.choice(cat.OTHER_ADMISSIONS + tuple(complications))[0]
        diagnoses = [primary, *(code for code in chronic if code != primary)]
        discharged = admitted + timedelta(days=rng.randint(3, 14))
        total, fund_share = rng.randint(3500, 28000) * 100 + rng.randrange(100), rng.uniform(0.6, 0.8)
    else:
        medins_code, medins_name = ((team.institution.code, team.institution.name) if rng.random() < 0.7
                                    else rng.choice(cat.HOSPITALS))
        diagnoses, discharged = chronic, None
        total, fund_share = rng.randint(30, 600) * 100 + rng.randrange(100), rng.uniform(0.5, 0.7)
    fund_paid = round(total * fund_share)
    settled_at = _at(discharged or admitted, rng.randint(9, 17), rng.randrange(60))
    return {
        "region_id": team.region_id, "resident_id": person.id,
        "setl_id": f"{cat.REGION_CODE}{admitted:%Y%m%d}{number:06d}", "mdtrt_id": f"MD{admitted:%Y%m%d}{number:06d}",
        "med_type": "21" if claim_type == "inpatient" else "11", "claim_type": claim_type,
        "medins_code": medins_code, "medins_name": medins_name, "admitted_on": admitted, "discharged_on": discharged,
        "settled_at": settled_at, "diagnosis_codes": diagnoses, "total_cost_fen": total,
        "fund_paid_fen": fund_paid, "personal_paid_fen": total - fund_paid, "cash_paid_fen": total - fund_paid,
        "created_at": settled_at, "updated_at": settled_at,
    }


# --- Satisfaction surveys -----------------------------------------------------------------------

def _surveys(rng: random.Random, region_id: int, visits: list[Visit]) -> int:
    """Invitations after some follow-ups: in the mini-program for this year's WeChat users,
    otherwise a phone call whose answers a nurse enters."""
    survey = Survey(region_id=region_id, name=cat.SURVEY_NAME, questions=cat.SURVEY_QUESTIONS)
    db.session.add(survey)
    db.session.flush()
    invitations, answers = [], []
    for visit in visits:
        if visit.reading is None or visit.confirmed_at is None or visit.disputes:
            continue
        by_wechat = visit.contract.year >= 2026 and visit.contract.person.account is not None
        if rng.random() >= (0.3 if by_wechat else 0.07):
            continue
        invited_at = visit.served_at + timedelta(hours=2)
        invitations.append({
            "survey_id": survey.id, "contract_id": visit.contract.id, "service_record_id": visit.follow_up_id,
            "invited_at": invited_at, "expires_at": invited_at + timedelta(days=7),
            "message_sent_at": invited_at if by_wechat else None, "created_at": invited_at, "updated_at": invited_at,
        })
        answers.append(_answer(rng, visit, invited_at, by_wechat))
    responses = [{"invitation_id": invitation_id, **answer}
                 for invitation_id, answer in zip(_insert(SurveyInvitation, invitations), answers) if answer]
    _insert(SurveyResponse, responses)
    return len(responses)


def _answer(rng: random.Random, visit: Visit, invited_at: datetime, by_wechat: bool) -> dict | None:
    team = visit.contract.team
    if rng.random() >= (0.65 if by_wechat else 0.85):
        return None
    if by_wechat:
        answered_at, channel, entered_by = invited_at + timedelta(minutes=rng.randint(10, 3 * 24 * 60)), "self", None
    else:
        answered_at = invited_at + timedelta(days=rng.randint(1, 4), minutes=rng.randint(0, 300))
        channel, entered_by = "phone", rng.choice(team.nurses)
    if answered_at > _at(SNAPSHOT, 23, 59):
        return None
    overall = rng.choices((5, 4, 3, 2, 1), (55, 30, 10, 3, 2))[0]
    scores = {f"score_{aspect}": _clamp(overall + rng.choice((-1, 0, 0, 0, 1)), 1, 5)
              for aspect in ("ability", "attitude", "timeliness")}
    return {
        "region_id": team.region_id, "institution_id": team.institution_id, "team_id": team.id,
        "resident_id": visit.contract.person.id, "channel": channel, "entered_by_staff_id": entered_by,
        **scores, "score_overall": overall,
        "comment": rng.choice(cat.SURVEY_COMMENTS) if rng.random() < 0.25 else "",
        "answered_at": answered_at, "created_at": answered_at, "updated_at": answered_at,
    }


# --- Supervision --------------------------------------------------------------------------------

def _supervision_alerts(region_id: int, visits: list[Visit]) -> None:
    """Every disputed service raises an alert; last year's have been looked at and dismissed."""
    rows = []
    for visit in visits:
        contract = visit.contract
        for record_id, item, reason in visit.disputes:
            raised_at = visit.served_at + timedelta(days=1)
            rows.append({
                "region_id": region_id, "institution_id": contract.team.institution_id,
                "kind": AlertKind.DISPUTED_SERVICE, "subject_type": "service_record", "subject_id": str(record_id),
                "details": {"contract_no": contract.no, "item": item.name,
                            "served_on": _local_day(visit.served_at).isoformat(), "reason": reason},
                "status": "open" if contract.year >= 2026 else "dismissed", "case_id": None,
                "created_at": raised_at, "updated_at": raised_at,
            })
    _insert(SupervisionAlert, rows)


# --- Bulk writing -------------------------------------------------------------------------------

def _next_id(model: type) -> int:
    return (db.session.scalar(sa.select(sa.func.max(model.id))) or 0) + 1


def _insert(model: type, rows: list[dict]) -> list[int]:
    """Insert `rows` in one executemany with ids handed out here, and return those ids.

    Handing out ids keeps it one batched statement on every database: SQLite cannot return
    the generated ids of a multi-row INSERT in order, so SQLAlchemy would go row by row.
    `_advance_sequences` then moves PostgreSQL's sequences past them.
    """
    if not rows:
        return []
    first = _next_id(model)
    ids = list(range(first, first + len(rows)))
    for row, new_id in zip(rows, ids):
        row["id"] = new_id
    db.session.execute(sa.insert(model.__table__), rows)
    return ids


def _advance_sequences() -> None:
    """On PostgreSQL, make every id sequence continue after the largest id now in its table."""
    if db.session.get_bind().dialect.name != "postgresql":
        return
    for table in db.metadata.sorted_tables:
        if "id" in table.c:
            db.session.execute(sa.text(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), coalesce(max(id), 1),"
                f" max(id) IS NOT NULL) FROM {table.name}"))


# --- Small helpers ------------------------------------------------------------------------------

_URLSAFE = string.ascii_letters + string.digits + "-_"
_SURNAMES, _SURNAME_WEIGHTS = zip(*cat.SURNAMES)


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    """A wall-clock time in Zhangzhou on `day`, as the UTC timestamp the database stores."""
    return datetime.combine(day, time(hour, minute), SHANGHAI).astimezone(timezone.utc)


def _office_hours(rng: random.Random, day: date) -> datetime:
    return _at(day, rng.randint(8, 16), rng.randrange(60))


def _local_day(at: datetime) -> date:
    return at.astimezone(SHANGHAI).date()


def _day_between(rng: random.Random, first: date, last: date) -> date:
    return first + timedelta(days=rng.randint(0, (last - first).days))


def _name(rng: random.Random, male: bool) -> str:
    given = cat.MALE_GIVEN if male else cat.FEMALE_GIVEN
    return rng.choices(_SURNAMES, _SURNAME_WEIGHTS)[0] + "".join(rng.sample(given, 2 if rng.random() < 0.75 else 1))


def _mobile(rng: random.Random) -> str:
    return f"1{rng.choice('3578')}{rng.randrange(10 ** 9):09d}"


def _clamp(value, low, high):
    return max(low, min(high, value))


def _one_decimal(value: float) -> Decimal:
    return Decimal(f"{value:.1f}")


DEMO_PATIENTS_FILE = "demo-patients.txt"


def write_demo_patients(instance_path: str, count: int = 5) -> str:
    """Write demo patients to try the journey with (a chronic condition, no WeChat binding, no
    contract this year) to a file only its owner may read; return what the terminal shows.

    Binding needs the full ID number, but a terminal's text travels on (scrollback, screen
    shares, CI logs), so the terminal shows masked numbers and where the full ones are.
    """
    year = SNAPSHOT.year
    signed = sa.select(Contract.resident_id).where(Contract.period_year == year)
    residents = db.session.scalars(
        sa.select(Resident)
        .where(Resident.id.in_(sa.select(ChronicCondition.resident_id)),
               Resident.id.not_in(sa.select(FamilyLink.resident_id)), Resident.id.not_in(signed),
               Resident.id.not_in(sa.select(BenefitEnrolment.resident_id)))
        .order_by(Resident.id).limit(count)).all()
    if not residents:
        return ""
    path = os.path.join(instance_path, DEMO_PATIENTS_FILE)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)  # a file left from an earlier run keeps its mode otherwise
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.writelines(f"{resident.name}\t{resident.id_number}\n" for resident in residents)
    return "\n".join((
        f"可用于体验签约的演示居民 Demo patients to sign for（患有慢性病、未绑定微信、{year}年未签约）：",
        *(f"  {resident.name} / {pii.mask_id_number(resident.id_number)}" for resident in residents),
        f"  完整身份证号见 Full ID numbers in: {path}（仅本人可读 readable by you only）",
    ))
