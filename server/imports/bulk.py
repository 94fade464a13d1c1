"""Loading a bureau file (claims, roster changes, benefit registrations) at bulk speed.

The file is read once, as a stream. Python does only what must happen per row before the
database sees it: split the row, convert each field to its type (yuan to fen, Beijing time to
UTC) and replace the ID number with its keyed hash, so no ID number in clear text reaches
the database. The typed rows go into a temporary staging table with `COPY` on PostgreSQL
(an executemany on SQLite). Everything else — the rules between fields, duplicates within
the file and against what is stored, matching people, storing — is the layout's apply step:
set-based SQL over the staging table, in the caller's transaction, so nothing is half-written.

A row whose field cannot be read is staged with its line, the field and a code, and nothing
else; the apply step marks the rows its rules refuse the same way (`refuse`), and the
report lists them all from the staging table at the end.
"""
from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import queue
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import IO, Any

import sqlalchemy as sa

from server.common import idcard, pii
from server.common.text import LINE_CHARACTER, control_character_problem
from server.errors import ValidationFailed
from server.extensions import db
from server.imports.outcome import Applied
from server.imports.pipeline import MAX_REPORTED_FAILURES, Report

STAGE_BATCH_ROWS = 5_000  # rows per executemany on SQLite; PostgreSQL takes a chunk in one COPY
CHUNK_ROWS = 50_000  # rows staged and applied at a time, while the next are read
MAX_LINE_CHARS = 64 * 1024  # a JSON line of any bureau file is a few hundred characters
_LOCK_NAMESPACE = 0x6275_6C6B  # "bulk": advisory-lock keys of bureau imports, one per region


# --- Fields -----------------------------------------------------------------------------------------

