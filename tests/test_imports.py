"""Batch import from an institution's own system, over the API: service records with readings
and dispensings, as JSON lines or CSV; idempotent by the institution's own ids; bad rows
reported by line and reason while the good ones are stored; scoped like everything else."""
from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

import pytest
import sqlalchemy as sa

from server.audit.models import AuditEvent
from server.common import pii
from server.common.timeutil import SHANGHAI, local_today
from server.contracts.models import Contract
from server.contracts.states import ContractStatus
from server.extensions import db
from server.identity.roles import Role
from server.packages.models import ItemCategory, PackageItem, PackageVersion
from server.prescriptions.models import Dispensing, Prescription, PrescriptionItem, PrescriptionStatus
from server.regions.models import LocalRules
from server.residents.models import BenefitEnrolment, BenefitScheme, Resident
from server.servicerecords.models import Confirmation, Reading, ServiceRecord
from server.supervision.models import AlertKind, SupervisionAlert
from tests import factories
from tests.clock import this_morning
from tests.helpers import assert_error_shape, db_fingerprint

IMPORTS = "/api/doctor/v1/imports"


def year_start() -> datetime:
    """When this year's test contracts start, Beijing time: 1 January, or earlier in its first weeks."""
    return datetime.combine(factories.period_start(local_today().year), time(0), SHANGHAI)


def served(fraction: float) -> str:
    """A moment between the start of this year's contracts and now: inside every test contract."""
    return (year_start() + (this_morning() - year_start()) * fraction).isoformat()


def row(world, n: int, *, key="R1", contract_no=None, fraction=None, **fields) -> dict:
    values = {"external_id": f"HIS-{n:06d}", "contract_no": contract_no or world.contracts[key].contract_no,
              "item_code": "BP", "service_type": "clinic", "served_at": served(fraction or 0.5 + n / 1e7),
              "staff_licence_no": world.doctors["T1"].licence_no, "systolic_mmhg": 132, "diastolic_mmhg": 84}
    values.update(fields)
    return {k: v for k, v in values.items() if v is not None}


def jsonl(rows: list[dict]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()


def as_csv(rows: list[dict], *, bom=True) -> bytes:
    columns = list(dict.fromkeys(k for r in rows for k in r))
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return ("\ufeff" if bom else "").encode() + out.getvalue().encode()


def post(client, world, content: bytes, *, who="doctor", kind="service_records", fmt="jsonl", **params):
    query = {"kind": kind, **({"format": fmt} if fmt else {}), **params}
    return client.post(IMPORTS, query_string=query, data=content, headers=world.headers(who),
                       content_type="application/octet-stream")


def created(response) -> dict:
    assert response.status_code == 201, response.get_data(as_text=True)[:1000]
    return response.get_json()


def codes(report) -> dict[int, str]:
    return {f["line"]: f["code"] for f in report["failures"]}


def imported_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(ServiceRecord).where(
        ServiceRecord.source == "import"))


def many_contracts(world, count: int) -> list[str]:
    """`count` active contracts of team T1 for new residents, inserted in bulk; their numbers."""
    region, team, doctor, version = world.regions["A"], world.teams["T1"], world.doctors["T1"], world.packages["A"]
    rules_id = db.session.scalar(sa.select(LocalRules.id).where(LocalRules.region_id == region.id))
    residents = Resident.__table__
    people = [{"region_id": region.id, "name": f"导入{n:05d}", "gender": "F", "birth_date": date(1958, 1, 1),
               "id_number": f"IMPORT-{n:06d}", "id_number_hash": pii.blind_index(f"IMPORT-{n:06d}"),
               "populations": []} for n in range(count)]
    ids = dict((name, rid) for rid, name in db.session.execute(
        sa.insert(residents).returning(residents.c.id, residents.c.name), people))
    year, at = local_today().year, year_start().astimezone(timezone.utc)
    numbers = [f"QYIMP{year}{n:06d}" for n in range(count)]
    db.session.execute(sa.insert(Contract.__table__), [{
        "contract_no": number, "region_id": region.id, "resident_id": ids[person["name"]],
        "institution_id": team.institution_id, "team_id": team.id, "doctor_staff_id": doctor.id,
        "package_version_id": version.id, "rules_id": rules_id, "status": ContractStatus.ACTIVE,
        "period_year": year, "period_start": factories.period_start(year), "period_end": date(year, 12, 31),
        "channel": "on_site", "consent_at": at, "consent_version": "2026.1", "fee_per_head_fen": 10000,
        "personal_share_fen": 2000, "public_health_share_fen": 4000, "insurance_fund_share_fen": 4000,
        "activated_at": at, "version": 1} for number, person in zip(numbers, people)])
    db.session.commit()
    return numbers


