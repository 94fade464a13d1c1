"""The Excel export of a run's results (考核结果导出): a region summary and one sheet per institution.

Everything comes from the run's snapshot (the scheme as it was, and the stored scores), so a
published run exports the same workbook however the platform's data has moved since. Only
the results the actor may see are written: an institution manager gets their own institution.
Every value enters the workbook through `_put`, so no stored text can break the file or run
as a formula when staff open it in Excel.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from io import BytesIO

from openpyxl import Workbook
from openpyxl.cell.cell import Cell
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from server.assessment.models import GROUP_NAMES, AssessmentRun, IndicatorScore, InstitutionResult, RunStatus
from server.assessment.runs import get_run
from server.audit import services as audit
from server.common.text import without_control_characters
from server.common.timeutil import SHANGHAI
from server.common.uow import transaction
from server.extensions import db
from server.identity.roles import ADMIN_ROLES, Actor, allowed
from server.identity.scoping import scoped_select
from server.institutions.models import Institution
from server.regions.models import Region
from server.regions.rules import GRADE_NAMES

SUMMARY_TITLE = "全地区汇总"
STATUS_NAMES = {RunStatus.RUNNING: "计算中", RunStatus.DRAFT: "草稿", RunStatus.PUBLISHED: "已发布",
                RunStatus.FAILED: "计算失败"}
METHOD_NAMES = {"auto": "自动", "manual": "人工"}
SUMMARY_HEADER = ("机构编码", "机构名称", "签约人数")  # then one column per group, 总分, 等级, 告知时间
INSTITUTION_HEADER = ("类别", "指标编码", "指标名称", "分值", "计分方式", "分子", "分母", "指标值", "得分", "说明")

POINTS_FORMAT = "0.000"
VALUE_FORMAT = "0.0000"
DATE_FORMAT = "yyyy-mm-dd"
TIME_FORMAT = "yyyy-mm-dd hh:mm"
BOLD = Font(bold=True)
TITLE_FONT = Font(bold=True, size=14)
# Excel's own rules for a sheet's name; "History" is reserved by its change tracking.
SHEET_NAME_MAX = 31
SHEET_NAME_FORBIDDEN = str.maketrans({c: "_" for c in "[]:*?/\\"})
# Text starting so is a formula to Excel (and to other spreadsheets' CSV import): kept as text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@allowed(*ADMIN_ROLES)
def run_workbook(actor: Actor, run_id: int) -> bytes:
    """The .xlsx of one run's results as the actor may see them; exporting is audited like a read."""
    with transaction():
        run = get_run(actor, run_id)  # institutions see a run once it is published
        results = db.session.execute(
            scoped_select(InstitutionResult, actor)
            .add_columns(Institution.code, Institution.name)
            .join(Institution, Institution.id == InstitutionResult.institution_id)
            .where(InstitutionResult.run_id == run.id)
            .order_by(Institution.code)).all()
        scores: dict[int, dict[str, IndicatorScore]] = defaultdict(dict)
        for row in db.session.scalars(
                scoped_select(IndicatorScore, actor)
                .join(InstitutionResult, InstitutionResult.id == IndicatorScore.result_id)
                .where(InstitutionResult.run_id == run.id)):
            scores[row.result_id][row.indicator_code] = row
        region = db.session.get(Region, run.region_id)

        workbook = Workbook()
        _summary_sheet(workbook.active, run, region, results, scores)
        taken = {SUMMARY_TITLE.casefold(), "history"}
        for result, code, name in results:
            sheet = workbook.create_sheet(sheet_title(name or code, taken))
            _institution_sheet(sheet, run, result, code, name, scores[result.id])

        audit.record(actor, "assessment_run.export", "assessment_run", run.id,
                     {"year": run.year, "version": run.run_version, "format": "xlsx",
                      "institutions": len(results)})
    buffer = BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def sheet_title(name: str, taken: set[str]) -> str:
    """`name` made a valid, unused sheet name (Excel compares them ignoring case); adds it to `taken`."""
    base = without_control_characters(name).translate(SHEET_NAME_FORBIDDEN).strip().strip("'") or "机构"
    title, n = base[:SHEET_NAME_MAX], 2
    while title.casefold() in taken:
        suffix = f"({n})"
        title, n = base[:SHEET_NAME_MAX - len(suffix)] + suffix, n + 1
    taken.add(title.casefold())
    return title


