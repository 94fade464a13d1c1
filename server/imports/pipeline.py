"""The two passes every imported file goes through, in chunks, filling its report.

The file is read twice, row by row, so memory stays bounded by a chunk plus a few small keys
per row (the external ids seen, to find duplicates within the file, and what a kind keeps):
  1. check: parse, resolve and apply every rule that does not depend on the order of rows;
     nothing is written, so an unreadable file is refused before any change.
  2. store: parse the rows that passed again, decide what depends on the order (a service
     record's yearly quantity), and insert in chunks with one bulk INSERT per table per chunk.
An importer (one per kind of row, held by its domain) parses a row, checks a chunk with one
query per look-up — never a query per row — and stores a chunk. Both passes run in the
caller's transaction, under a lock per institution (PostgreSQL), so two imports of one
institution never race on the same external ids.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

import sqlalchemy as sa

from server.errors import ValidationFailed
from server.extensions import db
from server.imports.parsing import Layout, Row, raw_external_id, read_rows
from server.teams.models import Staff

CHUNK_ROWS = 2_000
MAX_REPORTED_FAILURES = 10_000  # rows_failed still counts every one
_LOCK_NAMESPACE = 0x696D_706F  # "impo": advisory-lock keys of imports, one per institution


@dataclass
class Report:
    """What the file's rows came to, and the failed ones (kept in full up to `MAX_REPORTED_FAILURES`)."""

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


class Parsed(NamedTuple):
    """A row whose fields were read, with its place in the file."""

    ordinal: int
    line: int
    values: dict[str, Any]


class Importer(Layout, Protocol):
    """One kind of row: how to parse one, check a chunk (the ordinals to store) and store a chunk."""

    kind: str

    def parse(self, data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]: ...

    def check(self, rows: list[Parsed], report: Report) -> list[int]: ...

    def store(self, rows: list[Parsed], report: Report) -> None: ...


def lock_institution(institution_id: int) -> None:
    """Serialise imports of one institution (PostgreSQL; SQLite serialises all writers anyway)."""
    if _on_postgresql():
        db.session.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"),
                           {"key": (_LOCK_NAMESPACE << 32) | institution_id})


def run(importer: Importer, content: bytes, file_format: str) -> Report:
    """Check the whole file, then store the rows that passed; a file with no readable row is refused."""
    report = Report()
    plan_with_values(True)
    flags = _check_pass(importer, read_rows(content, file_format, importer), report)
    if report.rows_total == 0:
        raise ValidationFailed("文件中没有数据行", code="IMPORT_FILE_EMPTY")
    if report.unparseable == report.rows_total:
        raise ValidationFailed(f"无法按 {file_format} 格式读取文件", code="IMPORT_FILE_UNPARSEABLE",
                               details={"first_failures": report.failures[:5]})
    plan_with_values(False)
    _store_pass(importer, read_rows(content, file_format, importer), flags, report)
    return report


def plan_with_values(on: bool) -> None:
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


def _check_pass(importer: Importer, rows: Iterator[Row], report: Report) -> bytearray:
    """Pass 1: every rule but the order-dependent ones; returns a flag per row: 1 = to store."""
    flags = bytearray()
    seen: dict[str, int] = {}  # external_id → line of its first row in the file
    for chunk in _chunked(rows):
        candidates: list[Parsed] = []
        for row in chunk:
            flags.append(0)
            report.rows_total += 1
            if row.parse_error is not None:
                report.unparseable += 1
                report.fail(row.line, None, "PARSE_ERROR", row.parse_error)
                continue
            values, problems = importer.parse(row.data)
            if problems:
                report.fail(row.line, raw_external_id(row.data), "FIELD_INVALID",
                            "；".join(f"{name}：{message}" for name, message in problems.items()))
                continue
            first = seen.setdefault(values["external_id"], row.line)
            if first != row.line:
                report.fail(row.line, values["external_id"], "DUPLICATE_IN_FILE",
                            f"external_id 与第{first}行重复")
                continue
            candidates.append(Parsed(row.ordinal, row.line, values))
        for ordinal in importer.check(candidates, report):
            flags[ordinal] = 1
    return flags


def _store_pass(importer: Importer, rows: Iterator[Row], flags: bytearray, report: Report) -> None:
    """Pass 2: the rows that passed, parsed again and stored a chunk at a time."""
    chosen = (row for row in rows if flags[row.ordinal])
    for chunk in _chunked(chosen):
        importer.store([Parsed(row.ordinal, row.line, importer.parse(row.data)[0]) for row in chunk], report)


def _chunked(rows: Iterable[Row]) -> Iterator[list[Row]]:
    chunk: list[Row] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= CHUNK_ROWS:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# --- What every kind of row looks up ---------------------------------------------------------------

class StaffDirectory:
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
