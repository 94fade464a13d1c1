"""Helpers the benchmarks share: a fresh PostgreSQL database, a region of signed people, adding one ORM row."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from server.common import idcard, pii
from server.common.timeutil import SHANGHAI
from server.contracts.models import Contract
from server.contracts.states import ContractStatus
from server.demo.catalogue import ZHANGZHOU_RULES
from server.extensions import db
from server.identity.models import UserAccount
from server.identity.roles import Actor, Role
from server.institutions.models import Institution
from server.packages.models import ItemCategory, PackageItem, PackageVersion, ServicePackage
from server.regions.models import LocalRules, Region
from server.residents.models import Resident
from server.teams.models import Staff, StaffKind, Team, TeamMembership

REGION_CODE = "350627"
BORN = date(1955, 1, 1)


def bench_id_number(n: int) -> str:
    """The n-th signed person's (valid) ID number: a thousand per birth date."""
    return idcard.make(REGION_CODE, BORN + timedelta(days=n // 1000), n % 1000)


def fresh_database(url: str) -> str:
    """Drop and create the benchmark's own database (as tests/live.py does for the live server's)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise SystemExit("this benchmark measures PostgreSQL: give a postgresql:// URL")
    admin = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()
    return parsed.render_as_string(hide_password=False)


def add(obj):
    db.session.add(obj)
    db.session.flush()
    return obj


def build_region(contracts: int, per_contract: int = 4) -> tuple[Actor, Region]:
    """One region, institution, team and doctor, and `contracts` active contracts of this year."""
    year = datetime.now(SHANGHAI).year
    region = add(Region(admdvs_code=REGION_CODE, name="南靖县（压测）"))
    rules = add(LocalRules(region_id=region.id, effective_from=date(2024, 1, 1), document_no="压测", **ZHANGZHOU_RULES))
    institution = add(Institution(region_id=region.id, code="H350627BENCH", name="压测镇卫生院", kind="乡镇卫生院"))
    team = add(Team(region_id=region.id, institution_id=institution.id, name="压测团队", capacity=10**7))
    doctor = add(Staff(region_id=region.id, institution_id=institution.id, name="压测医生", kind=StaffKind.DOCTOR,
                       licence_no="110350600000001"))
    add(TeamMembership(team_id=team.id, staff_id=doctor.id, is_leader=True, joined_on=date(2024, 1, 1)))
    package = add(ServicePackage(region_id=region.id, code="HTN", name="高血压签约服务包"))
    version = add(PackageVersion(package_id=package.id, region_id=region.id, version=1,
                                 effective_from=date(2024, 1, 1), target_disease_codes=["hypertension"]))
    add(PackageItem(package_version_id=version.id, region_id=region.id, code="BP", name="血压测量",
                    category=ItemCategory.FOLLOW_UP, target_disease_codes=["hypertension"],
                    yearly_quantity=per_contract, unit_value_fen=500))
    account = add(UserAccount(username="bench-importer", password_hash="-", display_name="压测",
                              role=Role.TEAM_MEMBER, region_id=region.id, institution_id=institution.id,
                              staff_id=doctor.id))

    residents = Resident.__table__
    people = [{"region_id": region.id, "name": f"压测{n:06d}", "gender": "M", "birth_date": BORN,
               "id_number": bench_id_number(n), "id_number_hash": pii.blind_index(bench_id_number(n)),
               "populations": []} for n in range(contracts)]
    resident_ids = [rid for rid, in db.session.execute(
        sa.insert(residents).returning(residents.c.id, sort_by_parameter_order=True), people)]
    at = datetime(year, 1, 1, tzinfo=SHANGHAI).astimezone(timezone.utc)
    db.session.execute(sa.insert(Contract.__table__), [{
        "contract_no": f"QYBENCH{year}{n:07d}", "region_id": region.id, "resident_id": resident_id,
        "institution_id": institution.id, "team_id": team.id, "doctor_staff_id": doctor.id,
        "package_version_id": version.id, "rules_id": rules.id, "status": ContractStatus.ACTIVE,
        "period_year": year, "period_start": date(year, 1, 1), "period_end": date(year, 12, 31),
        "channel": "on_site", "consent_at": at, "consent_version": "2026.1", "fee_per_head_fen": 10000,
        "personal_share_fen": 2000, "public_health_share_fen": 4000, "insurance_fund_share_fen": 4000,
        "activated_at": at, "version": 1} for n, resident_id in enumerate(resident_ids)])
    db.session.commit()
    actor = Actor(role=Role.TEAM_MEMBER, account_id=account.id, region_id=region.id, institution_id=institution.id,
                  team_ids=frozenset({team.id}), staff_id=doctor.id)
    return actor, region
