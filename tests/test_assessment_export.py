"""The Excel export of a run: what each role gets, and that every number agrees with the stored results."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from io import BytesIO

import openpyxl
import pytest

from server.assessment import assignments, runs, schemes
from server.assessment.export import run_workbook
from server.assessment.models import IndicatorScore, InstitutionResult
from server.audit.models import AuditEvent
from server.common.timeutil import SHANGHAI, local_today
from server.errors import NotFound
from server.extensions import db
from server.identity.models import UserAccount
from server.identity.services import _staff_actor
from server.institutions.models import Institution
from server.regions.rules import GRADE_NAMES

GROUPS = ("制度建设", "服务质量", "服务效果", "医疗费用", "基金监管", "其他")


def _actor(world, who: str):
    return _staff_actor(db.session.get(UserAccount, world.accounts[who].id))


def _run(world, who: str = "bureau", *, published: bool = False):
    actor = _actor(world, who)
    scheme = schemes.create_scheme(actor, year=local_today().year, name="测试方案", copy_from_id=None)
    run = runs.start_run(actor, year=local_today().year, scheme_id=scheme.id)
    return runs.publish(actor, run.id, published_on=date(2026, 9, 30)) if published else run


def _open(data: bytes) -> openpyxl.Workbook:
    return openpyxl.load_workbook(BytesIO(data))


def _table(sheet, first_label: str) -> list[dict]:
    """The rows below the header row (the one starting with `first_label`), keyed by header."""
    rows = list(sheet.iter_rows(values_only=True))
    start = next(i for i, row in enumerate(rows) if row[0] == first_label)
    return [dict(zip(rows[start], row)) for row in rows[start + 1:]]


def _particulars(sheet) -> dict:
    """The title block's label/value pairs, which stand two a row above the table."""
    pairs = {}
    for row in sheet.iter_rows(min_row=2, max_row=5, values_only=True):
        pairs.update({row[i]: row[i + 1] for i in (0, 2)})
    return pairs


def _dec(value) -> Decimal:
    return Decimal(str(value))


def _results(run_id: int) -> dict[int, InstitutionResult]:
    return {r.institution_id: r for r in db.session.query(InstitutionResult).filter_by(run_id=run_id)}


def test_the_summary_has_a_row_per_institution_matching_the_stored_results(app, world):
    run = _run(world)
    book = _open(run_workbook(_actor(world, "bureau"), run.id))
    i1, i2 = world.institutions["I1"], world.institutions["I2"]
    assert book.sheetnames == ["全地区汇总", i1.name, i2.name]  # I1's code sorts first

    summary = book["全地区汇总"]
    assert summary["A1"].value == f"漳州市{run.year}年度家庭医生签约服务考核结果"
    particulars = _particulars(summary)
    assert particulars["统筹地区"] == "漳州市" and particulars["考核年度"] == run.year
    assert particulars["版本"] == run.run_version and particulars["状态"] == "草稿"
    assert particulars["方案名称"] == "测试方案" and particulars["发布时间"] is None
    assert summary.freeze_panes == "A8"

    rows = _table(summary, "机构编码")
    results = _results(run.id)
    assert [(r["机构编码"], r["机构名称"]) for r in rows] == [(i1.code, i1.name), (i2.code, i2.name)]
    for row, institution in zip(rows, (i1, i2)):
        result = results[institution.id]
        assert _dec(row["总分"]) == result.total_points
        assert row["等级"] == GRADE_NAMES[result.grade]
        assert row["签约人数"] == result.signed_heads
        assert sum(_dec(row[g]) for g in GROUPS) == result.total_points
        assert row["告知时间"] is None


def test_each_institution_sheet_lists_the_snapshot_indicators_and_the_total(app, world):
    run = _run(world)
    book = _open(run_workbook(_actor(world, "bureau"), run.id))
    snapshot = run.scheme_snapshot["indicators"]
    for key, result in ((k, _results(run.id)[world.institutions[k].id]) for k in ("I1", "I2")):
        sheet = book[world.institutions[key].name]
        scores = {s.indicator_code: s for s in db.session.query(IndicatorScore).filter_by(result_id=result.id)}
        *rows, total = _table(sheet, "类别")
        assert [r["指标编码"] for r in rows] == [i["code"] for i in snapshot]
        for row, indicator in zip(rows, snapshot):
            score = scores[indicator["code"]]
            assert row["指标名称"] == indicator["name"] and _dec(row["分值"]) == Decimal(indicator["points"])
            assert row["计分方式"] == {"auto": "自动", "manual": "人工"}[indicator["method"]]
            assert _dec(row["得分"]) == score.points
            assert row["说明"] == (score.note or None)
            if score.value is not None:
                assert _dec(row["指标值"]) == score.value
        assert total["类别"] == "合计" and _dec(total["分值"]) == Decimal(100)
        assert _dec(total["得分"]) == result.total_points
        assert total["说明"] == f"等级：{GRADE_NAMES[result.grade]}"
        assert sheet["I3"].number_format == "0.000" and sheet["H3"].number_format == "0.0000"