class FieldProblem(Exception):
    """A field that cannot be read; `code` is stable, the message is built from it."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


MESSAGES = {
    "FIELD_REQUIRED": "必填",
    "FIELD_TOO_LONG": "长度超出限制",
    "FIELD_UNKNOWN": "不支持的字段",
    "FIELD_NOT_TEXT": "应为文本或数字",
    "CONTROL_CHARACTER": "含有控制字符",
    "CODE_UNKNOWN": "代码不在取值范围内",
    "AMOUNT_INVALID": "金额应以元为单位，最多两位小数",
    "DATE_INVALID": "日期格式应为 YYYY-MM-DD",
    "TIME_INVALID": "时间格式应为 YYYY-MM-DD HH:MM:SS（北京时间）",
    "ID_NUMBER_INVALID": "身份证号码无效",
    "COLUMN_COUNT": "列数与表头不一致",
    "NOT_JSON_OBJECT": "不是有效的 JSON 对象",
    "LINE_TOO_LONG": "该行过长",
}


@dataclass(frozen=True)
class Field:
    """How one kind of field is read.

    `pattern` (a regular expression) says what a good value looks like, so a whole row is
    checked with one match; `convert` turns a matched value into what is staged (it may still
    raise ValueError, e.g. for 30 February); `check` reads an unmatched value field by field
    to name the problem (raising `FieldProblem`) and returns the staged value.
    """

    pattern: str
    convert: Callable[[str], Any] | None  # None: staged as the text matched
    check: Callable[[str], Any]
    type: sa.types.TypeEngine  # in the staging table


def text(max_length: int) -> Field:
    def check(value: str) -> str:
        if len(value) > max_length:
            raise FieldProblem("FIELD_TOO_LONG")
        if control_character_problem(value, free_text=False):
            raise FieldProblem("CONTROL_CHARACTER")
        return value
    return Field(f"{LINE_CHARACTER}{{1,{max_length}}}", None, check, sa.String(max_length))


def code(*allowed: str) -> Field:
    def check(value: str) -> str:
        if value not in allowed:
            raise FieldProblem("CODE_UNKNOWN")
        return value
    return Field("|".join(re.escape(value) for value in allowed), None, check,
                 sa.String(max(len(value) for value in allowed)))


_YUAN = r"-?\d{1,11}(?:\.\d{1,2})?"
_DAY = r"\d{4}-\d{2}-\d{2}"
_MOMENT = _DAY + r"[ T](?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d"


def _checker(pattern: str, code_: str, convert: Callable[[str], Any] | None = None) -> Callable[[str], Any]:
    def check(value: str) -> Any:
        try:
            if re.fullmatch(pattern, value):
                return convert(value) if convert else value
        except ValueError:
            pass
        raise FieldProblem(code_)
    return check


def _real_day(value: str) -> str:
    date.fromisoformat(value[:10])  # ValueError for 30 February, which the database would refuse mid-load
    return value


# Amounts and times are staged as the text the file holds, checked; the apply step reads them with
# `sqlfuncs.fen` and `sqlfuncs.beijing_to_utc`. Dates are staged as dates.
AMOUNT = Field(_YUAN, None, _checker(_YUAN, "AMOUNT_INVALID"), sa.String(15))
DAY = Field(_DAY, date.fromisoformat, _checker(_DAY, "DATE_INVALID", date.fromisoformat), sa.Date())
BEIJING_TIME = Field(_MOMENT, _real_day, _checker(_MOMENT, "TIME_INVALID", _real_day), sa.String(19))
# The file's `IdNumberHasher` converts and checks it: only its keyed hash is staged.
ID_NUMBER = Field(r"\d{17}[\dXx]", None, str, sa.String(64))


class IdNumberHasher:
    """The keyed hash of each valid ID number; a file names the same people many times."""

    def __init__(self) -> None:
        self.known: dict[str, str] = {}

    def __call__(self, value: str) -> str:
        found = self.known.get(value)
        if found is None:
            number = idcard.normalise(value)
            if not idcard.is_valid(number):
                raise FieldProblem("ID_NUMBER_INVALID")
            if len(self.known) >= 200_000:  # bounded: a county file has about that many people
                self.known.clear()
            found = self.known[value] = pii.blind_index(number)
        return found


@dataclass(frozen=True)
class Column:
    """One field of a bureau file: its national name, how it is read, and how it is staged."""

    name: str
    field: Field
    required: bool = False

    @property
    def staged_as(self) -> str:
        return f"{self.name}_hash" if self.field is ID_NUMBER else self.name


@dataclass(frozen=True)
class BulkLayout:
    """A kind of bureau file: its columns (national field names) and the step that applies it."""

    kind: str
    columns: tuple[Column, ...]
    apply: Callable[[Staged], Applied]
    messages: dict[str, str] = field(default_factory=dict)  # of the codes its apply step refuses with

    @property
    def names(self) -> frozenset[str]:
        return frozenset(column.name for column in self.columns)


# --- Staging ----------------------------------------------------------------------------------------

@dataclass
class Staged:
    """The staging table of one file, for the apply step: `rows` are those still to apply."""

    table: sa.Table
    region_id: int
    region_code: str
    batch_id: int
    today: date
    now: datetime
    memo: dict[str, Any] = field(default_factory=dict)  # what an apply step keeps from chunk to chunk

    @property
    def rows(self) -> sa.ColumnElement[bool]:
        return self.table.c.problem_code.is_(None)

    def refuse(self, *rules: tuple[str, str, sa.ColumnElement[bool]]) -> int:
        """Mark the rows still to apply that break a rule (field, code, condition) as failed, naming
        the first rule each breaks; one pass over the table however many rules."""
        return db.session.execute(
            sa.update(self.table).where(self.rows, sa.or_(*(condition for _, _, condition in rules)))
            .values(problem_field=sa.case(*((condition, field_name) for field_name, _, condition in rules)),
                    problem_code=sa.case(*((condition, code_) for _, code_, condition in rules)))).rowcount


REPEATED, ALREADY_STORED = "REPEATED", "ALREADY_STORED"
_NOT_FAILURES = (REPEATED, ALREADY_STORED)


@dataclass
class BulkReport(Report):
    """An institution file's report, and what a bureau file adds: rows about people the region
    does not serve, what the rows changed elsewhere, the file's SHA-256."""

    rows_skipped: int = 0
    changes: dict[str, int] = field(default_factory=dict)
    sha256: str = ""


