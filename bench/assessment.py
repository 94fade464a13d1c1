"""Benchmark: the yearly assessment run of a county-sized region on PostgreSQL, beside one full scan.

For the given scale and a tenth of it, creates a fresh database (`jiayi_bench_assessment` and
`jiayi_bench_assessment_tenth` by default; dropped first if they exist), migrates it and loads
one region of 2025 with PostgreSQL COPY. At scale 1.0: 300,000 residents, 150,000 contracts
(expired, a few still active), 2,000,000 service records with 600,000 readings, 50,000 claims
(mostly inpatient), chronic conditions (hypertension for most signed people, diabetes for a
share), 40,000 long-term prescriptions with their dispensings, 24,000 survey responses (by the
resident or by phone), a few supervision cases and alerts, and updated health records, so every
automatic indicator has data. There are 60 institutions at every scale: a smaller region has
fewer people, not fewer institutions. After VACUUM ANALYZE (the tables as autovacuum would leave
them, so no autovacuum starts during the measurements) it measures
  - `SELECT institution_id, count(*) FROM service_record GROUP BY institution_id`, best of three
    after a warm-up: what reading the biggest table once costs on this machine,
  - `runs.start_run` for 2025 with the default scheme, in a child process that does nothing else,
    so its peak RSS (ru_maxrss) is the run's own; its RSS just before the run is printed beside it,
and prints the run's time as a multiple of the scan's, and the run's memory at both sizes. Usage:
    python bench/assessment.py [--scale 1.0]
                               [--database-url postgresql://postgres@127.0.0.1:5432/jiayi_bench_assessment]
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta, timezone

import sqlalchemy as sa
from flask_migrate import upgrade
from sqlalchemy.engine import make_url

from server import create_app
from server.assessment import runs, schemes
from server.assessment.models import AssessmentRun, IndicatorScore, InstitutionResult
from server.common import idcard, pii
from server.config import _normalise_db_url, load_settings
from server.contracts.states import ContractStatus
from server.demo.catalogue import DRUGS, HOSPITALS, PACKAGES, ZHANGZHOU_RULES
from server.extensions import db
from server.identity.models import UserAccount
from server.identity.roles import Actor, Role
from server.institutions.models import Institution
from server.packages.models import ItemCategory, PackageItem, PackageVersion, ServicePackage
from server.prescriptions.models import PrescriptionStatus
from server.regions.models import LocalRules, Region
from server.servicerecords.models import Confirmation, ServiceType
from server.supervision.models import AlertKind, CaseAction
from server.surveys.models import Survey
from server.teams.models import Staff, StaffKind, Team, TeamMembership

from common import add, fresh_database  # bench/ is the script's folder, so it is on sys.path

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/jiayi_bench_assessment"
YEAR = 2025
COUNTY = "350627"  # 南靖县
INSTITUTIONS = 60
TEAMS_PER_INSTITUTION = 2
CST = timezone(timedelta(hours=8))  # Asia/Shanghai keeps no daylight saving: a fixed offset is exact and cheaper
LOADED_AT = datetime(YEAR, 1, 1, tzinfo=CST)
FULL_SIZE = dict(contracts=150_000, services=2_000_000, readings=600_000, claims=50_000, prescriptions=40_000,
                 responses=24_000, cases=40, alerts=200)
COUNTED = ("institution", "resident", "contract", "chronic_condition", "service_record", "reading", "claim",
           "prescription", "prescription_item", "dispensing", "survey_invitation", "survey_response",
           "supervision_case", "supervision_alert")
SCAN = sa.text("SELECT institution_id, count(*) FROM service_record GROUP BY institution_id")


@dataclasses.dataclass(frozen=True)
class Sizes:
    residents: int
    contracts: int
    services: int
    readings: int
    claims: int
    prescriptions: int
    responses: int
    cases: int
    alerts: int

    @classmethod
    def at(cls, scale: float) -> Sizes:
        sized = {name: max(1, round(count * scale)) for name, count in FULL_SIZE.items()}
        return cls(residents=2 * sized["contracts"], **sized)  # half the residents hold a contract


@dataclasses.dataclass
class County:
    """Ids of the reference rows, and what the bulk passes share about each contract."""

    region_id: int
    rules_id: int
    bureau_account_id: int
    survey_id: int
    institutions: list[int]          # index → institution id
    institution_codes: list[str]
    quality: list[float]             # index → 0..1, how well it works (services, control, records)
    teams: list[tuple[int, int]]     # index → (team id, doctor id), TEAMS_PER_INSTITUTION per institution
    packages: dict[str, tuple[int, int, list[int]]]  # disease → (version id, follow-up item, other items)
    home: list[int] = dataclasses.field(default_factory=list)         # resident → institution index
    holder: list[int] = dataclasses.field(default_factory=list)       # contract → resident index
    contract_of: list[int] = dataclasses.field(default_factory=list)  # resident → contract index or -1
    htn: bytearray = dataclasses.field(default_factory=bytearray)      # contract → has hypertension
    dm: bytearray = dataclasses.field(default_factory=bytearray)       # contract → has diabetes
    services: list[int] = dataclasses.field(default_factory=list)     # contract → its service records
    readings: list[int] = dataclasses.field(default_factory=list)     # contract → its follow-ups with readings
    first_record: list[int] = dataclasses.field(default_factory=list)  # contract → id of its first record

    def team_of(self, contract: int) -> tuple[int, int]:
        return self.teams[self.home[self.holder[contract]] * TEAMS_PER_INSTITUTION + contract % TEAMS_PER_INSTITUTION]

    def package_of(self, contract: int) -> str:
        return "diabetes" if self.dm[contract] and (not self.htn[contract] or contract % 2) else "hypertension"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--child-run", help=argparse.SUPPRESS)  # "region,account,scheme": the measured child
    args = parser.parse_args()
    url = _normalise_db_url(args.database_url)
    if args.child_run:
        child_run(url, *map(int, args.child_run.split(",")))
        return

    os.environ["JIAYI_INSTANCE_PATH"] = tempfile.mkdtemp(prefix="jiayi-bench-assessment-")  # the child inherits it
    sizes = [("full", args.scale, url), ("tenth", args.scale / 10, _suffixed(url, "_tenth"))]
    results = {label: measure(label, scale, size_url) for label, scale, size_url in sizes}
    print_table(sizes, results)


def _suffixed(url: str, suffix: str) -> str:
    parsed = make_url(url)
    return parsed.set(database=parsed.database + suffix).render_as_string(hide_password=False)


def bench_app(url: str):
    settings = dataclasses.replace(load_settings(os.environ["JIAYI_INSTANCE_PATH"]), env="testing", log_json=True,
                                   database_url=url)
    app = create_app(settings)
    logging.getLogger().setLevel(logging.WARNING)
    return app


def measure(label: str, scale: float, url: str) -> dict:
    """Build one region at `scale` in its own fresh database, then time the scan and the run."""
    sizes = Sizes.at(scale)
    url = fresh_database(url)
    print(f"[{label}] scale {scale:g}: database {make_url(url).database} (fresh)", flush=True)
    app = bench_app(url)
    with app.app_context():
        t0 = time.perf_counter()
        upgrade()
        print(f"  migrations {time.perf_counter() - t0:33.1f} s", flush=True)
        t0 = time.perf_counter()
        county = build_reference()
        plan(county, sizes)
        load(county, sizes)
        load_seconds = time.perf_counter() - t0
        t0 = time.perf_counter()
        settle()
        print(f"  VACUUM ANALYZE {time.perf_counter() - t0:29.1f} s", flush=True)
        counts = {table: db.session.scalar(sa.text(f"SELECT count(*) FROM {table}")) for table in COUNTED}
        scan = scan_seconds()
        actor = Actor(role=Role.BUREAU_STAFF, account_id=county.bureau_account_id, region_id=county.region_id)
        scheme_id = schemes.create_scheme(actor, year=YEAR, name="基准方案", copy_from_id=None).id
        db.session.close()  # the parent holds no transaction or lock while the child runs

        run = run_child(url, f"{county.region_id},{county.bureau_account_id},{scheme_id}")
        print(f"  assessment run {run['seconds']:29.1f} s  (scan {scan:.3f} s)", flush=True)
        check_run(run["run_id"], len(county.institutions))
        db.session.close()
        db.engine.dispose()
    return {"counts": counts, "load": load_seconds, "scan": scan, **run}


# --- Reference rows (ORM) ----------------------------------------------------------------------

def build_reference() -> County:
    """Region, rules, institutions with two teams each, both packages, a survey and a bureau account."""
    rng = random.Random("reference")
    region = add(Region(admdvs_code=COUNTY, name="南靖县（压测）"))
    rules = add(LocalRules(region_id=region.id, effective_from=date(2024, 1, 1), document_no="压测", **ZHANGZHOU_RULES))
    account = add(UserAccount(username="bench-bureau", password_hash="-", display_name="压测医保局",
                              role=Role.BUREAU_STAFF, region_id=region.id))
    institutions, codes, teams = [], [], []
    for k in range(INSTITUTIONS):
        kind = "社区卫生服务中心" if k < 6 else "乡镇卫生院" if k < 24 else "村卫生室"
        code = f"H{COUNTY}{k:05d}"
        institution = add(Institution(region_id=region.id, code=code, name=f"压测{kind}{k:02d}", kind=kind))
        institutions.append(institution.id)
        codes.append(code)
        for t in range(TEAMS_PER_INSTITUTION):
            team = add(Team(region_id=region.id, institution_id=institution.id, name=f"压测团队{k:02d}-{t}",
                            capacity=10**6))
            doctor = add(Staff(region_id=region.id, institution_id=institution.id, name=f"压测医生{k:02d}{t}",
                               kind=StaffKind.DOCTOR, licence_no=f"1103506{k:05d}{t}"))
            add(TeamMembership(team_id=team.id, staff_id=doctor.id, is_leader=True, joined_on=date(2024, 1, 1)))
            teams.append((team.id, doctor.id))
    packages = {}
    for spec in PACKAGES:
        package = add(ServicePackage(region_id=region.id, code=spec.code, name=spec.name, description=spec.description))
        version = add(PackageVersion(package_id=package.id, region_id=region.id, version=1,
                                     effective_from=date(2024, 1, 1), target_disease_codes=[spec.disease]))
        items = [add(PackageItem(package_version_id=version.id, region_id=region.id, code=item.code, name=item.name,
                                 category=item.category, target_disease_codes=[spec.disease],
                                 yearly_quantity=item.yearly_quantity, unit_value_fen=item.unit_value_fen,
                                 basic_public_health=item.basic_public_health)) for item in spec.items]
        follow_up = next(i.id for i in items if i.category is ItemCategory.FOLLOW_UP)
        packages[spec.disease] = (version.id, follow_up, [i.id for i in items if i.id != follow_up])
    survey = add(Survey(region_id=region.id, name="签约服务满意度", questions=[]))
    db.session.commit()
    return County(region_id=region.id, rules_id=rules.id, bureau_account_id=account.id, survey_id=survey.id,
                   institutions=institutions, institution_codes=codes,
                   quality=[rng.random() for _ in institutions], teams=teams, packages=packages)


def plan(county: County, sizes: Sizes) -> None:
    """Who lives where, who signed, their conditions, and how many services each contract gets."""
    rng = random.Random("plan")
    weights = [3.0 if k < 6 else 1.5 if k < 24 else 0.6 for k in range(INSTITUTIONS)]  # catchment sizes
    county.home = rng.choices(range(INSTITUTIONS), weights, k=sizes.residents)
    # Holders interleave with other residents, so a contract's id is not its resident's id.
    county.holder = [2 * i + i % 2 for i in range(sizes.contracts)]
    county.contract_of = [-1] * sizes.residents
    for i, n in enumerate(county.holder):
        county.contract_of[n] = i
    county.htn = bytearray(rng.random() < 0.8 for _ in range(sizes.contracts))
    county.dm = bytearray(rng.random() < 0.3 for _ in range(sizes.contracts))
    # Services follow how diligent the institution is; readings are four follow-ups a contract.
    diligence = [0.6 + 0.8 * county.quality[county.home[n]] for n in county.holder]
    total, acc, done = sum(diligence), 0.0, 0
    for i, weight in enumerate(diligence):
        acc += weight
        upto = sizes.services if i == sizes.contracts - 1 else round(acc * sizes.services / total)
        county.services.append(upto - done)
        done = upto
    county.readings = [min((i + 1) * sizes.readings // sizes.contracts - i * sizes.readings // sizes.contracts, s)
                       for i, s in enumerate(county.services)]
    first = 1
    for s in county.services:
        county.first_record.append(first)
        first += s


# --- Bulk rows (COPY) --------------------------------------------------------------------------

def load(county: County, sizes: Sizes) -> None:
    copy_rows("resident", ("id", "region_id", "name", "gender", "birth_date", "id_number", "id_number_hash",
                           "address", "insurance_type", "insurance_status", "insured_admdvs", "populations",
                           "health_record_created_on", "health_record_updated_on", "created_at", "updated_at"),
              residents(county, sizes))
    copy_rows("chronic_condition", ("id", "resident_id", "disease_code", "diagnosed_on", "source", "stable",
                                    "created_at", "updated_at"), conditions(county, sizes))
    copy_rows("contract", ("id", "contract_no", "region_id", "resident_id", "institution_id", "team_id",
                           "doctor_staff_id", "package_version_id", "rules_id", "status", "period_year",
                           "period_start", "period_end", "channel", "consent_at", "consent_version",
                           "fee_per_head_fen", "personal_share_fen", "public_health_share_fen",
                           "insurance_fund_share_fen", "personal_share_payer", "activated_at", "ended_at",
                           "end_reason", "version", "created_at", "updated_at"), contracts(county))
    copy_rows("service_record", ("id", "contract_id", "package_item_id", "resident_id", "region_id",
                                 "institution_id", "team_id", "staff_id", "service_type", "served_at", "served_on",
                                 "place", "notes", "source", "external_id", "confirmation", "confirmed_at",
                                 "dispute_reason", "created_at", "updated_at"), service_records(county))
    copy_rows("reading", ("id", "service_record_id", "resident_id", "measured_at", "systolic_mmhg",
                          "diastolic_mmhg", "fasting_glucose_mmol", "hba1c_percent", "weight_kg", "heart_rate_bpm"),
              readings(county))
    copy_rows("claim", ("id", "region_id", "resident_id", "setl_id", "claim_type", "medins_code", "medins_name",
                        "admitted_on", "discharged_on", "settled_at", "diagnosis_codes", "total_cost_fen",
                        "fund_paid_fen", "personal_paid_fen", "created_at", "updated_at"), claims(county, sizes))
    scripts = prescriptions(county, sizes)
    copy_rows("prescription", ("id", "contract_id", "resident_id", "region_id", "institution_id", "team_id",
                               "prescriber_staff_id", "issued_on", "weeks", "stable_patient", "stability_assessment",
                               "patient_confirmed_at", "status", "created_at", "updated_at"),
              (row for row, _ in scripts))
    copy_rows("prescription_item", ("id", "prescription_id", "drug_code", "drug_name", "drug_class", "specification",
                                    "dosage", "frequency", "quantity", "unit"), prescription_items(scripts))
    copy_rows("dispensing", ("id", "prescription_id", "prescription_item_id", "institution_id", "dispensed_on",
                             "quantity", "staff_id", "created_at", "updated_at"), dispensings(scripts))
    invited = invitations(county, sizes)
    copy_rows("survey_invitation", ("id", "survey_id", "contract_id", "service_record_id", "invited_at",
                                    "expires_at", "message_sent_at", "created_at", "updated_at"),
              (row for row, _ in invited))
    copy_rows("survey_response", ("id", "invitation_id", "region_id", "institution_id", "team_id", "resident_id",
                                  "channel", "entered_by_staff_id", "score_ability", "score_attitude",
                                  "score_timeliness", "score_overall", "comment", "answered_at", "created_at",
                                  "updated_at"), responses(county, sizes, invited))
    copy_rows("supervision_case", ("id", "region_id", "institution_id", "title", "finding", "status", "action",
                                   "deduction_fen", "opened_by_account_id", "closed_at", "created_at", "updated_at"),
              cases(county, sizes))
    copy_rows("supervision_alert", ("id", "region_id", "institution_id", "kind", "subject_type", "subject_id",
                                    "details", "status", "case_id", "created_at", "updated_at"),
              alerts(county, sizes))
    # Ids were handed out here; later inserts (the run's own rows among them) continue after them.
    for table in ("resident", "chronic_condition", "contract", "service_record", "reading", "claim", "prescription",
                  "prescription_item", "dispensing", "survey_invitation", "survey_response", "supervision_case",
                  "supervision_alert"):
        db.session.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) FROM {table}"))
    db.session.commit()


def copy_rows(table: str, columns: tuple[str, ...], rows: Iterable[tuple]) -> None:
    t0 = time.perf_counter()
    count = 0
    raw = db.session.connection().connection.driver_connection
    with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    db.session.commit()
    print(f"  COPY {table:<18} {count:>10,} rows {time.perf_counter() - t0:6.1f} s", flush=True)


def _day(rng: random.Random, start: date, end: date) -> date:
    return start + timedelta(days=rng.randrange((end - start).days + 1))


def residents(county: County, sizes: Sizes) -> Iterator[tuple]:
    """Valid, unique ID numbers, stored as the app stores them: ciphertext plus the keyed hash."""
    rng = random.Random("residents")
    days = 25_500  # birth dates 1935–2004; a number is unique by (birth date, sequence)
    for n in range(sizes.residents):
        born = date(1935, 1, 1) + timedelta(days=n * 7919 % days)
        number = idcard.make(COUNTY, born, n // days)
        signed = county.contract_of[n] >= 0
        quality = county.quality[county.home[n]]
        if signed or rng.random() < 0.4:
            created = _day(rng, date(2018, 1, 1), date(2024, 6, 30))
            kept = rng.random() < (0.6 + 0.35 * quality if signed else 0.3)
            updated = (_day(rng, date(YEAR, 1, 1), date(YEAR, 12, 31)) if kept
                       else _day(rng, created, date(YEAR - 1, 12, 31)))
        else:
            created = updated = None
        yield (n + 1, county.region_id, f"压测居民{n:06d}", idcard.gender(number), born, pii.encrypt(number),
               pii.blind_index(number), f"南靖县压测村{county.home[n]:02d}组{n % 300}号",
               "310" if rng.random() < 0.25 else "390", "active", COUNTY, "[]", created, updated, LOADED_AT, LOADED_AT)


def conditions(county: County, sizes: Sizes) -> Iterator[tuple]:
    rng = random.Random("conditions")
    row_id = 0
    for n in range(sizes.residents):
        i = county.contract_of[n]
        has = ((county.htn[i], county.dm[i]) if i >= 0 else (rng.random() < 0.15, rng.random() < 0.05))
        for disease, present in zip(("hypertension", "diabetes"), has):
            if present:
                row_id += 1
                yield (row_id, n + 1, disease, _day(rng, date(2010, 1, 1), date(2024, 6, 30)), "platform",
                       rng.random() < 0.5, LOADED_AT, LOADED_AT)


def contracts(county: County) -> Iterator[tuple]:
    rules = ZHANGZHOU_RULES
    ended = datetime(YEAR + 1, 1, 1, tzinfo=CST)
    for i, n in enumerate(county.holder):
        team, doctor = county.team_of(i)
        consent = datetime(YEAR - 1, 12, 1, 9, tzinfo=CST) + timedelta(minutes=i % 40_000)
        active = i % 20 == 0  # the expiry job has not reached a few of them yet
        yield (i + 1, f"QY{YEAR}{i:08d}", county.region_id, n + 1, county.institutions[county.home[n]], team, doctor,
               county.packages[county.package_of(i)][0], county.rules_id,
               (ContractStatus.ACTIVE if active else ContractStatus.EXPIRED).value, YEAR, date(YEAR, 1, 1),
               date(YEAR, 12, 31), "mini_program" if i % 3 else "on_site", consent, "2025.1",
               rules["fee_per_head_fen"], rules["personal_share_fen"], rules["public_health_share_fen"],
               rules["insurance_fund_share_fen"], "self", consent + timedelta(hours=1), None if active else ended,
               "" if active else "协议期满", 1, consent, consent + timedelta(hours=1) if active else ended)


def _served_at(i: int, j: int, services: int) -> datetime:
    """Visit j of a contract's year, evenly spread from 3 January to mid-December."""
    spread = int((j + 0.5) * 350 * 86_400 / services) + i % 97 * 613
    return datetime(YEAR, 1, 3, 8, tzinfo=CST) + timedelta(seconds=spread)