def staff_token(app, world, team_key: str, institution_key: str) -> dict:
    """A team member of another team, signed in."""
    account = factories.make_account(Role.TEAM_MEMBER, world.regions["A"], institution=world.institutions[
        institution_key], staff=world.doctors[team_key])
    db.session.commit()
    token = app.extensions["jiayi.tokens"].issue("staff", account.id, account.token_version)
    return {"Authorization": f"Bearer {token}"}


# --- The "done when": 10,000 rows, 3 bad ------------------------------------------------------------

def test_ten_thousand_rows_with_three_bad_store_the_rest_and_resending_adds_nothing(client, world):
    numbers = many_contracts(world, 2_500)  # 4 "BP" a year each: every good row fits the package
    rows = [row(world, n, contract_no=numbers[n // 4], fraction=0.2 + 0.2 * (n % 4) + n / 1e7,
                weight_kg="61.5", heart_rate_bpm=70) for n in range(10_000)]
    rows[17]["contract_no"] = "QY-NOT-OURS"                        # line 18
    rows[5_000].update(systolic_mmhg=80, diastolic_mmhg=90)        # line 5001
    rows[9_999]["external_id"] = rows[0]["external_id"]            # line 10000
    content = jsonl(rows)

    first = created(post(client, world, content, filename="his-export.jsonl"))
    assert (first["rows_total"], first["rows_stored"], first["rows_already_stored"], first["rows_failed"]) == \
        (10_000, 9_997, 0, 3)
    assert codes(first) == {18: "CONTRACT_NOT_FOUND", 5001: "READING_IMPLAUSIBLE", 10_000: "DUPLICATE_IN_FILE"}
    assert [f["external_id"] for f in first["failures"]] == ["HIS-000017", "HIS-005000", "HIS-000000"]
    assert "收缩压应高于舒张压" in first["failures"][1]["message"]
    assert imported_count() == 9_997
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Reading).join(
        ServiceRecord, ServiceRecord.id == Reading.service_record_id).where(ServiceRecord.source == "import")) == 9_997

    again = created(post(client, world, content))
    assert (again["rows_total"], again["rows_stored"], again["rows_already_stored"], again["rows_failed"]) == \
        (10_000, 0, 9_997, 3)
    assert codes(again) == codes(first)
    assert imported_count() == 9_997


# --- Formats -------------------------------------------------------------------------------------------

def test_csv_from_excel_with_bom_quoted_fields_and_empty_cells(client, world):
    rows = [row(world, 1, notes="血压平稳，继续服药\n下次随访：三个月后", place="石亭镇卫生院, 二诊室"),
            row(world, 2, fraction=0.6, systolic_mmhg="", diastolic_mmhg="", fasting_glucose_mmol="6.8"),
            row(world, 3, fraction=0.7, served_at="not a time")]
    report = created(post(client, world, as_csv(rows), fmt="csv"))
    assert (report["rows_total"], report["rows_stored"], report["rows_failed"]) == (3, 2, 1)
    # The header is line 1 and the first row's notes span two lines, so the third row starts on line 5.
    assert report["failures"] == [{"line": 5, "external_id": "HIS-000003", "code": "FIELD_INVALID",
                                   "message": report["failures"][0]["message"]}]
    assert "served_at" in report["failures"][0]["message"]
    stored = {r.external_id: r for r in db.session.scalars(sa.select(ServiceRecord).where(
        ServiceRecord.source == "import"))}
    assert stored["HIS-000001"].notes.endswith("三个月后") and stored["HIS-000001"].place == "石亭镇卫生院, 二诊室"
    assert stored["HIS-000001"].confirmation is Confirmation.PENDING  # the resident is asked to confirm it
    glucose = db.session.scalars(sa.select(Reading).where(Reading.service_record_id == stored["HIS-000002"].id)).one()
    assert glucose.fasting_glucose_mmol == Decimal("6.8") and glucose.systolic_mmhg is None


