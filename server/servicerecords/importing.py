"""Batch import from an institution's own system (机构系统批量导入): service records with their
readings, and dispensings, as JSON lines or CSV.

Every row carries the institution's own id (`external_id`), so re-sending a file stores
nothing twice; a bad row is reported with its line and reason while the good rows are
stored; the report (`ImportBatch`) is kept. The rules are the ones the doctor's API applies
(`recording.py` for services; the codes and checks of `prescriptions.services.record_dispensing`
for dispensings), run against data loaded set-wise: per chunk of rows one query each for the
contracts, the delivered counts (one GROUP BY), the external ids already stored and the
colliding service moments — never a query per row.

The file is read twice, row by row, so memory stays bounded by a chunk plus a few small keys
per row (the external ids and service moments seen, to find duplicates within the file):
  1. check: parse, resolve and apply every rule except the yearly quantity, which depends on
     the order of services; for each (contract, item) keep only the earliest `quota left`
     service times. Nothing is written, so an unreadable file is refused before any change.
  2. store: parse the rows that passed again, decide the quantity rule in served_at order
     (a row is within the quota when its time is among those kept), and insert in chunks with
     one bulk INSERT per table per chunk (readings included).
Both passes run in one transaction, under a lock per institution (PostgreSQL), so two imports
of one institution never race on the same external ids.
"""
from __future__ import annotations

import csv
import io
import json
from bisect import bisect_left, insort
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from types import SimpleNamespace
from typing import Any, NamedTuple

import sqlalchemy as sa

from server.audit import services as audit
from server.common.paging import Page, PageRequest, paginate, where_given
from server.common.text import control_character_problem
from server.common.timeutil import SHANGHAI, utcnow
from server.common.uow import transaction
from server.contracts.models import Contract
from server.contracts.states import ContractStatus
from server.errors import Forbidden, NotFound, ValidationFailed
from server.extensions import db
from server.identity.roles import Actor, Level, Role
from server.identity.scoping import require_role, visible
from server.packages.models import PackageItem, PackageVersion
from server.prescriptions import services as prescriptions_rules
from server.prescriptions.models import Dispensing, Prescription, PrescriptionItem, PrescriptionStatus
from server.regions.models import LocalRules
from server.residents.models import BenefitEnrolment
from server.servicerecords.imports import ImportBatch
from server.servicerecords.models import Confirmation, Reading, ServiceRecord, ServiceType
from server.servicerecords.recording import INTEGER_READINGS, READING_RANGES, Delivery, local_date, \
    reading_problems, service_problem
from server.teams.models import Staff

CHUNK_ROWS = 2_000
MAX_REPORTED_FAILURES = 10_000  # rows_failed still counts every one
KINDS = ("service_records", "dispensings")
FORMATS = ("jsonl", "csv")
IMPORT_ROLES = (Role.TEAM_MEMBER, Role.INSTITUTION_MANAGER)
_LOCK_NAMESPACE = 0x696D_706F  # "impo": advisory-lock keys of imports, one per institution
_ONE_DECIMAL = Decimal("0.1")
_TWO_DECIMALS = Decimal("0.01")
_SERVICE_TYPES = {t.value: t for t in ServiceType}


# --- The use cases ---------------------------------------------------------------------------------

def import_batch(actor: Actor, *, kind: str, file_format: str, filename: str, content: bytes) -> ImportBatch:
    """Import one file for the actor's institution (a team member: only their teams' contracts)."""
    require_role(actor, *IMPORT_ROLES)
    if actor.institution_id is None or actor.region_id is None:
        raise Forbidden()
    if kind not in KINDS:
        raise ValidationFailed("不支持的导入类型", code="IMPORT_KIND_UNKNOWN", details={"kinds": list(KINDS)})
    if file_format not in FORMATS:
        raise ValidationFailed("文件格式应为 jsonl 或 csv", code="IMPORT_FORMAT_UNKNOWN",
                               details={"formats": list(FORMATS)})
    received_at = utcnow()
    importer_class = _ServiceRecords if kind == "service_records" else _Dispensings
    with transaction():
        _begin_import(actor.institution_id)
        importer = importer_class(actor, received_at)
        report = _Report()
        _plan_with_values(True)
        flags = _check_pass(importer, _records(content, file_format, importer), report)
        if report.rows_total == 0:
            raise ValidationFailed("文件中没有数据行", code="IMPORT_FILE_EMPTY")
        if report.unparseable == report.rows_total:
            raise ValidationFailed(f"无法按 {file_format} 格式读取文件", code="IMPORT_FILE_UNPARSEABLE",
                                   details={"first_failures": report.failures[:5]})
        _plan_with_values(False)
        _store_pass(importer, _records(content, file_format, importer), flags, report)
        batch = ImportBatch(
            region_id=actor.region_id, institution_id=actor.institution_id, kind=kind, file_format=file_format,
            filename=(filename or "")[:255], received_at=received_at, finished_at=utcnow(),
            rows_total=report.rows_total, rows_stored=report.rows_stored,
            rows_already_stored=report.rows_already_stored, rows_failed=report.rows_failed,
            failures=sorted(report.failures, key=lambda f: f["line"]), submitted_by_account_id=actor.account_id)
        db.session.add(batch)
        db.session.flush()
        audit.record(actor, "import_batch.create", "import_batch", batch.id, {
            "kind": kind, "format": file_format, "filename": batch.filename, "rows_total": batch.rows_total,
            "rows_stored": batch.rows_stored, "rows_already_stored": batch.rows_already_stored,
            "rows_failed": batch.rows_failed})
    return batch


