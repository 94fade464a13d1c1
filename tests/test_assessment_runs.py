"""Automatic indicators in SQL, scoring with exact decimals, and a draft run that adds up."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from server.assessment import metrics, runs, schemes
from server.assessment.models import AssessmentScheme, IndicatorScore, InstitutionResult
from server.assessment.scoring import linear_points, score
from server.common.timeutil import local_today
from server.errors import RuleViolation
from server.extensions import db
from server.identity.models import UserAccount
from server.identity.services import _staff_actor
from server.servicerecords.models import Reading
from tests.factories import add


@pytest.mark.no_db
@pytest.mark.parametrize("value, expected", [("0.60", "8.000"), ("0.70", "8.000"), ("0.30", "0.000"),
                                             ("0.45", "4.000"), ("0.10", "0.000")])
def test_higher_is_better_when_the_full_line_is_above_the_zero_line(value, expected):
    assert linear_points(Decimal(8), Decimal(value), Decimal("0.60"), Decimal("0.30")) == Decimal(expected)


@pytest.mark.no_db
@pytest.mark.parametrize("value, expected", [("300", "5.000"), ("900", "2.500"), ("1500", "0.000"), ("100", "5.000")])
def test_lower_is_better_for_costs(value, expected):
    assert linear_points(Decimal(5), Decimal(value), Decimal(300), Decimal(1500)) == Decimal(expected)


@pytest.mark.no_db
def test_below_the_minimum_denominator_the_fallback_applies():
    rule = {"full_at": "0.6", "zero_at": "0.3", "min_denominator": 30}
    assert score({**rule, "fallback": "full"}, Decimal(8), Decimal(1), Decimal(5), None)[1] == Decimal("8.000")
    assert score({**rule, "fallback": "zero"}, Decimal(8), Decimal(1), Decimal(5), None)[1] == Decimal("0.000")
    value, points, note = score({**rule, "fallback": "proportional"}, Decimal(8), Decimal(1), Decimal(5),
                                Decimal("0.45"))
    assert (value, points) == (Decimal("0.45"), Decimal("4.000")) and "全地区" in note


@pytest.mark.calendar_edges
def test_metrics_count_people_at_the_institution_holding_the_contract(world):
    scope = metrics.Scope(world.regions["A"].id, local_today().year)
    per_person = metrics.ratios("services_per_person", scope)
    i1, i2 = world.institutions["I1"].id, world.institutions["I2"].id
    assert (per_person[i1].numerator, per_person[i1].denominator) == (3, 3)  # R1, R2, R5: one visit each
    assert (per_person[i2].numerator, per_person[i2].denominator) == (1, 1)  # R3
    control = metrics.ratios("bp_control_rate", scope)
    assert control[i1].numerator == 0 and control[i1].denominator == 3     # no readings: not controlled
    record = world.records["R1"]
    add(Reading(service_record_id=record.id, resident_id=record.resident_id,
                measured_at=record.served_at + timedelta(days=1), systolic_mmhg=128, diastolic_mmhg=82))
    db.session.commit()
    assert metrics.ratios("bp_control_rate", scope)[i1].numerator == 1


def test_a_draft_run_scores_every_institution_and_totals_its_snapshot(app, world):
    actor = _staff_actor(db.session.get(UserAccount, world.accounts["bureau"].id))
    scheme = schemes.create_scheme(actor, year=local_today().year, name="测试方案", copy_from_id=None)
    run = runs.start_run(actor, year=local_today().year, scheme_id=scheme.id)
    results = db.session.query(InstitutionResult).filter_by(run_id=run.id).all()
    assert {r.institution_id for r in results} == {world.institutions["I1"].id, world.institutions["I2"].id}
    for result in results:
        scores = db.session.query(IndicatorScore).filter_by(result_id=result.id).all()
        assert len(scores) == len(scheme.indicators)
        assert sum(s.points for s in scores) == result.total_points
        assert result.grade in {"excellent", "good", "pass", "fail"}
    assert run.scheme_snapshot["indicators"][0]["code"] == scheme.indicators[0].code
    again = runs.start_run(actor, year=local_today().year, scheme_id=scheme.id)
    assert again.run_version == run.run_version + 1


def _bureau(world):
    return _staff_actor(db.session.get(UserAccount, world.accounts["bureau"].id))


def test_publishing_sets_the_working_day_deadlines_and_freezes_the_scheme(app, world):
    actor = _bureau(world)
    scheme = schemes.create_scheme(actor, year=local_today().year, name="测试方案", copy_from_id=None)
    run = runs.start_run(actor, year=local_today().year, scheme_id=scheme.id)
    published = runs.publish(actor, run.id, published_on=date(2026, 9, 30))  # just before National Day
    assert published.status.value == "published"
    assert published.feedback_deadline == date(2026, 10, 27)  # 15 working days, holiday week skipped
    assert published.appeal_deadline == date(2026, 11, 10)    # 10 more working days
    assert db.session.get(AssessmentScheme, scheme.id).locked
    with pytest.raises(RuleViolation) as again:
        runs.publish(actor, run.id, published_on=date(2026, 10, 8))
    assert again.value.code == "RUN_NOT_DRAFT"


def test_a_published_run_is_unchanged_when_data_changes_and_a_new_run_is_made(app, world):
    actor = _bureau(world)
    year = local_today().year
    scheme = schemes.create_scheme(actor, year=year, name="测试方案", copy_from_id=None)
    run = runs.start_run(actor, year=year, scheme_id=scheme.id)
    runs.publish(actor, run.id, published_on=date(2026, 9, 30))

    def snapshot(run_id):
        return sorted((r.institution_id, s.indicator_code, s.numerator, s.points)
                      for r in db.session.query(InstitutionResult).filter_by(run_id=run_id)
                      for s in db.session.query(IndicatorScore).filter_by(result_id=r.id))

    before = snapshot(run.id)
    record = world.records["R1"]
    add(Reading(service_record_id=record.id, resident_id=record.resident_id,
                measured_at=record.served_at + timedelta(days=1), systolic_mmhg=120, diastolic_mmhg=75))
    db.session.commit()
    copy = schemes.create_scheme(actor, year=year, name="复制方案", copy_from_id=scheme.id)
    rerun = runs.start_run(actor, year=year, scheme_id=copy.id)
    assert snapshot(run.id) == before                       # the published run did not move
    assert snapshot(rerun.id) != before and rerun.run_version == run.run_version + 1