def test_multipart_upload_takes_the_format_from_the_file_name(client, world):
    data = {"file": (io.BytesIO(jsonl([row(world, 1)])), "export-2026.jsonl")}
    response = client.post(IMPORTS, query_string={"kind": "service_records"}, data=data,
                           headers=world.headers("doctor"), content_type="multipart/form-data")
    report = created(response)
    assert (report["file_format"], report["filename"], report["rows_stored"]) == ("jsonl", "export-2026.jsonl", 1)


@pytest.mark.calendar_edges
def test_a_time_without_offset_is_beijing_time(client, world):
    day = (this_morning().astimezone(SHANGHAI) - timedelta(days=1)).date()
    created(post(client, world, jsonl([row(world, 1, served_at=f"{day.isoformat()}T09:30:00")])))
    record = db.session.scalars(sa.select(ServiceRecord).where(ServiceRecord.external_id == "HIS-000001")).one()
    assert record.served_at == datetime(day.year, day.month, day.day, 1, 30, tzinfo=timezone.utc)
    assert record.served_on == day and record.source == "import"


# --- Every rule of recording.py, reported --------------------------------------------------------------

@pytest.mark.calendar_edges
def test_every_recording_rule_is_a_reported_failure(client, world):
    region = world.regions["A"]
    other_version = factories.add(PackageVersion(package_id=world.packages["A"].package_id, region_id=region.id,
                                                 version=2, effective_from=date(2024, 1, 1)))
    factories.add(PackageItem(package_version_id=other_version.id, region_id=region.id, code="GLU", name="血糖测量",
                              category=ItemCategory.TEST, yearly_quantity=4, unit_value_fen=500))
    ended = factories.make_contract(factories.make_resident(region, "林美玲"), world.teams["T1"],
                                    world.doctors["T1"], world.packages["A"], status=ContractStatus.CANCELLED)
    ended.ended_at = year_start() + (this_morning() - year_start()) * 0.5
    db.session.commit()
    rows = [
        row(world, 1, served_at=(this_morning() + timedelta(hours=2)).isoformat()),  # SERVICE_IN_FUTURE
        row(world, 2, served_at=(year_start() - timedelta(hours=1)).isoformat()),    # SERVICE_BEFORE_CONTRACT
        row(world, 3, contract_no=ended.contract_no, fraction=0.9),                 # CONTRACT_NOT_ACTIVE_ON_DATE
        row(world, 4, item_code="GLU"),                                             # ITEM_NOT_IN_PACKAGE
        row(world, 5, systolic_mmhg=300),                                           # READING_IMPLAUSIBLE
        row(world, 6, systolic_mmhg=None),                                          # half a blood pressure
        row(world, 7, fasting_glucose_mmol=120),                                    # mg/dL typed as mmol/L
        row(world, 8, hba1c_percent="35"),
        row(world, 9, weight_kg="0.5"),
        row(world, 10, heart_rate_bpm=400),
        row(world, 11, heart_rate_bpm=72.5),
        row(world, 12, item_code="NOPE"),                                           # ITEM_NOT_FOUND
        row(world, 13, staff_licence_no="0000"),                                    # STAFF_NOT_FOUND
        row(world, 14, contract_no="QY-UNKNOWN"),                                   # CONTRACT_NOT_FOUND
        row(world, 15, service_type="fax", contract_no=["QY"]),                      # FIELD_INVALID
        row(world, 16, fraction=0.55),
        row(world, 17, fraction=0.55),                                              # DUPLICATE_SERVICE (file)
        row(world, 18, fraction=0.33),                                              # DUPLICATE_SERVICE (stored)
        row(world, 19, surprise="x"),                                               # unknown field
        row(world, 20, staff_licence_no=None, staff_id=world.doctors["T3"].id),     # STAFF_NOT_FOUND: I2's
        row(world, 21, staff_licence_no=None, staff_id=world.doctors["T2"].id),     # I1's T2 doctor: fine
    ]
    created(post(client, world, jsonl([row(world, 99, fraction=0.33)])))  # stored before, under another id
    content = jsonl(rows) + b"{not json\n" + b"[" * 100_000 + b"\n[1, 2]\n"
    report = created(post(client, world, content))
    assert codes(report) == {
        1: "SERVICE_IN_FUTURE", 2: "SERVICE_BEFORE_CONTRACT", 3: "CONTRACT_NOT_ACTIVE_ON_DATE",
        4: "ITEM_NOT_IN_PACKAGE", 5: "READING_IMPLAUSIBLE", 6: "READING_IMPLAUSIBLE", 7: "READING_IMPLAUSIBLE",
        8: "READING_IMPLAUSIBLE", 9: "READING_IMPLAUSIBLE", 10: "READING_IMPLAUSIBLE", 11: "READING_IMPLAUSIBLE",
        12: "ITEM_NOT_FOUND", 13: "STAFF_NOT_FOUND", 14: "CONTRACT_NOT_FOUND", 15: "FIELD_INVALID",
        17: "DUPLICATE_SERVICE", 18: "DUPLICATE_SERVICE", 19: "FIELD_INVALID", 20: "STAFF_NOT_FOUND",
        22: "PARSE_ERROR", 23: "PARSE_ERROR", 24: "PARSE_ERROR"}
    messages = {f["line"]: f["message"] for f in report["failures"]}
    assert "systolic_mmhg" in messages[5] and "血压须同时填写收缩压和舒张压" in messages[6]
    assert "fasting_glucose_mmol" in messages[7] and "mmol/L" in messages[7]
    assert "service_type" in messages[15] and "contract_no" in messages[15] and "surprise" in messages[19]
    assert all(f["message"] for f in report["failures"])
    assert (report["rows_total"], report["rows_stored"], report["rows_failed"]) == (24, 2, 22)
    by_staff = db.session.scalars(sa.select(ServiceRecord).where(ServiceRecord.external_id == "HIS-000021")).one()
    assert by_staff.staff_id == world.doctors["T2"].id and by_staff.team_id == world.teams["T1"].id


