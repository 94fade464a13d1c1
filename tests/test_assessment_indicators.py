"""Every automatic indicator, its points, the total and the grade of a hand-computed region (see assessment_region).

Also: totals exactly on and just below each grade boundary, a denominator below the
minimum, a patient who moved between institutions, and a drill-down that adds up.
"""
from __future__ import annotations

from decimal import Decimal

import pytest

from server.assessment import results, runs, schemes
from server.assessment.models import IndicatorEntry, IndicatorScore, InstitutionResult
from server.common.paging import PageRequest
from server.contracts.models import Contract
from server.extensions import db
from server.identity.services import _staff_actor
from tests import assessment_region
from tests.assessment_region import AUTO_TOTAL, EXPECTED, YEAR


@pytest.fixture
def region25(session):
    return assessment_region.build()


def _actor(region25, who="bureau"):
    return _staff_actor(db.session.get(type(region25.accounts[who]), region25.accounts[who].id))


def _scores(run_id: int, region25) -> dict[str, dict[str, IndicatorScore]]:
    names = assessment_region.institution_ids(region25)
    found: dict[str, dict[str, IndicatorScore]] = {}
    for result in db.session.query(InstitutionResult).filter_by(run_id=run_id):
        found[names[result.institution_id]] = {
            s.indicator_code: s for s in db.session.query(IndicatorScore).filter_by(result_id=result.id)}
    return found


def _result(run_id: int, region25, key: str) -> InstitutionResult:
    return db.session.query(InstitutionResult).filter_by(run_id=run_id,
                                                         institution_id=region25.institutions[key]).one()


def _number(text):
    return None if text is None else Decimal(text)


@pytest.mark.parametrize("institution", ["X", "Y"])
def test_every_automatic_indicator_matches_the_hand_computation(region25, institution):
    run = runs.start_run(_actor(region25), year=YEAR, scheme_id=region25.scheme_id)
    scores = _scores(run.id, region25)[institution]
    for code, (numerator, denominator, value, points) in EXPECTED[institution].items():
        got = scores[code]
        assert (got.numerator, got.denominator, got.points) == (_number(numerator), _number(denominator),
                                                                 Decimal(points)), code
        if value is not None:
            assert got.value == Decimal(value), code
    assert scores["M1"].points == 0 and scores["M1"].note == "未录入人工评分"
    result = _result(run.id, region25, institution)
    assert result.total_points == AUTO_TOTAL[institution]
    assert result.grade == "fail" and result.signed_heads == 2


def test_below_the_minimum_denominator_the_region_level_is_scored(region25):
    run = runs.start_run(_actor(region25), year=YEAR, scheme_id=region25.scheme_id)
    satisfaction = _scores(run.id, region25)["Y"]["O3"]
    assert satisfaction.value == Decimal("0.81875")   # (2.475 + 0.8) / 4 answers in the region
    assert satisfaction.points == Decimal("1.275")    # (0.81875 − 0.5) / 0.5 × 2
    assert "分母不足2" in satisfaction.note and "全地区" in satisfaction.note


@pytest.mark.parametrize("total, grade", [
    ("85", "excellent"), ("84.99", "good"), ("70", "good"), ("69.99", "pass"), ("60", "pass"), ("59.99", "fail"),
])
def test_totals_on_and_just_below_each_grade_boundary(region25, total, grade):
    """The manual M1 brings X's total exactly onto the target; the grade follows the region's bands exactly."""
    manual = Decimal(total) - AUTO_TOTAL["X"]
    schemes.enter_manual_score(_actor(region25), region25.scheme_id, {
        "indicator_code": "M1", "institution_id": region25.institutions["X"], "points": manual, "evidence": "现场核查记录"})
    run = runs.start_run(_actor(region25), year=YEAR, scheme_id=region25.scheme_id)
    result = _result(run.id, region25, "X")
    assert result.total_points == Decimal(total)
    assert result.grade == grade