def _summary_sheet(sheet: Worksheet, run: AssessmentRun, region: Region, results, scores) -> None:
    indicators = run.scheme_snapshot.get("indicators", [])
    present = {i["group"] for i in indicators}
    groups = [g for g in GROUP_NAMES if g in present]
    group_of = {i["code"]: i["group"] for i in indicators}
    header = [*SUMMARY_HEADER, *(GROUP_NAMES[g] for g in groups), "总分", "等级", "告知时间"]

    sheet.title = SUMMARY_TITLE
    _title(sheet, f"{region.name}{run.year}年度家庭医生签约服务考核结果", len(header))
    # The run's particulars, two label/value pairs a row, so the frozen block stays short.
    particulars = [("统筹地区", region.name), ("考核年度", run.year),
                   ("方案名称", run.scheme_snapshot.get("name", "")), ("版本", run.run_version),
                   ("发布时间", _local(run.published_at)), ("状态", STATUS_NAMES[run.status]),
                   ("反馈截止日", run.feedback_deadline), ("申诉截止日", run.appeal_deadline)]
    for index, (label, value) in enumerate(particulars):
        row, column = 2 + index // 2, 1 + 2 * (index % 2)
        _put(sheet.cell(row, column), label).font = BOLD
        cell = _put(sheet.cell(row, column + 1), value)
        cell.alignment = Alignment(horizontal="left")
        if isinstance(value, date):
            cell.number_format = TIME_FORMAT if isinstance(value, datetime) else DATE_FORMAT
    header_row = 3 + len(particulars) // 2
    _header(sheet, header_row, header)

    for result, code, name in results:
        sums = dict.fromkeys(groups, Decimal(0))
        for indicator_code, score in scores[result.id].items():
            if indicator_code in group_of:
                sums[group_of[indicator_code]] += score.points
        _append(sheet, [code, name, result.signed_heads, *(sums[g] for g in groups), result.total_points,
                        GRADE_NAMES.get(result.grade, result.grade), _local(result.informed_at)])
        row = sheet.max_row
        for column in range(4, 5 + len(groups)):
            sheet.cell(row, column).number_format = POINTS_FORMAT
        sheet.cell(row, len(header)).number_format = TIME_FORMAT
    _fit_columns(sheet)


def _institution_sheet(sheet: Worksheet, run: AssessmentRun, result: InstitutionResult, code: str, name: str,
                       scores: dict[str, IndicatorScore]) -> None:
    _title(sheet, f"{name}（{code}）{run.year}年度考核得分", len(INSTITUTION_HEADER))
    _header(sheet, 2, INSTITUTION_HEADER)
    full_marks = Decimal(0)
    for indicator in run.scheme_snapshot.get("indicators", []):
        points = Decimal(indicator["points"])
        full_marks += points
        score = scores.get(indicator["code"])  # every indicator is scored; a gap stays visibly blank
        _append(sheet, [GROUP_NAMES.get(indicator["group"], indicator["group"]), indicator["code"],
                        indicator["name"], points, METHOD_NAMES.get(indicator["method"], indicator["method"]),
                        *((score.numerator, score.denominator, score.value, score.points, score.note)
                          if score else (None,) * 5)])
        row = sheet.max_row
        sheet.cell(row, 4).number_format = POINTS_FORMAT
        sheet.cell(row, 8).number_format = VALUE_FORMAT
        sheet.cell(row, 9).number_format = POINTS_FORMAT
    _append(sheet, ["合计", None, None, full_marks, None, None, None, None, result.total_points,
                    f"等级：{GRADE_NAMES.get(result.grade, result.grade)}"])
    row = sheet.max_row
    for column in range(1, len(INSTITUTION_HEADER) + 1):
        sheet.cell(row, column).font = BOLD
    sheet.cell(row, 4).number_format = POINTS_FORMAT
    sheet.cell(row, 9).number_format = POINTS_FORMAT
    _fit_columns(sheet)


def _local(moment: datetime | None) -> datetime | None:
    """Shown in China's time, to the second; Excel cells cannot hold a time zone."""
    if moment is None:
        return None
    return moment.astimezone(SHANGHAI).replace(tzinfo=None, microsecond=0)


def _put(cell: Cell, value) -> Cell:
    """Write `value` to `cell`: text loses the control characters a workbook cannot hold (or should
    not show), and text Excel would read as a formula or an error value ("=…", "#N/A") is marked
    as text with the leading-apostrophe style, so it is shown and never evaluated."""
    if not isinstance(value, str):
        cell.value = value
        return cell
    cell.value = without_control_characters(value)
    if cell.value.startswith(FORMULA_STARTS) or cell.data_type != "s":
        cell.data_type = "s"
        cell.quotePrefix = True
    return cell


def _append(sheet: Worksheet, values) -> None:
    sheet.append([_put(Cell(sheet), value) for value in values])


def _title(sheet: Worksheet, text: str, width: int) -> None:
    _put(sheet.cell(1, 1), text).font = TITLE_FONT
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)


def _header(sheet: Worksheet, row: int, labels) -> None:
    for column, label in enumerate(labels, start=1):
        cell = _put(sheet.cell(row, column), label)
        cell.font = BOLD
        cell.alignment = Alignment(horizontal="center", vertical="center")
    sheet.freeze_panes = f"A{row + 1}"  # a string: touching the cell would make append() skip a row


def _fit_columns(sheet: Worksheet) -> None:
    """Widths from the longest text below the title; a Chinese character takes two columns' room."""
    widths: dict[int, int] = defaultdict(int)
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            if cell.value is None:
                continue
            text = cell.value.strftime("%Y-%m-%d %H:%M") if isinstance(cell.value, date) else str(cell.value)
            widths[cell.column] = max(widths[cell.column], sum(2 if ord(c) > 0x2E7F else 1 for c in text))
    for column, width in widths.items():
        sheet.column_dimensions[get_column_letter(column)].width = min(max(width + 2, 8), 60)