def test_a_service_before_the_contract_became_active_is_a_reported_failure_to_the_minute(client, world):
    contract = db.session.get(Contract, world.contracts["R1"].id)
    day = (this_morning().astimezone(SHANGHAI) - timedelta(days=2)).date()
    contract.period_start = min(contract.period_start, day)  # so the test holds in the first days of January
    contract.activated_at = datetime.combine(day, time(18, 37), SHANGHAI)  # the personal share arrived at 18:37
    db.session.commit()

    report = created(post(client, world, jsonl([row(world, 1, served_at=f"{day.isoformat()}T09:00:00"),
                                                row(world, 2, served_at=f"{day.isoformat()}T18:38:00+08:00")])))

    assert codes(report) == {1: "SERVICE_BEFORE_ACTIVATION"}
    assert f"{day.month}月{day.day}日 18:37生效" in report["failures"][0]["message"]
    assert report["rows_stored"] == 1
    assert db.session.scalars(sa.select(ServiceRecord.external_id).where(ServiceRecord.source == "import")).all() == [
        "HIS-000002"]


def test_the_yearly_quantity_counts_stored_services_and_the_file_in_served_at_order(client, world):
    # R5 already has one service of "BP" (quantity 4): three more fit. The file lists the latest first.
    rows = [row(world, n, key="R5", fraction=fraction) for n, fraction in
            enumerate((0.9, 0.3, 0.4, 0.5, 0.6), start=1)]
    report = created(post(client, world, jsonl(rows)))
    assert codes(report) == {1: "YEARLY_QUANTITY_EXCEEDED", 5: "YEARLY_QUANTITY_EXCEEDED"}
    assert "4次" in report["failures"][0]["message"]
    assert report["rows_stored"] == 3
    again = created(post(client, world, jsonl(rows)))  # the stored three are known; the other two still too many
    assert (again["rows_already_stored"], codes(again)) == (3, codes(report))