def lock_region(region_id: int) -> None:
    """Serialise bureau imports of one region (PostgreSQL; SQLite serialises all writers anyway)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"),
                           {"key": (_LOCK_NAMESPACE << 32) | region_id})


def load(layout: BulkLayout, stream: IO[bytes], file_format: str,
         staged_for: Callable[[sa.Table], Staged]) -> BulkReport:
    """Stage the file and apply it a chunk at a time, and report; runs in the caller's transaction.

    The next chunk is read on another thread while the database applies this one, so reading
    the file costs little more than the database's own work.
    """
    table = _stage_table(layout)
    bind = db.session.connection()
    table.drop(bind, checkfirst=True)  # SQLite keeps temporary tables until the connection closes
    table.create(bind)
    digest = hashlib.sha256()
    text_stream = io.TextIOWrapper(io.BufferedReader(_Hashing(stream, digest), 1 << 20), encoding="utf-8-sig",
                                   newline="")
    on_postgresql = bind.dialect.name == "postgresql"
    as_text = on_postgresql and file_format == "csv"
    chunks = _csv_text_chunks(layout, text_stream) if as_text else _row_chunks(layout, text_stream, file_format)
    report = BulkReport()
    staged = staged_for(table)
    try:
        for chunk in _ahead(chunks):
            if report.rows_total:
                db.session.execute(table.delete())
            report.rows_total += _copy_text(table, *chunk) if as_text else (
                _copy(table, chunk) if on_postgresql else _insert(table, chunk))
            if on_postgresql:
                # Autovacuum never sees temporary tables; the plans join on these.
                keys = [layout.columns[0].staged_as] + [c.staged_as for c in layout.columns if c.field is ID_NUMBER]
                db.session.execute(sa.text(f"ANALYZE {table.name} (line, problem_code, {', '.join(keys)})"))
            _report(report, layout, table, layout.apply(staged))
    except UnicodeDecodeError as exc:
        raise ValidationFailed("文件须为 UTF-8 编码（GBK 等编码请先另存为 UTF-8）", code="IMPORT_FILE_ENCODING") \
            from exc
    if report.rows_total == 0:
        raise ValidationFailed("文件中没有数据行", code="IMPORT_FILE_EMPTY")
    report.sha256 = digest.hexdigest()
    report.failures.sort(key=lambda failure: failure["line"])
    del report.failures[MAX_REPORTED_FAILURES:]
    report.rows_skipped = (report.rows_total - report.rows_stored - report.rows_already_stored
                           - report.rows_failed)
    table.drop(bind)
    return report


def _report(report: BulkReport, layout: BulkLayout, table: sa.Table, applied: Applied) -> None:
    """Add what one chunk came to: the apply step's counts, and the rows it and the reading refused."""
    report.rows_stored += applied.stored
    for name, count in applied.changes.items():
        report.changes[name] = report.changes.get(name, 0) + count
    set_aside = db.session.scalar(sa.select(sa.func.count()).where(table.c.problem_code.in_(_NOT_FAILURES))) or 0
    report.rows_already_stored += applied.already_stored + set_aside
    failures = [(line, field_name, code_, message) for line, field_name, code_, message in applied.failures]
    failed = sa.and_(table.c.problem_code.is_not(None), table.c.problem_code.not_in(_NOT_FAILURES))
    report.rows_failed += len(applied.failures) + (db.session.scalar(sa.select(sa.func.count()).where(failed)) or 0)
    room = MAX_REPORTED_FAILURES - len(report.failures)
    if room > 0:
        failures += [(line, field_name, code_, layout.messages.get(code_) or MESSAGES.get(code_, code_))
                     for line, field_name, code_ in db.session.execute(
                         sa.select(table.c.line, table.c.problem_field, table.c.problem_code).where(failed)
                         .order_by(table.c.line).limit(room))]
    for line, field_name, code_, message in failures[:max(room, 0)]:
        field_name = field_name or ""  # COPY's CSV reads an empty field as NULL
        report.failures.append({"line": line, "field": field_name, "external_id": None, "code": code_,
                                "message": f"{field_name}：{message}" if field_name else message})