def list_batches(actor: Actor, page: PageRequest, *, kind: str | None = None) -> Page[ImportBatch]:
    """The import reports the actor may see, newest first."""
    require_role(actor, *IMPORT_ROLES)
    stmt = sa.select(ImportBatch).where(_visible_batches(actor)).order_by(ImportBatch.id.desc())
    return paginate(where_given(stmt, (ImportBatch.kind, kind)), page)


def get_batch(actor: Actor, batch_id: int) -> ImportBatch:
    require_role(actor, *IMPORT_ROLES)
    batch = db.session.scalars(
        sa.select(ImportBatch).where(_visible_batches(actor), ImportBatch.id == batch_id)).first()
    if batch is None:
        raise NotFound()
    return batch


def _visible_batches(actor: Actor) -> sa.ColumnElement[bool]:
    """A manager sees the institution's reports; a team member the ones they sent.

    `ImportBatch.__scope__` declares no team level (a batch has no team), so for a team member
    the report is theirs by submitter, inside their institution.
    """
    if actor.level is Level.TEAM:
        return sa.and_(ImportBatch.institution_id == actor.institution_id,
                       ImportBatch.submitted_by_account_id == actor.account_id)
    return visible(ImportBatch, actor)


def _begin_import(institution_id: int) -> None:
    """Serialise imports of one institution (PostgreSQL; SQLite serialises all writers anyway)."""
    if _on_postgresql():
        db.session.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"),
                           {"key": (_LOCK_NAMESPACE << 32) | institution_id})


def _plan_with_values(on: bool) -> None:
    """Whether PostgreSQL plans each statement with its values (on for look-ups, off for inserts).

    A chunk's look-ups repeat with the same text (an IN list of 2,000 parameters), so the
    driver prepares them and PostgreSQL may switch to a generic plan that compares every row
    with the list one value at a time: seconds per chunk once a table grows inside the import,
    before autovacuum's statistics catch up. Planned with its values, the list is hashed. The
    executemany INSERTs keep their prepared plan: planning each row would double their time.
    """
    if _on_postgresql():
        db.session.execute(sa.text(f"SET LOCAL plan_cache_mode = {'force_custom_plan' if on else 'auto'}"))


def _on_postgresql() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


# --- The report and the two passes -----------------------------------------------------------------

@dataclass
class _Report:
    rows_total: int = 0
    rows_stored: int = 0
    rows_already_stored: int = 0
    rows_failed: int = 0
    unparseable: int = 0
    failures: list[dict] = field(default_factory=list)

    def fail(self, line: int, external_id: Any, code: str, message: str) -> None:
        self.rows_failed += 1
        if len(self.failures) < MAX_REPORTED_FAILURES:
            if external_id is not None:
                external_id = str(external_id)[:64]
            self.failures.append({"line": line, "external_id": external_id, "code": code, "message": message})


class _Row(NamedTuple):
    ordinal: int  # 0-based among the file's data rows
    line: int     # 1-based line where the row starts (a CSV header is line 1)
    data: dict[str, Any] | None
    parse_error: str | None = None


class _Parsed(NamedTuple):
    ordinal: int
    line: int
    values: dict[str, Any]


def _check_pass(importer: _Importer, rows: Iterator[_Row], report: _Report) -> bytearray:
    """Pass 1: every rule but the order-dependent ones; returns a flag per row: 1 = to store."""
    flags = bytearray()
    seen: dict[str, int] = {}  # external_id → line of its first row in the file
    for chunk in _chunked(rows):
        candidates: list[_Parsed] = []
        for row in chunk:
            flags.append(0)
            report.rows_total += 1
            if row.parse_error is not None:
                report.unparseable += 1
                report.fail(row.line, None, "PARSE_ERROR", row.parse_error)
                continue
            values, problems = importer.parse(row.data)
            if problems:
                report.fail(row.line, _raw_external_id(row.data), "FIELD_INVALID",
                            "；".join(f"{name}：{message}" for name, message in problems.items()))
                continue
            first = seen.setdefault(values["external_id"], row.line)
            if first != row.line:
                report.fail(row.line, values["external_id"], "DUPLICATE_IN_FILE",
                            f"external_id 与第{first}行重复")
                continue
            candidates.append(_Parsed(row.ordinal, row.line, values))
        for ordinal in importer.check(candidates, report):
            flags[ordinal] = 1
    return flags


def _store_pass(importer: _Importer, rows: Iterator[_Row], flags: bytearray, report: _Report) -> None:
    """Pass 2: the rows that passed, parsed again and stored a chunk at a time."""
    chosen = (row for row in rows if flags[row.ordinal])
    for chunk in _chunked(chosen):
        importer.store([_Parsed(row.ordinal, row.line, importer.parse(row.data)[0]) for row in chunk], report)


