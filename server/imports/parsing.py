"""Reading an uploaded file into rows, and a row's fields into values (JSON lines or CSV).

A file is read lazily, line by line, so it can be read twice (check, then store) without
holding it whole as rows. A row that cannot be read is a `Row` with its reason; a whole file
that cannot be (wrong encoding, bad CSV header) is refused. `Fields` converts one row's values,
from JSON types or CSV strings alike, and collects a Chinese message per bad field.
"""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple, Protocol

from server.common.text import control_character_problem
from server.common.timeutil import SHANGHAI
from server.errors import ValidationFailed


FORMATS_BY_EXTENSION = {"csv": "csv", "jsonl": "jsonl", "ndjson": "jsonl", "json": "jsonl"}


class Layout(Protocol):
    """The columns a kind of row has (a CSV header must name them)."""

    columns: frozenset[str]
    required_columns: tuple[str, ...]
    one_of_columns: tuple[tuple[str, ...], ...]  # at least one column of each group


class Row(NamedTuple):
    ordinal: int  # 0-based among the file's data rows
    line: int     # 1-based line where the row starts (a CSV header is line 1)
    data: dict[str, Any] | None
    parse_error: str | None = None


def read_rows(content: bytes, file_format: str, layout: Layout) -> Iterator[Row]:
    """The file's data rows, read as they are consumed."""
    lines = _lines(content)
    return _jsonl_rows(lines) if file_format == "jsonl" else _csv_rows(lines, layout)


def _lines(content: bytes) -> Iterator[str]:
    """The text line by line, decoded as it is read; a UTF-8 BOM (as Excel writes) is dropped."""
    text = io.TextIOWrapper(io.BytesIO(content), encoding="utf-8-sig", newline="")
    try:
        yield from text
    except UnicodeDecodeError as exc:
        raise ValidationFailed("文件须为 UTF-8 编码（GBK 等编码请先另存为 UTF-8）", code="IMPORT_FILE_ENCODING") \
            from exc


def _jsonl_rows(lines: Iterator[str]) -> Iterator[Row]:
    ordinal = 0
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text:
            continue
        try:
            data = json.loads(text, parse_float=Decimal)
        except (ValueError, RecursionError):  # RecursionError: absurdly nested arrays
            yield Row(ordinal, number, None, "不是有效的 JSON")
        else:
            if isinstance(data, dict):
                yield Row(ordinal, number, data)
            else:
                yield Row(ordinal, number, None, "每行应为一个 JSON 对象")
        ordinal += 1


def _csv_rows(lines: Iterator[str], layout: Layout) -> Iterator[Row]:
    reader = csv.reader(lines)
    try:
        header = next(reader, None)
        if header is None:
            return
        names = [name.strip().lower() for name in header]
        _check_header(names, layout)
        ordinal, previous_line = 0, reader.line_num
        for values in reader:
            line, previous_line = previous_line + 1, reader.line_num
            if not any(value.strip() for value in values):
                continue
            if len(values) != len(names):
                yield Row(ordinal, line, None, f"列数（{len(values)}）与表头（{len(names)}）不一致")
            else:
                yield Row(ordinal, line, {name: value for name, value in zip(names, values) if value.strip()})
            ordinal += 1
    except csv.Error as exc:
        raise ValidationFailed(f"CSV 第{reader.line_num}行无法读取", code="IMPORT_FILE_UNPARSEABLE") from exc


def _check_header(names: list[str], layout: Layout) -> None:
    if not any(names):
        raise ValidationFailed("文件中没有数据行", code="IMPORT_FILE_EMPTY")
    unknown = [name for name in names if name not in layout.columns]
    repeated = sorted({name for name in names if names.count(name) > 1})
    missing = [name for name in layout.required_columns if name not in names]
    missing += ["/".join(group) for group in layout.one_of_columns if not set(group) & set(names)]
    if unknown or repeated or missing:
        raise ValidationFailed("CSV 表头有误", code="IMPORT_COLUMNS_INVALID",
                               details={"unknown": unknown, "repeated": repeated, "missing": missing})


# --- Fields (values from JSON, or strings from CSV) --------------------------------------------------

class Fields:
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


def raw_external_id(data: dict[str, Any]) -> Any:
    """The row's own id as sent, to name a row whose fields are bad."""
    value = data.get("external_id")
    return value if isinstance(value, (str, int)) and not isinstance(value, bool) else None