def test_disputed_services_do_not_count_and_the_rules_may_allow_more(client, world):
    db.session.query(ServiceRecord).filter_by(id=world.records["R5"].id).update(
        {"confirmation": Confirmation.DISPUTED})
    db.session.commit()
    rows = [row(world, n, key="R5", fraction=0.1 * n) for n in range(1, 6)]
    assert codes(created(post(client, world, jsonl(rows)))) == {5: "YEARLY_QUANTITY_EXCEEDED"}
    db.session.query(LocalRules).filter_by(region_id=world.regions["A"].id).update({"services_beyond_quota": True})
    db.session.commit()
    report = created(post(client, world, jsonl(rows)))
    assert (report["rows_stored"], report["rows_already_stored"], report["rows_failed"]) == (1, 4, 0)


# --- Scope and roles ---------------------------------------------------------------------------------

def test_a_member_of_another_team_or_institution_imports_nothing_of_ours(app, client, world):
    rows = [row(world, 1, key="R1"), row(world, 2, key="R5")]
    for team_key, institution_key in (("T2", "I1"), ("T3", "I2")):
        headers = staff_token(app, world, team_key, institution_key)
        response = client.post(IMPORTS, query_string={"kind": "service_records", "format": "jsonl"},
                               data=jsonl(rows), headers=headers)
        report = created(response)
        assert (report["rows_stored"], set(codes(report).values())) == (0, {"CONTRACT_NOT_FOUND"})
    assert imported_count() == 0


def test_a_team_member_imports_only_their_teams_contracts_and_a_manager_the_institutions(client, world):
    rows = [row(world, 1, key="R1"), row(world, 2, key="R2"), row(world, 3, key="R3"), row(world, 4, key="R4")]
    doctor = created(post(client, world, jsonl(rows)))
    assert (doctor["rows_stored"], codes(doctor)) == (
        1, {2: "CONTRACT_NOT_FOUND", 3: "CONTRACT_NOT_FOUND", 4: "CONTRACT_NOT_FOUND"})
    manager = created(post(client, world, jsonl(rows), who="manager"))
    # R2 is T2's, of the manager's institution I1; R3 and R4 belong to other institutions.
    assert (manager["rows_stored"], manager["rows_already_stored"], codes(manager)) == (
        1, 1, {3: "CONTRACT_NOT_FOUND", 4: "CONTRACT_NOT_FOUND"})


@pytest.mark.parametrize("who, status", [("resident", 403), ("bureau", 403), ("assessor", 403), ("bureau_b", 403),
                                         ("anonymous", 401)])
def test_residents_bureau_and_assessors_may_not_import_or_read_reports(client, world, who, status):
    before = db_fingerprint()
    assert_error_shape(post(client, world, jsonl([row(world, 1)]), who=who), status)
    assert_error_shape(client.get(IMPORTS, headers=world.headers(who)), status)
    assert_error_shape(client.get(f"{IMPORTS}/1", headers=world.headers(who)), status)
    assert db_fingerprint() == before


def test_reports_are_kept_listed_and_scoped(app, client, world):
    mine = created(post(client, world, jsonl([row(world, 1), row(world, 2, contract_no="QY-X")]),
                        filename="a.jsonl"))
    theirs = created(post(client, world, jsonl([row(world, 3, key="R2")]), who="manager"))

    listed = client.get(IMPORTS, headers=world.headers("doctor")).get_json()
    assert [b["id"] for b in listed["items"]] == [mine["id"]] and listed["total"] == 1
    assert "failures" not in listed["items"][0]
    detail = client.get(f"{IMPORTS}/{mine['id']}", headers=world.headers("doctor")).get_json()
    assert detail["failures"] == [{"line": 2, "external_id": "HIS-000002", "code": "CONTRACT_NOT_FOUND",
                                   "message": detail["failures"][0]["message"]}]
    assert_error_shape(client.get(f"{IMPORTS}/{theirs['id']}", headers=world.headers("doctor")), 404)

    manager = client.get(IMPORTS, query_string={"per_page": 1}, headers=world.headers("manager")).get_json()
    assert (manager["total"], [b["id"] for b in manager["items"]]) == (2, [theirs["id"]])
    assert client.get(f"{IMPORTS}/{mine['id']}", headers=world.headers("manager")).status_code == 200

    other = staff_token(app, world, "T3", "I2")
    assert client.get(IMPORTS, headers=other).get_json()["total"] == 0
    assert_error_shape(client.get(f"{IMPORTS}/{mine['id']}", headers=other), 404)

    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "import_batch.create",
                                                           AuditEvent.entity_id == str(mine["id"]))).one()
    assert event.details["rows_stored"] == 1 and event.details["rows_failed"] == 1