def _chunked(rows: Iterable[_Row]) -> Iterator[list[_Row]]:
    chunk: list[_Row] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= CHUNK_ROWS:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _raw_external_id(data: dict[str, Any]) -> Any:
    value = data.get("external_id")
    return value if isinstance(value, (str, int)) and not isinstance(value, bool) else None


# --- Reading the file ------------------------------------------------------------------------------

def _records(content: bytes, file_format: str, importer: _Importer) -> Iterator[_Row]:
    lines = _lines(content)
    return _jsonl_rows(lines) if file_format == "jsonl" else _csv_rows(lines, importer)


def _lines(content: bytes) -> Iterator[str]:
    """The text line by line, decoded as it is read; a UTF-8 BOM (as Excel writes) is dropped."""
    text = io.TextIOWrapper(io.BytesIO(content), encoding="utf-8-sig", newline="")
    try:
        yield from text
    except UnicodeDecodeError as exc:
        raise ValidationFailed("文件须为 UTF-8 编码（GBK 等编码请先另存为 UTF-8）", code="IMPORT_FILE_ENCODING") \
            from exc


def _jsonl_rows(lines: Iterator[str]) -> Iterator[_Row]:
    ordinal = 0
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text:
            continue
        try:
            data = json.loads(text, parse_float=Decimal)
        except (ValueError, RecursionError):  # RecursionError: absurdly nested arrays
            yield _Row(ordinal, number, None, "不是有效的 JSON")
        else:
            if isinstance(data, dict):
                yield _Row(ordinal, number, data)
            else:
                yield _Row(ordinal, number, None, "每行应为一个 JSON 对象")
        ordinal += 1


def _csv_rows(lines: Iterator[str], importer: _Importer) -> Iterator[_Row]:
    reader = csv.reader(lines)
    try:
        header = next(reader, None)
        if header is None:
            return
        names = [name.strip().lower() for name in header]
        _check_header(names, importer)
        ordinal, previous_line = 0, reader.line_num
        for values in reader:
            line, previous_line = previous_line + 1, reader.line_num
            if not any(value.strip() for value in values):
                continue
            if len(values) != len(names):
                yield _Row(ordinal, line, None, f"列数（{len(values)}）与表头（{len(names)}）不一致")
            else:
                yield _Row(ordinal, line, {name: value for name, value in zip(names, values) if value.strip()})
            ordinal += 1
    except csv.Error as exc:
        raise ValidationFailed(f"CSV 第{reader.line_num}行无法读取", code="IMPORT_FILE_UNPARSEABLE") from exc


def _check_header(names: list[str], importer: _Importer) -> None:
    if not any(names):
        raise ValidationFailed("文件中没有数据行", code="IMPORT_FILE_EMPTY")
    unknown = [name for name in names if name not in importer.columns]
    repeated = sorted({name for name in names if names.count(name) > 1})
    missing = [name for name in importer.required_columns if name not in names]
    missing += ["/".join(group) for group in importer.one_of_columns if not set(group) & set(names)]
    if unknown or repeated or missing:
        raise ValidationFailed("CSV 表头有误", code="IMPORT_COLUMNS_INVALID",
                               details={"unknown": unknown, "repeated": repeated, "missing": missing})


# --- Field parsing (values from JSON, or strings from CSV) -------------------------------------------

class _Fields:
    """Converts one raw row's fields, collecting a Chinese message per bad field."""

    def __init__(self, data: dict[str, Any], columns: frozenset[str]) -> None:
        self.data = data
        self.problems: dict[str, str] = {name: "不支持的字段" for name in data if name not in columns}

    def text(self, name: str, *, max_length: int, required: bool = False, default: str | None = None,
             free_text: bool = False) -> str | None:
        value = self.data.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)  # systems often number their ids
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.problems[name] = "必填"
            return default
        if not isinstance(value, str):
            self.problems[name] = "应为字符串"
            return default
        value = value.strip()
        if len(value) > max_length:
            self.problems[name] = f"长度不能超过{max_length}个字符"
        elif problem := control_character_problem(value, free_text=free_text):
            self.problems[name] = problem
        return value

    def integer(self, name: str) -> int | None:
        value = self.data.get(name)
        if value is None:
            return None
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 2**63:
            self.problems[name] = "应为正整数"
            return None
        return value

    def moment(self, name: str) -> datetime | None:
        """ISO 8601; a time without offset is Beijing time. Returned in UTC."""
        value = self.text(name, max_length=40, required=True)
        if value is None or name in self.problems:
            return None
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            self.problems[name] = "时间格式应为 ISO 8601，如 2026-03-01T09:30:00+08:00"
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=SHANGHAI)
        return moment.astimezone(timezone.utc)

    def day(self, name: str) -> date | None:
        value = self.text(name, max_length=10, required=True)
        if value is None or name in self.problems:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            self.problems[name] = "日期格式应为 YYYY-MM-DD"
            return None

    def number(self, name: str) -> Decimal | None:
        value = self.data.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (str, int, Decimal, float)):
            self.problems[name] = "应为数字"
            return None
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            self.problems[name] = "应为数字"
            return None
        if not number.is_finite():
            self.problems[name] = "应为数字"
            return None
        return number