def _ahead(chunks: Iterator[Any]) -> Iterator[Any]:
    """`chunks`, produced one ahead on a thread of their own (reading and hashing is Python work,
    which goes on while this thread waits for the database)."""
    handover: queue.Queue = queue.Queue(maxsize=1)
    stopped = threading.Event()

    def offer(item) -> bool:
        while not stopped.is_set():
            try:
                handover.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for chunk in chunks:
                if not offer(("chunk", chunk)):
                    return
            offer(("end", None))
        except BaseException as exc:  # handed to the consumer, which raises it
            offer(("error", exc))

    reader = threading.Thread(target=produce, name="bulk-reader", daemon=True)
    reader.start()
    try:
        while True:
            kind, item = handover.get()
            if kind == "end":
                return
            if kind == "error":
                raise item
            yield item
    finally:
        stopped.set()
        reader.join()


def _stage_table(layout: BulkLayout) -> sa.Table:
    columns = [sa.Column("line", sa.Integer, nullable=False), sa.Column("problem_field", sa.String(32)),
               sa.Column("problem_code", sa.String(32))]
    columns += [sa.Column(column.staged_as, column.field.type) for column in layout.columns]
    return sa.Table(f"stage_{layout.kind}", sa.MetaData(), *columns, prefixes=["TEMPORARY"],
                    postgresql_on_commit="DROP")


def _copy(table: sa.Table, rows: list[list]) -> int:
    """The rows into the staging table with one COPY, on the session's own connection."""
    names = ", ".join(column.name for column in table.columns)
    cursor = db.session.connection().connection.driver_connection.cursor()
    total = 0
    with cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            total += 1
    return total


def _insert(table: sa.Table, rows: list[list]) -> int:
    names = [column.name for column in table.columns]
    total, chunk = 0, []
    for row in rows:
        chunk.append(dict(zip(names, row)))
        if len(chunk) >= STAGE_BATCH_ROWS:
            db.session.execute(table.insert(), chunk)
            total, chunk = total + len(chunk), []
    if chunk:
        db.session.execute(table.insert(), chunk)
        total += len(chunk)
    return total


# --- Reading ----------------------------------------------------------------------------------------

class _Hashing(io.RawIOBase):
    """The upload as read, feeding the file's SHA-256 for the batch history."""

    def __init__(self, stream: IO[bytes], digest) -> None:
        self.stream, self.digest = stream, digest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.stream.read(len(buffer))
        self.digest.update(data)
        buffer[:len(data)] = data
        return len(data)