def _follow_up_visits(services: int, readings: int) -> list[int]:
    return [q * services // readings for q in range(readings)]


def service_records(county: County) -> Iterator[tuple]:
    rng = random.Random("service_records")
    face_to_face = (ServiceType.CLINIC.value,) * 5 + (ServiceType.HOME_VISIT.value,) * 2 + (ServiceType.PHONE.value,)
    for i, n in enumerate(county.holder):
        team, doctor = county.team_of(i)
        institution = county.institutions[county.home[n]]
        _, follow_up, others = county.packages[county.package_of(i)]
        follow_ups = set(_follow_up_visits(county.services[i], county.readings[i]))
        for j in range(county.services[i]):
            record_id = county.first_record[i] + j
            at = _served_at(i, j, county.services[i])
            if j in follow_ups:
                item, service_type = follow_up, face_to_face[(i + j) % len(face_to_face)]
            else:
                item, service_type = others[j % len(others)], ServiceType.CLINIC.value
            draw = rng.random()
            confirmation = (Confirmation.DISPUTED if draw < 0.03 else Confirmation.CONFIRMED if draw < 0.78
                            else Confirmation.PENDING)
            imported = i % 3 == 0
            yield (record_id, i + 1, item, n + 1, county.region_id, institution, team, doctor, service_type, at,
                   at.date(), "居民家中" if service_type == ServiceType.HOME_VISIT.value else "门诊", "",
                   "import" if imported else "platform", f"HIS{record_id:010d}" if imported else None,
                   confirmation.value, None if confirmation is Confirmation.PENDING else at + timedelta(days=1),
                   "未接受该项服务" if confirmation is Confirmation.DISPUTED else "", at, at)


def readings(county: County) -> Iterator[tuple]:
    """Blood pressure at every follow-up, fasting glucose too for diabetes; better where care is better."""
    rng = random.Random("readings")
    row_id = 0
    for i, n in enumerate(county.holder):
        shift = int(20 * (1 - county.quality[county.home[n]]))
        for j in _follow_up_visits(county.services[i], county.readings[i]):
            row_id += 1
            at = _served_at(i, j, county.services[i])
            glucose = round(rng.uniform(5.0, 8.0) + shift / 10, 1) if county.dm[i] else None
            yield (row_id, county.first_record[i] + j, n + 1, at, rng.randint(112, 150) + shift,
                   rng.randint(66, 92) + shift // 3, glucose, round(rng.uniform(6.0, 9.0), 1) if glucose else None,
                   round(rng.uniform(48, 85), 1), rng.randint(58, 96))


def claims(county: County, sizes: Sizes) -> Iterator[tuple]:
    """Settlements of signed and unsigned residents; most are hospital stays, many of a frail few."""
    rng = random.Random("claims")
    frail = max(1, sizes.contracts // 8)
    for k in range(sizes.claims):
        draw = rng.random()
        n = (county.holder[rng.randrange(frail)] if draw < 0.4 else county.holder[rng.randrange(sizes.contracts)]
             if draw < 0.6 else rng.randrange(sizes.residents))
        admitted = _day(rng, date(YEAR, 1, 1), date(YEAR, 12, 20))
        if rng.random() < 0.85:
            claim_type, (code, name) = "inpatient", HOSPITALS[k % len(HOSPITALS)]
            discharged, total = admitted + timedelta(days=rng.randint(2, 15)), rng.randint(150_000, 900_000)
        else:
            claim_type, code, name = "outpatient", county.institution_codes[county.home[n]], ""
            discharged, total = None, rng.randint(5_000, 60_000)
        personal = total * rng.randint(15, 45) // 100
        settled = datetime.combine(discharged or admitted, datetime.min.time(), CST) + timedelta(hours=34)
        yield (k + 1, county.region_id, n + 1, f"SETL{YEAR}{k:010d}", claim_type, code, name, admitted, discharged,
               settled, json.dumps(["I10.x00" if k % 2 else "I63.900"]), total, total - personal, personal,
               settled, settled)


def prescriptions(county: County, sizes: Sizes) -> list[tuple[tuple, list[tuple]]]:
    """Long-term scripts of signed patients: (prescription row, [(item id, drug, quantity supplied)])."""
    rng = random.Random("prescriptions")
    patients = [i for i in range(sizes.contracts) if county.htn[i] or county.dm[i]]
    drugs = list(DRUGS.values())
    result, item_id = [], 0
    for k, i in enumerate(sorted(rng.sample(patients, min(sizes.prescriptions, len(patients))))):
        n = county.holder[i]
        team, doctor = county.team_of(i)
        issued = _day(rng, date(YEAR, 1, 5), date(YEAR, 11, 30))
        stable = rng.random() < 0.4
        weeks = rng.choice((8, 12)) if stable else 4
        row = (k + 1, i + 1, n + 1, county.region_id, county.institutions[county.home[n]], team, doctor, issued,
               weeks, stable, "", datetime.combine(issued, datetime.min.time(), CST) + timedelta(hours=10),
               (PrescriptionStatus.ACTIVE if rng.random() < 0.7 else PrescriptionStatus.COMPLETED).value,
               LOADED_AT, LOADED_AT)
        items = []
        for drug in rng.sample(drugs, 2 if rng.random() < 0.3 else 1):
            item_id += 1
            items.append((item_id, drug, drug.daily_units * weeks * 7))
        result.append((row, items))
    return result


def prescription_items(scripts: list[tuple[tuple, list[tuple]]]) -> Iterator[tuple]:
    for row, items in scripts:
        for item_id, drug, quantity in items:
            yield (item_id, row[0], drug.code, drug.name, drug.drug_class, drug.specification, drug.dosage,
                   drug.frequency, quantity, drug.unit)


def dispensings(scripts: list[tuple[tuple, list[tuple]]]) -> Iterator[tuple]:
    """Most scripts are filled once per supply period, some a few times, some never."""
    rng = random.Random("dispensings")
    row_id = 0
    for row in scripts:
        (prescription_id, _, _, _, institution, _, doctor, issued, weeks, *_), items = row
        for filling in range(rng.choice((0, 1, 1, 2, 2, 3, 3, 3))):
            on = issued + timedelta(weeks=weeks * filling)
            for item_id, _, quantity in items:
                row_id += 1
                at = datetime.combine(on, datetime.min.time(), CST) + timedelta(hours=9)
                yield (row_id, prescription_id, item_id, institution, on, quantity, doctor, at, at)


def invitations(county: County, sizes: Sizes) -> list[tuple[tuple, int]]:
    """An invitation after the last follow-up of some contracts: (invitation row, contract index)."""
    rng = random.Random("invitations")
    chosen = sorted(rng.sample(range(sizes.contracts), min(sizes.responses * 5 // 4, sizes.contracts)))
    result = []
    for k, i in enumerate(chosen):
        j = _follow_up_visits(county.services[i], county.readings[i])[-1] if county.readings[i] else 0
        invited = _served_at(i, j, county.services[i]) + timedelta(hours=2)
        result.append(((k + 1, county.survey_id, i + 1, county.first_record[i] + j, invited,
                        invited + timedelta(days=7), invited, invited, invited), i))
    return result


def responses(county: County, sizes: Sizes, invited: list[tuple[tuple, int]]) -> Iterator[tuple]:
    """Four in five invitations answered: by the resident, or by phone with a team member."""
    rng = random.Random("responses")
    for k, (invitation, i) in enumerate(invited[:sizes.responses]):
        team, doctor = county.team_of(i)
        by_phone = rng.random() < 0.3
        scores = [min(5, max(1, round(rng.gauss(4.3 + county.quality[county.home[county.holder[i]]] / 2, 0.8))))
                  for _ in range(4)]
        answered = invitation[4] + timedelta(hours=rng.randint(1, 72))
        yield (k + 1, invitation[0], county.region_id, county.institutions[county.home[county.holder[i]]], team,
               county.holder[i] + 1, "phone" if by_phone else "self", doctor if by_phone else None, *scores, "",
               answered, answered, answered)


def cases(county: County, sizes: Sizes) -> Iterator[tuple]:
    """Supervision cases of the year; most closed, some with an action against the institution."""
    rng = random.Random("cases")
    actions = (CaseAction.NONE, CaseAction.DEDUCTION, CaseAction.DEDUCTION, CaseAction.SUSPENSION)
    for k in range(sizes.cases):
        opened = datetime(YEAR, 1, 10, 9, tzinfo=CST) + timedelta(days=rng.randrange(300))
        closed = opened + timedelta(days=rng.randint(10, 40)) if rng.random() < 0.75 else None
        action = actions[k % len(actions)] if closed else CaseAction.NONE
        yield (k + 1, county.region_id, county.institutions[rng.randrange(INSTITUTIONS)], f"压测案件{k:03d}", "",
               "closed" if closed else "open", action.value,
               rng.randint(1, 50) * 10_000 if action is CaseAction.DEDUCTION else 0, county.bureau_account_id,
               closed, opened, closed or opened)


def alerts(county: County, sizes: Sizes) -> Iterator[tuple]:
    """Alerts on service records; a share of the cost-shifting ones escalated to a case."""
    rng = random.Random("alerts")
    kinds = list(AlertKind)
    for k in range(sizes.alerts):
        kind = kinds[k % len(kinds)]
        escalated = kind is AlertKind.COST_SHIFTING and rng.random() < 0.6
        at = datetime(YEAR, 1, 15, 10, tzinfo=CST) + timedelta(days=rng.randrange(330))
        yield (k + 1, county.region_id, county.institutions[rng.randrange(INSTITUTIONS)], kind.value,
               "service_record", str(k + 1), "{}", "escalated" if escalated else rng.choice(("open", "dismissed")),
               rng.randint(1, sizes.cases) if escalated else None, at, at)


# --- Measuring ---------------------------------------------------------------------------------

def settle() -> None:
    """Planner statistics and visibility maps now, so no autovacuum of the fresh tables runs while measuring."""
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE"))


def scan_seconds() -> float:
    """Best of three after a warm-up (the pages into the caches); the plan says what "a scan" read."""
    plan = db.session.execute(sa.text(f"EXPLAIN {SCAN.text}")).scalars().all()
    print("  scan plan:", next(line.strip(" ->") for line in plan if " on service_record" in line), flush=True)
    db.session.execute(SCAN).all()
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        db.session.execute(SCAN).all()
        best = min(best, time.perf_counter() - t0)
    db.session.rollback()
    return best


def run_child(url: str, spec: str) -> dict:
    """The run in a fresh interpreter of its own, so ru_maxrss is the run's peak and no one else's."""
    done = subprocess.run([sys.executable, os.path.abspath(__file__), "--database-url", url, "--child-run", spec],
                          stdout=subprocess.PIPE, check=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def child_run(url: str, region_id: int, account_id: int, scheme_id: int) -> None:
    app = bench_app(url)
    with app.app_context():
        actor = Actor(role=Role.BUREAU_STAFF, account_id=account_id, region_id=region_id)
        rss_before = _current_rss_kib()
        t0 = time.perf_counter()
        run = runs.start_run(actor, year=YEAR, scheme_id=scheme_id)
        seconds = time.perf_counter() - t0
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
        print(json.dumps({"run_id": run.id, "seconds": seconds, "rss_before_kib": rss_before, "peak_kib": peak}))


def _current_rss_kib() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


def check_run(run_id: int, institutions: int) -> None:
    """Say whether every institution got a result and every automatic indicator a computed value."""
    snapshot = db.session.get(AssessmentRun, run_id).scheme_snapshot
    automatic = [i["code"] for i in snapshot["indicators"] if i["method"] == "auto"]
    results = db.session.scalar(sa.select(sa.func.count()).where(InstitutionResult.run_id == run_id))
    valued = dict(db.session.execute(
        sa.select(IndicatorScore.indicator_code, sa.func.count(IndicatorScore.value))
        .join(InstitutionResult, InstitutionResult.id == IndicatorScore.result_id)
        .where(InstitutionResult.run_id == run_id).group_by(IndicatorScore.indicator_code)).all())
    short = [f"{code} ({institutions - valued.get(code, 0)})" for code in automatic
             if valued.get(code, 0) < institutions]
    print(f"  run {run_id}: {results} of {institutions} institutions; {len(automatic)} automatic indicators, "
          f"{len(automatic) - len(short)} computed at every institution"
          + (f"; fallback or no data at some (how many): {', '.join(short)}" if short else ""), flush=True)


def _mib(kib: int) -> str:
    return f"{kib / 1024:,.0f} MiB"


def print_table(sizes: list[tuple[str, float, str]], results: dict[str, dict]) -> None:
    labels = [f"{label} ({scale:g})" for label, scale, _ in sizes]
    full, tenth = (results[label] for label, _, _ in sizes)
    rows = [(table, *(f"{r['counts'][table]:,}" for r in (full, tenth))) for table in COUNTED]
    rows += [
        ("load (COPY), s", *(f"{r['load']:.1f}" for r in (full, tenth))),
        ("GROUP BY scan, s", *(f"{r['scan']:.3f}" for r in (full, tenth))),
        ("assessment run, s", *(f"{r['seconds']:.2f}" for r in (full, tenth))),
        ("run / scan", *(f"{r['seconds'] / r['scan']:.1f} ×" for r in (full, tenth))),
        ("RSS before run", *(_mib(r["rss_before_kib"]) for r in (full, tenth))),
        ("peak RSS of run", *(_mib(r["peak_kib"]) for r in (full, tenth))),
        ("increase", *(_mib(r["peak_kib"] - r["rss_before_kib"]) for r in (full, tenth))),
    ]
    print()
    print(f"{'':<20}{labels[0]:>16}{labels[1]:>16}")
    for name, *values in rows:
        print(f"{name:<20}{values[0]:>16}{values[1]:>16}")
    print(f"full / tenth: run {full['seconds'] / tenth['seconds']:.1f} ×, scan {full['scan'] / tenth['scan']:.1f} ×")


if __name__ == "__main__":
    main()