def test_a_moved_patient_counts_at_the_year_end_institution_by_default(region25):
    run = runs.start_run(_actor(region25), year=YEAR, scheme_id=region25.scheme_id)
    p3 = region25.residents["P3"]
    where = {i: set(db.session.scalars(db.select(IndicatorEntry.institution_id).where(
        IndicatorEntry.run_id == run.id, IndicatorEntry.indicator_code == code,
        IndicatorEntry.resident_id == p3))) for i, code in (("services", "Q2"), ("control", "E1"))}
    assert where == {"services": {region25.institutions["Y"]}, "control": {region25.institutions["Y"]}}
    entry = db.session.scalars(db.select(IndicatorEntry).where(
        IndicatorEntry.run_id == run.id, IndicatorEntry.indicator_code == "Q2", IndicatorEntry.resident_id == p3)).one()
    assert entry.numerator == 2 and entry.contract_id == region25.contracts["P3@Y"]  # X's February visit too


def test_with_each_holder_every_institution_counts_its_part_of_a_moved_patient(region25):
    actor = _actor(region25)
    scheme = schemes.get_scheme(actor, region25.scheme_id)
    body = {"year": YEAR, "name": scheme.name, "settings": {"moved_patients": "each_holder"},
            "indicators": [{"code": i.code, "group": i.group, "name": i.name, "points": i.points,
                            "method": i.method, "rule": i.rule} for i in scheme.indicators]}
    schemes.replace_indicators(actor, region25.scheme_id, body)
    run = runs.start_run(actor, year=YEAR, scheme_id=region25.scheme_id)
    scores = _scores(run.id, region25)
    got = {key: {code: (scores[key][code].numerator, scores[key][code].denominator) for code in ("Q1", "Q2", "E1")}
           for key in ("X", "Y")}
    assert got == {
        # X: P1, P2 and P3 until July, with P3's February visit (160/100, not controlled).
        "X": {"Q1": (2, 3), "Q2": (6, 3), "E1": (1, 3)},
        # Y: P3 from July with the October visit (128/80) and P4.
        "Y": {"Q1": (1, 2), "Q2": (2, 2), "E1": (1, 1)},
    }
    assert _result(run.id, region25, "X").signed_heads == 3


def test_the_drill_down_of_every_automatic_indicator_adds_up(region25):
    actor = _actor(region25)
    run = runs.start_run(actor, year=YEAR, scheme_id=region25.scheme_id)
    scores = _scores(run.id, region25)
    for key, institution_id in region25.institutions.items():
        for code in EXPECTED[key]:
            listed, page = [], 1
            while True:  # two per page, so every list is paged through
                explained = results.explain(actor, run.id, institution_id, code, PageRequest(page, 2))
                listed += explained.items
                if page * 2 >= explained.total:
                    break
                page += 1
            score = scores[key][code]
            assert sum((e.numerator for e in listed), Decimal(0)) == score.numerator, (key, code)
            assert sum((e.denominator for e in listed), Decimal(0)) == score.denominator, (key, code)
            assert (explained.numerator, explained.denominator) == (score.numerator, score.denominator)


def test_the_drill_down_names_the_people_and_records_counted(region25):
    actor = _actor(region25)
    run = runs.start_run(actor, year=YEAR, scheme_id=region25.scheme_id)
    x = region25.institutions["X"]
    services = results.explain(actor, run.id, x, "Q2", PageRequest(1, 20))
    p1 = next(e for e in services.items if e.resident_id == region25.residents["P1"])
    assert p1.resident_name == "居民P1" and p1.numerator == 3 and len(p1.evidence) == 3
    assert p1.contract_no == db.session.get(Contract, region25.contracts["P1"]).contract_no
    controlled = results.explain(actor, run.id, x, "E1", PageRequest(1, 20), counted_in="numerator")
    assert [e.resident_id for e in controlled.items] == [region25.residents["P1"]]
    assert controlled.numerator == 1 and controlled.total == 1
    cost = results.explain(actor, run.id, x, "C1", PageRequest(1, 20), counted_in="numerator")
    assert cost.numerator == Decimal("5000") and cost.items[0].numerator == Decimal("5000")  # yuan, as the score
    assert cost.items[0].evidence == [f"SETL{region25.residents['P1']}20250502i"]