class _Rows:
    """Reads one file's rows whose fields come in `order` (a CSV header's, or the layout's).

    A row that matches the whole-row pattern is converted at once; any other row is read
    field by field, which names the first bad field.
    """

    def __init__(self, layout: BulkLayout, order: list[str]) -> None:
        at = {name: i for i, name in enumerate(order)}
        by_name = {column.name: column for column in layout.columns}
        self.hasher = hasher = IdNumberHasher()
        self.taken = [at.get(column.name) for column in layout.columns]  # where each column is in a row
        self.converted = [(n, hasher if column.field is ID_NUMBER else column.field.convert)
                          for n, column in enumerate(layout.columns)
                          if self.taken[n] is not None and (column.field is ID_NUMBER or column.field.convert)]
        self.checks = [(column, at.get(column.name), hasher if column.field is ID_NUMBER else column.field.check)
                       for column in layout.columns]
        # Fields joined by U+001F, a control character no good field holds: the match never backtracks.
        self.pattern = re.compile("\x1f".join(f"(?:{by_name[name].field.pattern})" + (
            "" if by_name[name].required else "?") for name in order))
        self.nothing = [None] * len(layout.columns)

    def typed(self, line: int, values: list[str] | None, problem: tuple[str, str] | None) -> list:
        """[line, problem_field, problem_code, *values in the layout's order]."""
        if problem is not None:
            return [line, *problem, *self.nothing]
        if self.pattern.fullmatch("\x1f".join(values)):
            row = [values[i] or None if i is not None else None for i in self.taken]
            try:
                for n, convert in self.converted:
                    if row[n] is not None:
                        row[n] = convert(row[n])
            except (ValueError, FieldProblem):
                pass  # read field by field below, which names the field
            else:
                return [line, None, None, *row]
        return _read_slowly(line, self.checks, values, self.nothing)

    def as_matched(self, values: list[str]) -> list[str] | None:
        """A matched row's fields as text in the layout's order, the ID number hashed; dates are
        only checked (the database reads them). None when a check fails."""
        fields = [values[i] if i is not None else "" for i in self.taken]
        try:
            for n, convert in self.converted:
                if fields[n]:
                    converted = convert(fields[n])
                    if convert is self.hasher:
                        fields[n] = converted
        except (ValueError, FieldProblem):
            return None
        return fields


def _typed(layout: BulkLayout, text_stream: IO[str], file_format: str) -> Iterator[list]:
    if file_format == "csv":
        order, raw = _csv_values(layout, text_stream)
    else:
        order, raw = [column.name for column in layout.columns], _jsonl_values(layout, text_stream)
    rows = _Rows(layout, order)
    for line, values, problem in raw:
        yield rows.typed(line, values, problem)


def _row_chunks(layout: BulkLayout, text_stream: IO[str], file_format: str) -> Iterator[list[list]]:
    chunk: list[list] = []
    for row in _typed(layout, text_stream, file_format):
        chunk.append(row)
        if len(chunk) >= CHUNK_ROWS:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _csv_text_chunks(layout: BulkLayout, text_stream: IO[str]) -> Iterator[tuple[str, int]]:
    """A CSV file as the staging table's rows in COPY's CSV format, a chunk (text, rows) at a time.

    A line without quotes is a row whose fields the commas separate; when it matches the
    whole-row pattern, the line goes on as it came, its ID number replaced by the hash and its
    fields in the layout's order, and the database reads the dates. Any other line is read
    as the CSV module reads it, and from the first line with a quote on, every line is.
    """
    order, _ = _csv_values(layout, text_stream)
    if not order:
        return
    rows, out = _Rows(layout, order), _CsvText()
    line, lines = 1, iter(text_stream)
    for text_line in lines:
        line += 1
        body = text_line.rstrip("\r\n")
        if '"' in body:
            for number, values, problem in _csv_rows(csv.reader(itertools.chain([text_line], lines)), len(order),
                                                     line - 1):
                out.row(rows.typed(number, values, problem))
                if out.count >= CHUNK_ROWS:
                    yield out.take()
            break
        values = body.split(",")
        if len(values) != len(order):
            if body.strip():
                out.row(rows.typed(line, None, ("", "COLUMN_COUNT")))
        elif rows.pattern.fullmatch("\x1f".join(values)) and (fields := rows.as_matched(values)) is not None:
            out.line(f"{line},,,{','.join(fields)}\n")
        else:
            out.row(rows.typed(line, values, None))
        if out.count >= CHUNK_ROWS:
            yield out.take()
    if out.count:
        yield out.take()


class _CsvText:
    """Staging rows as COPY's CSV text, taken a chunk at a time."""

    def __init__(self) -> None:
        self._start()

    def _start(self) -> None:
        self.out, self.count = io.StringIO(), 0
        self.writer = csv.writer(self.out, lineterminator="\n")

    def row(self, values: list) -> None:
        self.writer.writerow(values)
        self.count += 1

    def line(self, text: str) -> None:
        self.out.write(text)
        self.count += 1

    def take(self) -> tuple[str, int]:
        chunk = self.out.getvalue(), self.count
        self._start()
        return chunk