# --- Whole-file refusals --------------------------------------------------------------------------------

@pytest.mark.parametrize("content, fmt, code", [
    (b"", "jsonl", "IMPORT_FILE_EMPTY"),
    (b"\n  \n", "jsonl", "IMPORT_FILE_EMPTY"),
    (b"\xef\xbb\xbfexternal_id,contract_no,item_code,service_type,served_at,staff_id\r\n", "csv", "IMPORT_FILE_EMPTY"),
    (b"external_id,contract_no\nA,B\n", "jsonl", "IMPORT_FILE_UNPARSEABLE"),
    (b"external_id,contract_no\nA,B\n", "csv", "IMPORT_COLUMNS_INVALID"),
    ("external_id,contract_no,item_code,service_type,served_at,staff_id\n甲,乙,BP,clinic,2026-01-01,1\n"
     .encode("gbk"), "csv", "IMPORT_FILE_ENCODING"),
    (b'{"external_id": "A"}\n', None, "IMPORT_FORMAT_REQUIRED"),
])
def test_an_empty_or_unreadable_file_is_refused_whole(client, world, content, fmt, code):
    before = db_fingerprint()
    body = assert_error_shape(post(client, world, content, fmt=fmt), 422)
    assert body["code"] == code
    assert db_fingerprint() == before


def test_a_file_over_20_mb_is_refused(client, world):
    response = post(client, world, b"x" * (20 * 1024 * 1024 + 1))
    assert assert_error_shape(response, 413)["code"] == "PAYLOAD_TOO_LARGE"


def test_the_import_limit_is_above_the_apps_16_mb(client, world):
    padding = (" " * 1023 + "\n").encode() * (17 * 1024)  # 17 MB of blank lines
    response = post(client, world, padding + jsonl([row(world, 1)]))
    assert created(response)["rows_stored"] == 1


def test_the_format_may_come_from_the_content_type(client, world):
    response = client.post(IMPORTS, query_string={"kind": "service_records"}, data=as_csv([row(world, 1)]),
                           headers=world.headers("doctor"), content_type="text/csv")
    assert (created(response)["file_format"], imported_count()) == ("csv", 1)


def test_unknown_kind_or_query_parameter_is_a_validation_error(client, world):
    assert_error_shape(post(client, world, jsonl([row(world, 1)]), kind="readings"), 422)
    assert_error_shape(post(client, world, jsonl([row(world, 1)]), fromat="jsonl"), 422)


# --- Dispensings -----------------------------------------------------------------------------------

def _prescription(world, *, key="R1", status=PrescriptionStatus.ACTIVE, external_id="RX-1") -> Prescription:
    contract = world.contracts[key]
    prescription = factories.add(Prescription(
        contract_id=contract.id, resident_id=contract.resident_id, region_id=contract.region_id,
        institution_id=contract.institution_id, team_id=contract.team_id,
        prescriber_staff_id=contract.doctor_staff_id,
        issued_on=local_today() - timedelta(days=30),
        weeks=4, status=status, external_id=external_id))
    factories.add(PrescriptionItem(prescription_id=prescription.id, drug_code=DRUG,
                                   drug_name="氨氯地平片", quantity=Decimal("28"), unit="片"))
    db.session.commit()
    return prescription


DRUG = "XC08CAA001A001010100001"