class _StaffDirectory:
    """The institution's medical staff by id and by practising-licence number (one query).

    Whoever did the service must be staff of the contract's institution, current or former
    (an import may carry last month's services of someone who has since left).
    """

    def __init__(self, institution_id: int) -> None:
        self.ids: set[int] = set()
        self.by_licence: dict[str, int] = {}
        for staff_id, licence_no in db.session.execute(
                sa.select(Staff.id, Staff.licence_no).where(Staff.institution_id == institution_id).order_by(Staff.id)):
            self.ids.add(staff_id)
            if licence_no:
                self.by_licence.setdefault(licence_no, staff_id)

    def find(self, values: dict[str, Any]) -> int | None:
        if values["staff_id"] is not None:
            return values["staff_id"] if values["staff_id"] in self.ids else None
        return self.by_licence.get(values["staff_licence_no"]) if values["staff_licence_no"] else None


# --- Service records -------------------------------------------------------------------------------

class _ContractFacts(NamedTuple):
    """What the rules read of a contract (duck-typing `Contract` for `recording.service_problem`)."""

    id: int
    contract_no: str
    region_id: int
    institution_id: int
    team_id: int
    resident_id: int
    package_version_id: int
    status: ContractStatus
    period_start: date
    period_end: date
    activated_at: datetime | None
    ended_at: datetime | None


class _ItemFacts(NamedTuple):
    id: int
    code: str
    package_version_id: int
    yearly_quantity: int


SERVICE_READINGS = tuple(READING_RANGES)