def _copy_text(table: sa.Table, text: str, count: int) -> int:
    names = ", ".join(column.name for column in table.columns)
    cursor = db.session.connection().connection.driver_connection.cursor()
    with cursor.copy(f"COPY {table.name} ({names}) FROM STDIN (FORMAT csv)") as copy:
        for start in range(0, len(text), 1 << 20):
            copy.write(text[start:start + (1 << 20)])
    return count


def _read_slowly(line: int, checks, values: list[str], nothing: list[None]) -> list:
    """The row read field by field: its staged values, or the first bad field and its code."""
    row: list[Any] = [line, None, None]
    for column, i, check in checks:
        value = values[i].strip() if i is not None else ""
        if not value:
            if column.required:
                return [line, column.name, "FIELD_REQUIRED", *nothing]
            row.append(None)
            continue
        try:
            row.append(check(value))
        except FieldProblem as exc:
            return [line, column.name, exc.code, *nothing]
    return row


_Raw = tuple[int, list[str] | None, tuple[str, str] | None]  # line, values or a problem (field, code)


def _csv_values(layout: BulkLayout, lines: IO[str]) -> tuple[list[str], Iterator[_Raw]]:
    """The header's column names, and each data row's values in that order."""
    reader = csv.reader(lines)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise ValidationFailed("CSV 表头无法读取", code="IMPORT_FILE_UNPARSEABLE") from exc
    names = [name.strip().lower() for name in header or []]
    if names:
        _check_header(layout, names)
    return names, _csv_rows(reader, len(names), reader.line_num)


def _csv_rows(reader, width: int, lines_before: int) -> Iterator[_Raw]:
    """Rows of `reader`, numbered by their first line in the file, after `lines_before` lines."""
    previous_line = lines_before
    offset = lines_before - reader.line_num
    try:
        for values in reader:
            line, previous_line = previous_line + 1, offset + reader.line_num
            if len(values) != width:
                if any(value.strip() for value in values):
                    yield line, None, ("", "COLUMN_COUNT")
                continue
            yield line, values, None
    except csv.Error as exc:
        raise ValidationFailed(f"CSV 第{reader.line_num}行无法读取", code="IMPORT_FILE_UNPARSEABLE") from exc


def _check_header(layout: BulkLayout, names: list[str]) -> None:
    unknown = [name for name in names if name not in layout.names]
    repeated = sorted({name for name in names if names.count(name) > 1})
    missing = [column.name for column in layout.columns if column.required and column.name not in names]
    if unknown or repeated or missing:
        raise ValidationFailed("CSV 表头有误（字段名应为国家医保信息平台的字段名）", code="IMPORT_COLUMNS_INVALID",
                               details={"unknown": unknown[:50], "repeated": repeated[:50], "missing": missing})


def _jsonl_values(layout: BulkLayout, lines: IO[str]) -> Iterator[_Raw]:
    names = [column.name for column in layout.columns]
    known = layout.names
    for line, text_line in enumerate(lines, start=1):
        if not text_line.strip():
            continue
        if len(text_line) > MAX_LINE_CHARS:
            yield line, None, ("", "LINE_TOO_LONG")
            continue
        try:
            data = json.loads(text_line, parse_float=str, parse_int=str)
        except (ValueError, RecursionError):
            data = None
        if not isinstance(data, dict):
            yield line, None, ("", "NOT_JSON_OBJECT")
            continue
        unknown = next((name for name in data if name not in known), None)
        if unknown is not None:
            yield line, None, (unknown[:32], "FIELD_UNKNOWN")
            continue
        values = [data.get(name) for name in names]
        bad = next((name for name, value in zip(names, values) if value is not None and not isinstance(value, str)),
                   None)
        if bad is not None:
            yield line, None, (bad, "FIELD_NOT_TEXT")
            continue
        yield line, [value or "" for value in values], None
