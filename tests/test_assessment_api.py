"""The assessment over the admin API, the command line and the scheduler: runs, publication, results,
drill-down, feedback, appeals, manual scores, the export and entered holiday arrangements."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from server.assessment import runs
from server.assessment.deadlines import package_knows
from server.assessment.models import AssessmentRun, IndicatorScore, InstitutionResult, RunStatus
from server.audit.models import AuditEvent
from server.common.timeutil import local_today
from server.extensions import db
from server.identity.roles import SYSTEM_ACTOR
from server.regions import services as regions
from server.identity.services import _staff_actor
from tests import assessment_region
from tests.assessment_region import YEAR
from tests.helpers import assert_error_shape

A = "/api/admin/v1/assessment"


@pytest.fixture
def region25(app, session):
    world = assessment_region.build()
    tokens = app.extensions["jiayi.tokens"]
    world.headers = {who: {"Authorization": f"Bearer {tokens.issue('staff', account.id, account.token_version)}"}
                     for who, account in world.accounts.items()}
    return world


def _calendar_through(year: int, actor) -> None:
    """Publishing today counts working days into next year: enter a plain arrangement where the package has none."""
    for unknown in range(local_today().year, year + 1):
        if not package_knows(unknown):
            regions.enter_holiday_arrangement(actor, unknown, document_no="测试安排", days=[
                {"day": date(unknown, 1, 1), "is_working_day": False, "name": "元旦"}])


def _published_run(client, region25) -> dict:
    started = client.post(f"{A}/runs", json={"year": YEAR}, headers=region25.headers["bureau"])
    assert started.status_code == 201, started.get_json()
    _calendar_through(local_today().year + 1, _staff_actor(region25.accounts["bureau"]))
    published = client.post(f"{A}/runs/{started.get_json()['id']}/publish", headers=region25.headers["bureau"])
    assert published.status_code == 200, published.get_json()
    return published.get_json()


@pytest.mark.calendar_edges
def test_a_run_is_started_published_and_seen_by_institutions_only_once_published(client, region25):
    bureau, manager = region25.headers["bureau"], region25.headers["manager_x"]
    started = client.post(f"{A}/runs", json={"year": YEAR}, headers=bureau)
    assert started.status_code == 201, started.get_json()
    run = started.get_json()
    assert run["status"] == "draft" and run["run_version"] == 1 and run["scheme_id"] == region25.scheme_id
    assert client.get(f"{A}/runs", headers=manager).get_json()["total"] == 0
    assert_error_shape(client.get(f"{A}/runs/{run['id']}/results", headers=manager), 404)
    assert client.get(f"{A}/runs/{run['id']}/results", headers=bureau).get_json()["total"] == 2
    missing = client.post(f"{A}/runs", json={"year": 2024}, headers=bureau)
    assert assert_error_shape(missing, 422)["code"] == "SCHEME_MISSING"

    _calendar_through(local_today().year + 1, _staff_actor(region25.accounts["bureau"]))
    published = client.post(f"{A}/runs/{run['id']}/publish", headers=bureau).get_json()
    assert published["status"] == "published"
    assert date.fromisoformat(published["feedback_deadline"]) > local_today()
    assert date.fromisoformat(published["appeal_deadline"]) > date.fromisoformat(published["feedback_deadline"])
    again = client.post(f"{A}/runs/{run['id']}/publish", headers=bureau)
    assert assert_error_shape(again, 422)["code"] == "RUN_NOT_DRAFT"

    listed = client.get(f"{A}/runs/{run['id']}/results", headers=manager).get_json()
    assert [r["institution_id"] for r in listed["items"]] == [region25.institutions["X"]]
    detail = client.get(f"{A}/runs/{run['id']}/results/{region25.institutions['X']}", headers=manager).get_json()
    assert detail["grade"] == "fail" and detail["grade_name"] == "不合格" and detail["total_points"] == "17.925"
    assert [i["code"] for i in detail["indicators"]] == [code for code, *_ in assessment_region.INDICATORS]
    cost = next(i for i in detail["indicators"] if i["code"] == "C1")
    assert (cost["value"], cost["group_name"], cost["points"]) == ("2500.000000", "医疗费用", "0.750")
    assert_error_shape(client.get(f"{A}/runs/{run['id']}/results/{region25.institutions['Y']}", headers=manager), 404)


def test_each_institution_is_informed_once_and_the_bureau_sees_who_is_not(client, region25):
    run = _published_run(client, region25)
    url = f"{A}/runs/{run['id']}/results"
    x, y = region25.institutions["X"], region25.institutions["Y"]
    assert client.get(f"{url}?informed=false", headers=region25.headers["bureau"]).get_json()["total"] == 2
    first = client.post(f"{url}/{x}/acknowledge", headers=region25.headers["manager_x"]).get_json()
    assert first["informed_how"] == "机构签收" and first["informed_at"] and first["feedback_overdue"] is False
    later = client.post(f"{url}/{x}/acknowledge", headers=region25.headers["manager_x"]).get_json()
    assert later["informed_at"] == first["informed_at"]  # the first acknowledgement stands
    assert_error_shape(client.post(f"{url}/{y}/acknowledge", headers=region25.headers["manager_x"]), 404)
    assert_error_shape(client.post(f"{url}/{x}/informed", json={"how": "书面通知"}, headers=region25.headers["manager_x"]),
                       403)
    recorded = client.post(f"{url}/{y}/informed", json={"how": "书面通知送达"}, headers=region25.headers["bureau"])
    assert recorded.get_json()["informed_how"] == "书面通知送达"
    assert client.get(f"{url}?informed=false", headers=region25.headers["bureau"]).get_json()["total"] == 0
    assert db.session.query(AuditEvent).filter_by(action="assessment_result.informed").count() == 2


def test_an_uninformed_institution_past_the_feedback_deadline_is_overdue(client, region25):
    run = _published_run(client, region25)
    db.session.get(AssessmentRun, run["id"]).feedback_deadline = local_today() - timedelta(days=1)
    db.session.commit()
    items = client.get(f"{A}/runs/{run['id']}/results", headers=region25.headers["bureau"]).get_json()["items"]
    assert [r["feedback_overdue"] for r in items] == [True, True]


def test_the_drill_down_over_the_api_is_paged_masked_scoped_and_audited(client, region25):
    run = _published_run(client, region25)
    x, y = region25.institutions["X"], region25.institutions["Y"]
    url = f"{A}/runs/{run['id']}/results/{x}/indicators"
    body = client.get(f"{url}/Q2/entries?per_page=1", headers=region25.headers["manager_x"]).get_json()
    assert (body["total"], len(body["items"]), body["numerator"], body["denominator"]) == (2, 1, "5.000000",
                                                                                          "2.000000")
    assert "*" in body["items"][0]["id_number"] and body["items"][0]["resident_name"].startswith("居民")
    assert body["description"] and body["evidence"] == "履约记录编号"
    only = client.get(f"{url}/E1/entries?counted_in=numerator", headers=region25.headers["bureau"]).get_json()
    assert only["total"] == 1 and only["items"][0]["resident_id"] == region25.residents["P1"]
    manual = client.get(f"{url}/M1/entries", headers=region25.headers["bureau"])
    assert assert_error_shape(manual, 422)["code"] == "INDICATOR_NOT_AUTOMATIC"
    assert assert_error_shape(client.get(f"{url}/ZZ/entries", headers=region25.headers["bureau"]), 404)["code"] \
        == "INDICATOR_NOT_FOUND"
    other = f"{A}/runs/{run['id']}/results/{y}/indicators/Q2/entries"
    assert_error_shape(client.get(other, headers=region25.headers["manager_x"]), 404)
    assert_error_shape(client.get(f"{url}/Q2/entries?counted_in=all", headers=region25.headers["bureau"]), 422)
    answered = db.session.query(AuditEvent).filter_by(action="assessment_result.explain").count()
    assert answered == 2  # every read that listed people


def test_an_institution_appeals_within_the_window_and_the_bureau_decides_once(client, region25):
    run = _published_run(client, region25)
    url = f"{A}/runs/{run['id']}/appeals"
    x = region25.institutions["X"]
    body = {"institution_id": x, "indicator_code": "E1", "reason": "P2 的 8 月血压复测为 132/80，未导入"}
    filed = client.post(url, json=body, headers=region25.headers["manager_x"])
    assert filed.status_code == 201, filed.get_json()
    appeal = filed.get_json()
    assert (appeal["status"], appeal["run_id"], appeal["institution_id"]) == ("open", run["id"], x)
    assert assert_error_shape(client.post(url, json=body, headers=region25.headers["manager_x"]), 409)["code"] \
        == "APPEAL_PENDING"
    foreign = {**body, "institution_id": region25.institutions["Y"]}
    assert_error_shape(client.post(url, json=foreign, headers=region25.headers["manager_x"]), 404)
    assert_error_shape(client.post(url, json=body, headers=region25.headers["bureau"]), 403)
    decision = f"{A}/appeals/{appeal['id']}/decision"
    decided = client.post(decision, json={"upheld": True, "answer": "经核实，重新计算"}, headers=region25.headers["bureau"])
    assert decided.get_json()["status"] == "upheld" and decided.get_json()["decided_at"]
    assert assert_error_shape(client.post(decision, json={"upheld": False, "answer": "再次处理"},
                                          headers=region25.headers["bureau"]), 422)["code"] == "APPEAL_DECIDED"
    listed = client.get(f"{url}?status=upheld", headers=region25.headers["manager_x"]).get_json()
    assert [a["id"] for a in listed["items"]] == [appeal["id"]]
    db.session.get(AssessmentRun, run["id"]).appeal_deadline = local_today() - timedelta(days=1)
    db.session.commit()
    late = client.post(url, json={**body, "indicator_code": None}, headers=region25.headers["manager_x"])
    assert assert_error_shape(late, 422)["code"] == "APPEAL_WINDOW_CLOSED"


def test_manual_scores_are_entered_with_evidence_within_the_indicator_points(client, region25):
    url = f"{A}/schemes/{region25.scheme_id}/manual-scores"
    body = {"indicator_code": "M1", "institution_id": region25.institutions["X"], "points": "60.5",
            "evidence": "现场核查：制度文件齐全"}
    draft = client.post(f"{A}/runs", json={"year": YEAR}, headers=region25.headers["bureau"]).get_json()
    assigned = client.post(f"{A}/runs/{draft['id']}/assessors", headers=region25.headers["bureau"], json={
        "account_id": region25.accounts["assessor"].id, "institution_id": region25.institutions["X"]})
    assert assigned.status_code == 201, assigned.get_json()
    entered = client.put(url, json=body, headers=region25.headers["assessor"])
    assert entered.status_code == 200, entered.get_json()
    assert entered.get_json()["points"] == "60.500" and entered.get_json()["entered_by_role"] == "assessor"
    replaced = client.put(url, json={**body, "points": "61"}, headers=region25.headers["bureau"]).get_json()
    assert replaced["id"] == entered.get_json()["id"] and replaced["points"] == "61.000"
    too_many = client.put(url, json={**body, "points": "70.001"}, headers=region25.headers["bureau"])
    assert assert_error_shape(too_many, 422)["code"] == "POINTS_ABOVE_INDICATOR"
    auto = client.put(url, json={**body, "indicator_code": "Q1"}, headers=region25.headers["bureau"])
    assert assert_error_shape(auto, 422)["code"] == "INDICATOR_NOT_MANUAL"
    assert_error_shape(client.put(url, json={**body, "points": "-1"}, headers=region25.headers["bureau"]), 422)
    assert_error_shape(client.put(url, json=body, headers=region25.headers["manager_x"]), 403)
    listed = client.get(f"{url}?indicator_code=M1", headers=region25.headers["assessor"]).get_json()
    assert listed["total"] == 1 and listed["items"][0]["evidence"] == "现场核查：制度文件齐全"
    run = runs.start_run(_staff_actor(region25.accounts["bureau"]), year=YEAR)
    result = db.session.query(InstitutionResult).filter_by(run_id=run.id,
                                                           institution_id=region25.institutions["X"]).one()
    assert result.total_points == Decimal("78.925") and result.grade == "good"


def test_the_export_is_an_excel_workbook(client, region25):
    run = _published_run(client, region25)
    response = client.get(f"{A}/runs/{run['id']}/export.xlsx", headers=region25.headers["manager_x"])
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert response.data[:2] == b"PK"  # a zip container, as every .xlsx is


def test_a_published_run_never_moves_when_data_scores_and_schemes_change(client, region25):
    run = _published_run(client, region25)
    bureau = _staff_actor(region25.accounts["bureau"])

    def frozen(run_id):
        scores = sorted((r.institution_id, s.indicator_code, s.numerator, s.denominator, s.points)
                        for r in db.session.query(InstitutionResult).filter_by(run_id=run_id)
                        for s in db.session.query(IndicatorScore).filter_by(result_id=r.id))
        totals = sorted((r.institution_id, r.total_points, r.grade)
                        for r in db.session.query(InstitutionResult).filter_by(run_id=run_id))
        return scores, totals, db.session.get(AssessmentRun, run_id).scheme_snapshot

    before = frozen(run["id"])
    # The data: P2's reading becomes controlled; a manual score arrives; the scheme is copied and reweighted.
    from server.servicerecords.models import Reading
    reading = db.session.query(Reading).filter_by(resident_id=region25.residents["P2"], systolic_mmhg=140).one()
    reading.systolic_mmhg = 128
    client.put(f"{A}/schemes/{region25.scheme_id}/manual-scores", headers=region25.headers["bureau"], json={
        "indicator_code": "M1", "institution_id": region25.institutions["X"], "points": "50", "evidence": "补录"})
    locked = client.put(f"{A}/schemes/{region25.scheme_id}", headers=region25.headers["bureau"], json={
        "year": YEAR, "name": "改", "indicators": []})
    assert assert_error_shape(locked, 422)
    copy = client.post(f"{A}/schemes", json={"year": YEAR, "name": "2025年度方案（调整）",
                                              "copy_from_id": region25.scheme_id},
                       headers=region25.headers["bureau"]).get_json()
    indicators = [{**i, "points": "4" if i["code"] == "E1" else ("2" if i["code"] == "Q1" else i["points"])}
                  for i in copy["indicators"]]
    edited = client.put(f"{A}/schemes/{copy['id']}", json={"year": YEAR, "name": copy["name"],
                                                           "indicators": indicators},
                        headers=region25.headers["bureau"])
    assert edited.status_code == 200, edited.get_json()
    rerun = runs.start_run(bureau, year=YEAR, scheme_id=copy["id"])

    assert frozen(run["id"]) == before
    assert db.session.get(AssessmentRun, run["id"]).status is RunStatus.PUBLISHED
    assert rerun.run_version == 2 and frozen(rerun.id) != before
    explained = client.get(f"{A}/runs/{run['id']}/results/{region25.institutions['X']}/indicators/E1/entries",
                           headers=region25.headers["bureau"]).get_json()
    assert (explained["numerator"], explained["denominator"]) == ("1.000000", "2.000000")  # as published


def test_holiday_arrangements_are_entered_only_for_years_the_package_does_not_know(client, region25):
    url = "/api/admin/v1/holiday-arrangements"
    body = {"document_no": "国办发明电〔2098〕1号", "days": [
        {"day": "2099-01-01", "is_working_day": False, "name": "元旦"},
        {"day": "2099-01-04", "is_working_day": True, "name": "调休上班"}]}
    entered = client.put(f"{url}/2099", json=body, headers=region25.headers["bureau"])
    assert entered.status_code == 200, entered.get_json()
    assert [d["day"] for d in client.get(f"{url}/2099", headers=region25.headers["manager_x"]).get_json()["days"]] \
        == ["2099-01-01", "2099-01-04"]
    known = client.put(f"{url}/2026", json={**body, "days": [{"day": "2026-01-01", "is_working_day": False}]},
                       headers=region25.headers["bureau"])
    assert assert_error_shape(known, 422)["code"] == "HOLIDAY_YEAR_KNOWN"
    outside = client.put(f"{url}/2099", json={**body, "days": [{"day": "2098-12-31", "is_working_day": False}]},
                         headers=region25.headers["bureau"])
    assert assert_error_shape(outside, 422)["code"] == "HOLIDAY_DAY_OUTSIDE_YEAR"
    assert_error_shape(client.put(f"{url}/2099", json=body, headers=region25.headers["assessor"]), 403)


def test_jiayi_assess_computes_a_draft_run_from_the_command_line(app, region25):
    result = app.test_cli_runner().invoke(args=["assess", "--region", "350681", "--year", str(YEAR)])
    assert result.exit_code == 0, result.output
    assert "第1版" in result.output and "17.925分" in result.output and "不合格" in result.output
    unknown = app.test_cli_runner().invoke(args=["assess", "--region", "999999", "--year", str(YEAR)])
    assert unknown.exit_code != 0 and "REGION_NOT_FOUND" in unknown.output


def test_the_scheduled_draft_run_starts_once_on_or_after_the_rules_date(region25):
    started, refused = runs.start_due_runs(date(YEAR + 1, 1, 14), SYSTEM_ACTOR)
    assert (started, refused) == ([], [])
    started, refused = runs.start_due_runs(date(YEAR + 1, 1, 16), SYSTEM_ACTOR)  # the scheduler was down on the 15th
    assert [(r.region_id, r.year, r.status) for r in started] == [(region25.region_id, YEAR, RunStatus.DRAFT)]
    assert refused == []
    assert runs.start_due_runs(date(YEAR + 1, 1, 17), SYSTEM_ACTOR) == ([], [])


def test_a_region_without_a_scheme_for_the_year_is_reported_not_run(region25):
    started, refused = runs.start_due_runs(date(YEAR + 2, 1, 15), SYSTEM_ACTOR)
    assert started == [] and [(region, exc.code) for region, exc in refused] == [(region25.region_id,
                                                                                   "SCHEME_MISSING")]