class _ServiceRecords:
    """Service records (履约记录) with their readings, by the rules of `recording.py`."""

    kind = "service_records"
    columns = frozenset({"external_id", "contract_no", "item_code", "service_type", "served_at", "staff_licence_no",
                         "staff_id", "place", "notes", *SERVICE_READINGS})
    required_columns = ("external_id", "contract_no", "item_code", "service_type", "served_at")
    one_of_columns = (("staff_licence_no", "staff_id"),)

    def __init__(self, actor: Actor, now: datetime) -> None:
        self.actor, self.now = actor, now
        self.contracts: dict[str, _ContractFacts | None] = {}
        self.delivered: dict[tuple[int, int], int] = {}  # undisputed services stored, per (contract, item)
        # Per (contract, item): the earliest service times of this file that fit in the quota left.
        self.kept: dict[tuple[int, int], list[datetime]] = {}
        self.moments: set[tuple[int, int, datetime]] = set()  # services of this file, to refuse a second
        self.items: dict[str, list[_ItemFacts]] = {}
        for row in db.session.execute(sa.select(PackageItem.id, PackageItem.code, PackageItem.package_version_id,
                                                PackageItem.yearly_quantity)
                                      .where(PackageItem.region_id == actor.region_id).order_by(PackageItem.id)):
            self.items.setdefault(row.code, []).append(_ItemFacts(*row))
        self.staff = _StaffDirectory(actor.institution_id)
        self.rules = [tuple(row) for row in db.session.execute(
            sa.select(LocalRules.effective_from, LocalRules.services_beyond_quota)
            .where(LocalRules.region_id == actor.region_id).order_by(LocalRules.effective_from))]

    # Parsing ------------------------------------------------------------------------------------

    def parse(self, data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        f = _Fields(data, self.columns)
        values: dict[str, Any] = {
            "external_id": f.text("external_id", max_length=64, required=True),
            "contract_no": f.text("contract_no", max_length=32, required=True),
            "item_code": f.text("item_code", max_length=32, required=True),
            "served_at": f.moment("served_at"),
            "place": f.text("place", max_length=255, default=""),
            "notes": f.text("notes", max_length=2000, default="", free_text=True),
            "staff_licence_no": f.text("staff_licence_no", max_length=64),
            "staff_id": f.integer("staff_id"),
        }
        service_type = f.text("service_type", max_length=16, required=True)
        values["service_type"] = _SERVICE_TYPES.get(service_type or "")
        if service_type and values["service_type"] is None:
            f.problems["service_type"] = "应为 " + "、".join(_SERVICE_TYPES) + " 之一"
        if values["staff_licence_no"] is None and values["staff_id"] is None and "staff_id" not in f.problems:
            f.problems["staff_licence_no"] = "必填（或填写 staff_id）"
        values["reading"] = {name: number for name in SERVICE_READINGS
                             if (number := f.number(name)) is not None}
        return values, f.problems

    # Pass 1 -------------------------------------------------------------------------------------

    def check(self, rows: list[_Parsed], report: _Report) -> list[int]:
        """Every rule except the yearly quantity; returns the ordinals of the rows to store."""
        if not rows:
            return []
        stored_ids = self._stored_external_ids([row.values["external_id"] for row in rows])
        new = [row for row in rows if row.values["external_id"] not in stored_ids]
        report.rows_already_stored += len(rows) - len(new)
        if not new:
            return []
        self._load_contracts({row.values["contract_no"] for row in new})
        taken = self._stored_moments(new)
        passed = []
        for ordinal, line, values in new:
            external_id = values["external_id"]
            code, message = self._problem(values, taken)
            if code:
                report.fail(line, external_id, code, message)
                continue
            contract, item = self.contracts[values["contract_no"]], self._item(values)
            self.moments.add((contract.id, item.id, values["served_at"]))
            key = (contract.id, item.id)
            left = item.yearly_quantity - self.delivered.get(key, 0)
            if left > 0:
                kept = self.kept.setdefault(key, [])
                insort(kept, values["served_at"])
                if len(kept) > left:
                    kept.pop()
            passed.append(ordinal)
        return passed

    def _problem(self, values: dict[str, Any], taken: set[tuple[int, int, datetime]]) -> tuple[str | None, str]:
        contract = self.contracts.get(values["contract_no"])
        if contract is None:
            return "CONTRACT_NOT_FOUND", "签约协议不存在或不在本人管理范围内"
        item = self._item(values)
        if item is None:
            return "ITEM_NOT_FOUND", "本地区服务包中没有该服务项目编码"
        if self.staff.find(values) is None:
            return "STAFF_NOT_FOUND", "本机构没有该医务人员（执业证书编号或人员 id）"
        problems = reading_problems(values["reading"])
        if problems:
            return "READING_IMPLAUSIBLE", "体征数据不合理：" + "；".join(f"{k}：{v}" for k, v in problems.items())
        served_at = values["served_at"]
        if self._rules_on(local_date(served_at)) is None:
            return "RULES_NOT_IN_FORCE", f"{local_date(served_at).isoformat()} 无生效的实施细则"
        # The quantity is decided in pass 2, in served_at order; here every other rule.
        problem = service_problem(Delivery(contract, item, served_at, 0), now=self.now,  # type: ignore[arg-type]
                                  beyond_quota_allowed=True)
        if problem is not None:
            return problem.code, problem.message
        moment = (contract.id, item.id, served_at)
        if moment in taken or moment in self.moments:
            return "DUPLICATE_SERVICE", "同一项目同一时间已有服务记录"
        return None, ""

    def _item(self, values: dict[str, Any]) -> _ItemFacts | None:
        """The item of the contract's package with that code; else one of another package of the
        region, which the rules then refuse as not in the package."""
        candidates = self.items.get(values["item_code"])
        if not candidates:
            return None
        version_id = self.contracts[values["contract_no"]].package_version_id
        return next((item for item in candidates if item.package_version_id == version_id), candidates[-1])

    def _rules_on(self, day: date) -> bool | None:
        """Whether the rules in force on `day` allow services beyond the quota; None: no rules."""
        allowed = None
        for effective_from, beyond_quota in self.rules:
            if effective_from > day:
                break
            allowed = beyond_quota
        return allowed

    def _stored_external_ids(self, external_ids: list[str]) -> set[str]:
        return set(db.session.scalars(sa.select(ServiceRecord.external_id).where(
            ServiceRecord.institution_id == self.actor.institution_id, ServiceRecord.external_id.in_(external_ids))))

    def _load_contracts(self, numbers: set[str]) -> None:
        """The actor's contracts among `numbers` not seen yet, and their delivered counts (one GROUP BY)."""
        new = sorted(numbers - self.contracts.keys())
        if not new:
            return
        for number in new:
            self.contracts[number] = None  # unknown or outside the actor's scope, unless found now
        found = [_ContractFacts(*row) for row in db.session.execute(
            sa.select(Contract.id, Contract.contract_no, Contract.region_id, Contract.institution_id, Contract.team_id,
                      Contract.resident_id, Contract.package_version_id, Contract.status, Contract.period_start,
                      Contract.period_end, Contract.activated_at, Contract.ended_at)
            .where(visible(Contract, self.actor), Contract.institution_id == self.actor.institution_id,
                   Contract.contract_no.in_(new)))]
        for contract in found:
            self.contracts[contract.contract_no] = contract
        if found:
            counts = db.session.execute(
                sa.select(ServiceRecord.contract_id, ServiceRecord.package_item_id, sa.func.count())
                .where(ServiceRecord.contract_id.in_([c.id for c in found]),
                       ServiceRecord.confirmation != Confirmation.DISPUTED)
                .group_by(ServiceRecord.contract_id, ServiceRecord.package_item_id))
            for contract_id, item_id, count in counts:
                self.delivered[(contract_id, item_id)] = count

    def _stored_moments(self, rows: list[_Parsed]) -> set[tuple[int, int, datetime]]:
        """Stored services of these rows' contracts at these rows' times (one query per chunk)."""
        contract_ids = {c.id for row in rows if (c := self.contracts.get(row.values["contract_no"]))}
        if not contract_ids:
            return set()
        times = {row.values["served_at"] for row in rows}
        return {tuple(row) for row in db.session.execute(
            sa.select(ServiceRecord.contract_id, ServiceRecord.package_item_id, ServiceRecord.served_at)
            .where(ServiceRecord.contract_id.in_(sorted(contract_ids)), ServiceRecord.served_at.in_(sorted(times))))}

    # Pass 2 -------------------------------------------------------------------------------------

    def store(self, rows: list[_Parsed], report: _Report) -> None:
        """Decide the yearly quantity in served_at order, then one INSERT per table for the chunk."""
        records, readings = [], {}
        for _ordinal, line, values in rows:
            contract, item = self.contracts[values["contract_no"]], self._item(values)
            served_at = values["served_at"]
            key = (contract.id, item.id)
            kept = self.kept.get(key, [])
            rank = bisect_left(kept, served_at)
            earlier = rank if rank < len(kept) and kept[rank] == served_at else len(kept)
            problem = service_problem(
                Delivery(contract, item, served_at, self.delivered.get(key, 0) + earlier),  # type: ignore[arg-type]
                now=self.now, beyond_quota_allowed=bool(self._rules_on(local_date(served_at))))
            if problem is not None:
                report.fail(line, values["external_id"], problem.code, problem.message)
                continue
            records.append({
                "contract_id": contract.id, "package_item_id": item.id, "resident_id": contract.resident_id,
                "region_id": contract.region_id, "institution_id": contract.institution_id,
                "team_id": contract.team_id, "staff_id": self.staff.find(values),
                "service_type": values["service_type"], "served_at": served_at, "served_on": local_date(served_at),
                "place": values["place"], "notes": values["notes"], "source": "import",
                "external_id": values["external_id"], "confirmation": Confirmation.PENDING, "confirmed_at": None,
                "dispute_reason": "", "created_at": self.now, "updated_at": self.now,
            })
            if values["reading"]:
                readings[values["external_id"]] = (contract.resident_id, served_at, _reading_values(values["reading"]))
        if not records:
            return
        # A plain executemany, then the new ids by external id (one indexed query): RETURNING over
        # thousands of rows makes the driver rewrite a statement of tens of thousands of parameters.
        db.session.execute(sa.insert(ServiceRecord.__table__), records)
        if readings:
            _plan_with_values(True)
            ids = dict(db.session.execute(sa.select(ServiceRecord.external_id, ServiceRecord.id).where(
                ServiceRecord.institution_id == self.actor.institution_id,
                ServiceRecord.external_id.in_(list(readings)))).all())
            _plan_with_values(False)
            db.session.execute(sa.insert(Reading.__table__), [
                {"service_record_id": ids[external_id], "resident_id": resident_id, "measured_at": measured_at,
                 **{name: reading.get(name) for name in SERVICE_READINGS}}
                for external_id, (resident_id, measured_at, reading) in readings.items()])
        report.rows_stored += len(records)


def _reading_values(reading: dict[str, Decimal]) -> dict[str, Any]:
    """Readings as stored: whole numbers for pressures and pulse, one decimal otherwise
    (rounded as the doctor's API rounds them)."""
    return {name: int(value) if name in INTEGER_READINGS else value.quantize(_ONE_DECIMAL)
            for name, value in reading.items()}


# --- Dispensings -----------------------------------------------------------------------------------

class _PrescriptionFacts(NamedTuple):
    """A prescription with what the dispensing rules read of its contract."""

    id: int
    external_id: str | None
    institution_id: int
    issued_on: date
    status: PrescriptionStatus
    contract_id: int
    contract_status: ContractStatus
    period_start: date
    period_end: date
    region_id: int
    resident_id: int
    package_version_id: int


class _DrugFacts(NamedTuple):
    id: int
    quantity: Decimal
    drug_name: str
    unit: str


class _Dispensings:
    """Fillings (取药记录) by the rules of `prescriptions.services.record_dispensing`, with its codes."""

    kind = "dispensings"
    columns = frozenset({"external_id", "prescription_id", "prescription_external_id", "drug_code", "dispensed_on",
                         "quantity", "staff_licence_no", "staff_id"})
    required_columns = ("external_id", "drug_code", "dispensed_on", "quantity")
    one_of_columns = (("prescription_id", "prescription_external_id"),)

    def __init__(self, actor: Actor, now: datetime) -> None:
        self.actor, self.now = actor, now
        self.today = now.astimezone(SHANGHAI).date()
        self.by_id: dict[int, _PrescriptionFacts | None] = {}
        self.by_external_id: dict[str, _PrescriptionFacts | None] = {}
        self.drugs: dict[tuple[int, str], _DrugFacts] = {}  # (prescription, drug code) → its item
        self.benefits: dict[int, list[BenefitEnrolment]] = {}  # resident → other benefits held
        self.filled: set[tuple[int, date]] = set()  # (prescription item, day) of this file's dispensings
        self.staff = _StaffDirectory(actor.institution_id)
        self.targets = dict(db.session.execute(sa.select(PackageVersion.id, PackageVersion.target_disease_codes)
                                               .where(PackageVersion.region_id == actor.region_id)).all())
        self.policies = [tuple(row) for row in db.session.execute(
            sa.select(LocalRules.effective_from, LocalRules.duplicate_benefit_policy)
            .where(LocalRules.region_id == actor.region_id).order_by(LocalRules.effective_from))]

    def parse(self, data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        f = _Fields(data, self.columns)
        values: dict[str, Any] = {
            "external_id": f.text("external_id", max_length=64, required=True),
            "prescription_id": f.integer("prescription_id"),
            "prescription_external_id": f.text("prescription_external_id", max_length=64),
            "drug_code": f.text("drug_code", max_length=64, required=True),
            "dispensed_on": f.day("dispensed_on"),
            "quantity": f.number("quantity"),
            "staff_licence_no": f.text("staff_licence_no", max_length=64),
            "staff_id": f.integer("staff_id"),
        }
        if (values["prescription_id"] is None) == (values["prescription_external_id"] is None) \
                and "prescription_id" not in f.problems:
            f.problems["prescription_id"] = "须填写 prescription_id 或 prescription_external_id 之一"
        quantity = values["quantity"]
        if quantity is None and "quantity" not in f.problems:
            f.problems["quantity"] = "必填"
        elif quantity is not None and not (0 < quantity < 10**8):
            f.problems["quantity"] = "应大于0且小于1亿"
        elif quantity is not None and quantity != quantity.quantize(_TWO_DECIMALS):
            f.problems["quantity"] = "最多两位小数"
        return values, f.problems

    # Pass 1 -------------------------------------------------------------------------------------

    def check(self, rows: list[_Parsed], report: _Report) -> list[int]:
        if not rows:
            return []
        stored_ids = set(db.session.scalars(sa.select(Dispensing.external_id).where(
            Dispensing.institution_id == self.actor.institution_id,
            Dispensing.external_id.in_([row.values["external_id"] for row in rows]))))
        new = [row for row in rows if row.values["external_id"] not in stored_ids]
        report.rows_already_stored += len(rows) - len(new)
        self._load_prescriptions(new)
        recorded = self._recorded_days(new)
        passed = []
        for ordinal, line, values in new:
            code, message = self._problem(values, recorded)
            if code:
                report.fail(line, values["external_id"], code, message)
                continue
            prescription = self._prescription(values)
            self.filled.add((self.drugs[(prescription.id, values["drug_code"])].id, values["dispensed_on"]))
            passed.append(ordinal)
        return passed

    def _prescription(self, values: dict[str, Any]) -> _PrescriptionFacts | None:
        if values["prescription_id"] is not None:
            return self.by_id.get(values["prescription_id"])
        return self.by_external_id.get(values["prescription_external_id"])

    def _problem(self, values: dict[str, Any], recorded: set[tuple[int, date]]) -> tuple[str | None, str]:
        """The first rule the row breaks, in the order the doctor's API checks them."""
        prescription = self._prescription(values)
        if prescription is None:
            return "PRESCRIPTION_NOT_FOUND", "处方不存在或不在本人管理范围内"
        if (values["staff_id"] is not None or values["staff_licence_no"]) and self.staff.find(values) is None:
            return "STAFF_NOT_FOUND", "本机构没有该医务人员（执业证书编号或人员 id）"
        if prescription.status is not PrescriptionStatus.ACTIVE:
            return "PRESCRIPTION_NOT_ACTIVE", "该处方已结束，不能登记取药"
        on = values["dispensed_on"]
        if prescription.contract_status is not ContractStatus.ACTIVE:
            return "CONTRACT_NOT_ACTIVE", "该签约不在履约中"
        if on > self.today:
            return "DATE_IN_FUTURE", "取药日期不能晚于今天"
        if not prescription.period_start <= on <= prescription.period_end:
            return "OUTSIDE_CONTRACT_PERIOD", "取药日期不在签约服务期内"
        if on < prescription.issued_on:
            return "DISPENSING_BEFORE_ISSUE", "取药日期不能早于处方开具日期"
        drug = self.drugs.get((prescription.id, values["drug_code"]))
        if drug is None:
            return "PRESCRIPTION_ITEM_NOT_FOUND", "该药品不在此处方中"
        if values["quantity"] > drug.quantity:
            return "DISPENSING_EXCEEDS_PRESCRIBED", f"{drug.drug_name}发药数量不能超过处方开具量{drug.quantity}{drug.unit}"
        if (drug.id, on) in recorded or (drug.id, on) in self.filled:
            return "DISPENSING_ALREADY_RECORDED", f"{drug.drug_name}当日已登记取药"
        policy = self._policy_on(on)
        if policy is None:
            return "RULES_NOT_IN_FORCE", f"{on.isoformat()} 无生效的实施细则"
        benefits = self._benefits(prescription, on)
        if benefits and policy != "flag":
            problem = prescriptions_rules.duplicate_benefit_error(benefits)
            return problem.code, problem.message
        return None, ""

    def _policy_on(self, day: date) -> str | None:
        policy = None
        for effective_from, value in self.policies:
            if effective_from > day:
                break
            policy = value
        return policy

    def _benefits(self, prescription: _PrescriptionFacts, on: date) -> list[BenefitEnrolment]:
        """Other benefits the person holds on `on` for the package's diseases (as `active_benefits`)."""
        diseases = self.targets.get(prescription.package_version_id) or []
        return [b for b in self.benefits.get(prescription.resident_id, ())
                if b.disease_code in diseases and b.valid_from <= on and (b.valid_to is None or b.valid_to >= on)]

    def _load_prescriptions(self, rows: list[_Parsed]) -> None:
        """The actor's prescriptions of these rows not seen yet, their drugs and their patients' other benefits."""
        ids = sorted({row.values["prescription_id"] for row in rows if row.values["prescription_id"] is not None}
                     - self.by_id.keys())
        external_ids = sorted({row.values["prescription_external_id"] for row in rows
                               if row.values["prescription_external_id"] is not None} - self.by_external_id.keys())
        if not ids and not external_ids:
            return
        for prescription_id in ids:
            self.by_id[prescription_id] = None
        for external_id in external_ids:
            self.by_external_id[external_id] = None
        found = [_PrescriptionFacts(*row) for row in db.session.execute(
            sa.select(Prescription.id, Prescription.external_id, Prescription.institution_id, Prescription.issued_on,
                      Prescription.status, Contract.id, Contract.status, Contract.period_start, Contract.period_end,
                      Contract.region_id, Contract.resident_id, Contract.package_version_id)
            .join(Contract, Contract.id == Prescription.contract_id)
            .where(visible(Prescription, self.actor), Prescription.institution_id == self.actor.institution_id,
                   sa.or_(Prescription.id.in_(ids), Prescription.external_id.in_(external_ids))))]
        if not found:
            return
        for prescription in found:
            self.by_id[prescription.id] = prescription
            if prescription.external_id is not None:
                self.by_external_id[prescription.external_id] = prescription
        for item_id, prescription_id, drug_code, quantity, drug_name, unit in db.session.execute(
                sa.select(PrescriptionItem.id, PrescriptionItem.prescription_id, PrescriptionItem.drug_code,
                          PrescriptionItem.quantity, PrescriptionItem.drug_name, PrescriptionItem.unit)
                .where(PrescriptionItem.prescription_id.in_([p.id for p in found])).order_by(PrescriptionItem.id)):
            self.drugs.setdefault((prescription_id, drug_code), _DrugFacts(item_id, Decimal(quantity), drug_name, unit))
        residents = sorted({p.resident_id for p in found} - self.benefits.keys())
        for resident_id in residents:
            self.benefits[resident_id] = []
        for benefit in db.session.scalars(sa.select(BenefitEnrolment)
                                          .where(BenefitEnrolment.resident_id.in_(residents))):
            self.benefits[benefit.resident_id].append(benefit)

    def _recorded_days(self, rows: list[_Parsed]) -> set[tuple[int, date]]:
        """Stored dispensings of these rows' drugs on these rows' days (one query per chunk)."""
        items = {drug.id for row in rows if (p := self._prescription(row.values))
                 and (drug := self.drugs.get((p.id, row.values["drug_code"])))}
        if not items:
            return set()
        days = {row.values["dispensed_on"] for row in rows}
        return {tuple(row) for row in db.session.execute(
            sa.select(Dispensing.prescription_item_id, Dispensing.dispensed_on)
            .where(Dispensing.prescription_item_id.in_(sorted(items)), Dispensing.dispensed_on.in_(sorted(days))))}

    # Pass 2 -------------------------------------------------------------------------------------

    def store(self, rows: list[_Parsed], report: _Report) -> None:
        """One INSERT for the chunk; a double benefit the rules only flag goes to supervision."""
        dispensings, flagged = [], []
        for _ordinal, _line, values in rows:
            prescription = self._prescription(values)
            dispensings.append({
                "prescription_id": prescription.id,
                "prescription_item_id": self.drugs[(prescription.id, values["drug_code"])].id,
                "institution_id": prescription.institution_id, "dispensed_on": values["dispensed_on"],
                "quantity": values["quantity"], "staff_id": self.staff.find(values),
                "external_id": values["external_id"], "created_at": self.now, "updated_at": self.now,
            })
            if self._benefits(prescription, values["dispensed_on"]):
                flagged.append(values)
        if not dispensings:
            return
        db.session.execute(sa.insert(Dispensing.__table__), dispensings)
        report.rows_stored += len(dispensings)
        if flagged:
            ids = dict(db.session.execute(sa.select(Dispensing.external_id, Dispensing.id).where(
                Dispensing.institution_id == self.actor.institution_id,
                Dispensing.external_id.in_([values["external_id"] for values in flagged]))).all())
            for values in flagged:
                prescription, on = self._prescription(values), values["dispensed_on"]
                contract = SimpleNamespace(id=prescription.contract_id, region_id=prescription.region_id,
                                           institution_id=prescription.institution_id,
                                           resident_id=prescription.resident_id)
                dispensing_id = ids[values["external_id"]]
                prescriptions_rules.flag_duplicate_benefit(
                    contract, self._benefits(prescription, on), "dispensing", dispensing_id,  # type: ignore[arg-type]
                    {"prescription_id": prescription.id, "dispensed_on": on.isoformat(),
                     "dispensing_ids": [dispensing_id]})


_Importer = _ServiceRecords | _Dispensings