@pytest.mark.calendar_edges
def test_dispensings_are_imported_once_by_the_doctors_dispensing_rules(client, world):
    today = local_today()
    rx = _prescription(world)
    cancelled = _prescription(world, status=PrescriptionStatus.CANCELLED, external_id="RX-2")
    theirs = _prescription(world, key="R2", external_id="RX-3")
    day = lambda days_ago: (today - timedelta(days=days_ago)).isoformat()  # noqa: E731
    good = {"drug_code": DRUG, "dispensed_on": day(2), "quantity": "28"}
    rows = [
        {"external_id": "D1", "prescription_id": rx.id, **good},
        {"external_id": "D2", "prescription_external_id": "RX-1", **good, "dispensed_on": day(3),
         "staff_licence_no": world.doctors["T1"].licence_no},
        {"external_id": "D3", "prescription_id": rx.id, **good, "drug_code": "OTHER"},
        {"external_id": "D4", "prescription_id": cancelled.id, **good},
        {"external_id": "D5", "prescription_id": rx.id, **good, "dispensed_on": day(-1)},
        {"external_id": "D6", "prescription_id": rx.id, **good, "dispensed_on": day(60)},
        {"external_id": "D7", "prescription_id": theirs.id, **good},
        {"external_id": "D8", "prescription_id": rx.id, **good, "quantity": "-1"},
        {"external_id": "D9", "prescription_id": rx.id, "prescription_external_id": "RX-1", **good},
        {"external_id": "D10", "prescription_id": rx.id, **good, "dispensed_on": day(4), "quantity": "28.01"},
        {"external_id": "D11", "prescription_id": rx.id, **good},  # D1's drug on D1's day
        {"external_id": "D12", "prescription_id": rx.id, **good, "dispensed_on": day(5), "staff_id": 10**9},
    ]
    expected = {3: "PRESCRIPTION_ITEM_NOT_FOUND", 4: "PRESCRIPTION_NOT_ACTIVE", 5: "DATE_IN_FUTURE",
                6: "DISPENSING_BEFORE_ISSUE", 7: "PRESCRIPTION_NOT_FOUND", 8: "FIELD_INVALID", 9: "FIELD_INVALID",
                10: "DISPENSING_EXCEEDS_PRESCRIBED", 11: "DISPENSING_ALREADY_RECORDED", 12: "STAFF_NOT_FOUND"}
    for fmt, content, header in (("csv", as_csv(rows), 1), ("jsonl", jsonl(rows), 0)):
        report = created(post(client, world, content, kind="dispensings", fmt=fmt))
        assert {line - header: code for line, code in codes(report).items()} == expected
        assert report["rows_stored"] + report["rows_already_stored"] == 2
    assert report["rows_already_stored"] == 2  # the JSON lines repeat what the CSV stored
    stored = db.session.scalars(sa.select(Dispensing).order_by(Dispensing.external_id)).all()
    assert [(d.external_id, d.quantity, d.prescription_id) for d in stored] == [
        ("D1", Decimal("28.00"), rx.id), ("D2", Decimal("28.00"), rx.id)]
    assert stored[1].staff_id == world.doctors["T1"].id


@pytest.mark.parametrize("policy", ["refuse", "flag"])
def test_a_drug_another_benefit_pays_for_is_refused_or_flagged_as_the_rules_say(client, world, policy):
    today = local_today()
    rx = _prescription(world)
    factories.add(BenefitEnrolment(resident_id=world.residents["R1"].id, scheme=BenefitScheme.TWO_DISEASE_DRUG,
                                   disease_code="hypertension", registration_no="LB350600000001",
                                   valid_from=date(2020, 1, 1)))
    db.session.query(LocalRules).filter_by(region_id=world.regions["A"].id).update(
        {"duplicate_benefit_policy": policy})
    db.session.commit()
    row_ = {"external_id": "D1", "prescription_id": rx.id, "drug_code": DRUG,
            "dispensed_on": (today - timedelta(days=1)).isoformat(), "quantity": "28"}
    report = created(post(client, world, jsonl([row_]), kind="dispensings"))
    alerts = db.session.scalars(sa.select(SupervisionAlert).where(SupervisionAlert.subject_type == "dispensing")).all()
    if policy == "refuse":
        assert (codes(report), report["rows_stored"], alerts) == ({1: "DUPLICATE_BENEFIT"}, 0, [])
        assert "两病" in report["failures"][0]["message"]
    else:
        dispensing = db.session.scalars(sa.select(Dispensing)).one()
        assert (report["rows_stored"], [a.subject_id for a in alerts]) == (1, [str(dispensing.id)])
        assert alerts[0].kind is AlertKind.DUPLICATE_BENEFIT and alerts[0].details["registration_nos"] == [
            "LB350600000001"]