def test_a_published_run_shows_its_dates_in_china_time(app, world):
    run = _run(world)
    published = runs.publish(_actor(world, "bureau"), run.id, published_on=date(2026, 9, 30))
    informed = datetime(2026, 9, 30, 17, 30, tzinfo=timezone.utc)  # 01:30 the next day in China
    db.session.get(InstitutionResult, _results(run.id)[world.institutions["I1"].id].id).informed_at = informed
    db.session.commit()
    summary = _open(run_workbook(_actor(world, "bureau"), run.id))["全地区汇总"]
    particulars = _particulars(summary)
    assert particulars["状态"] == "已发布"
    shown = particulars["发布时间"]
    assert abs(shown - published.published_at.astimezone(SHANGHAI).replace(tzinfo=None)) < timedelta(seconds=1)
    assert particulars["反馈截止日"].date() == date(2026, 10, 27)
    assert particulars["申诉截止日"].date() == date(2026, 11, 10)
    rows = _table(summary, "机构编码")
    assert rows[0]["告知时间"] == datetime(2026, 10, 1, 1, 30) and rows[1]["告知时间"] is None


def test_an_institution_manager_gets_only_their_own_institution_once_published(app, world):
    run = _run(world)
    with pytest.raises(NotFound):  # a draft is the bureau's working copy
        run_workbook(_actor(world, "manager"), run.id)
    run = runs.publish(_actor(world, "bureau"), run.id, published_on=date(2026, 9, 30))
    book = _open(run_workbook(_actor(world, "manager"), run.id))
    i1 = world.institutions["I1"]
    assert book.sheetnames == ["全地区汇总", i1.name]
    assert [r["机构编码"] for r in _table(book["全地区汇总"], "机构编码")] == [i1.code]


def test_an_assessor_gets_only_the_institutions_assigned_to_them(app, world):
    run = _run(world)
    with pytest.raises(NotFound):
        run_workbook(_actor(world, "assessor"), run.id)
    assignments.assign(_actor(world, "bureau"), run.id, account_id=world.accounts["assessor"].id,
                       institution_id=world.institutions["I2"].id)
    book = _open(run_workbook(_actor(world, "assessor"), run.id))
    i2 = world.institutions["I2"]
    assert book.sheetnames == ["全地区汇总", i2.name]
    assert [r["机构编码"] for r in _table(book["全地区汇总"], "机构编码")] == [i2.code]


def test_a_run_of_another_region_is_not_found(app, world):
    run_b = _run(world, "bureau_b")
    with pytest.raises(NotFound) as error:
        run_workbook(_actor(world, "bureau"), run_b.id)
    assert error.value.code == "NOT_FOUND"


def test_sheet_names_are_valid_and_unique_whatever_the_institution_names(app, world):
    awkward = "石亭镇卫生院[分院]：门诊/住院*一体化?服务中心\\测试用的很长很长的名称"
    for key in ("I1", "I2"):
        db.session.get(Institution, world.institutions[key].id).name = awkward
    db.session.commit()
    run = _run(world)
    names = _open(run_workbook(_actor(world, "bureau"), run.id)).sheetnames[1:]
    assert len(set(names)) == 2 and names[1].endswith("(2)")
    assert all(len(n) <= 31 and not set(n) & set("[]:*?/\\") for n in names)


def test_the_export_is_audited(app, world):
    run = _run(world, published=True)
    run_workbook(_actor(world, "manager"), run.id)
    event = db.session.query(AuditEvent).filter_by(action="assessment_run.export", entity_id=str(run.id)).one()
    assert event.actor_account_id == world.accounts["manager"].id and event.entity_type == "assessment_run"
    assert event.details["institutions"] == 1 and event.details["version"] == run.run_version
