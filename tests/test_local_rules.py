"""Policy numbers come from the region's rules in force on the date in question."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from server.common.timeutil import local_today
from server.extensions import db
from server.regions import rules as region_rules
from server.regions.models import LocalRules
from tests.factories import rules_kwargs
from tests.helpers import assert_error_shape


def _new_version(client, world, effective_from: date, **changes):
    body = {**rules_kwargs(effective_from=effective_from.isoformat(), **changes), "other_fund_populations": []}
    return client.post("/api/admin/v1/rules", json=body, headers=world.headers("bureau"))


def test_a_new_version_changes_every_number_from_its_effective_date(client, world):
    start = local_today() + timedelta(days=40)
    response = _new_version(
        client, world, start, fee_per_head_fen=12000, personal_share_fen=3000, public_health_share_fen=4500,
        insurance_fund_share_fen=4500, prescription_standard_weeks=3, prescription_max_weeks=8,
        grade_bands=[{"grade": "excellent", "min": "90"}, {"grade": "good", "min": "75"},
                     {"grade": "pass", "min": "60"}, {"grade": "fail", "min": "0"}],
        payout_ratios={"excellent": "1.00", "good": "0.85", "pass": "0.70", "fail": "score"})
    assert response.status_code == 201, response.get_json()
    region_id = world.regions["A"].id

    before = region_rules.rules_in_force(region_id, start - timedelta(days=1))
    after = region_rules.rules_in_force(region_id, start)
    assert (before.fee_per_head_fen, after.fee_per_head_fen) == (10000, 12000)
    split = region_rules.fee_split(after, [], start)
    assert (split.personal_share_fen, split.public_health_share_fen, split.insurance_fund_share_fen) == (
        3000, 4500, 4500)
    assert region_rules.grade_for(before, Decimal("87")) == "excellent"
    assert region_rules.grade_for(after, Decimal("87")) == "good"
    assert region_rules.payout_ratio(before, "good", Decimal("80")) == Decimal("0.90")
    assert region_rules.payout_ratio(after, "good", Decimal("80")) == Decimal("0.85")
    assert region_rules.max_prescription_weeks(before, stable=True) == 12
    assert region_rules.max_prescription_weeks(after, stable=True) == 8
    assert region_rules.max_prescription_weeks(after, stable=False) == 3

    shown = client.get(f"/api/admin/v1/rules/in-force?on={start.isoformat()}", headers=world.headers("bureau"))
    assert shown.get_json()["fee_per_head_fen"] == 12000


@pytest.mark.parametrize("score, grade", [("100", "excellent"), ("85", "excellent"), ("84.99", "good"),
                                          ("70", "good"), ("69.99", "pass"), ("60", "pass"),
                                          ("59.99", "fail"), ("0", "fail")])
def test_grade_bands_include_their_lower_bound_exactly(world, score, grade):
    rules = region_rules.rules_in_force(world.regions["A"].id, date(2026, 6, 1))
    assert region_rules.grade_for(rules, Decimal(score)) == grade


def test_failing_grade_pays_in_proportion_to_the_score(world):
    rules = region_rules.rules_in_force(world.regions["A"].id, date(2026, 6, 1))
    assert region_rules.payout_ratio(rules, "fail", Decimal("55.5")) == Decimal("0.5550")
    assert region_rules.payout_ratio(rules, "pass", Decimal("65")) == Decimal("0.80")
    with pytest.raises(TypeError):
        region_rules.grade_for(rules, 85.0)


def test_other_fund_pays_the_personal_share_only_until_its_end(world):
    rules = region_rules.rules_in_force(world.regions["A"].id, date(2026, 6, 1))
    covered = region_rules.fee_split(rules, ["poverty_registered"], date(2022, 12, 31))
    ended = region_rules.fee_split(rules, ["poverty_registered"], date(2023, 1, 1))
    assert (covered.personal_share_payer, covered.resident_pays_fen) == ("poverty_top_up", 0)
    assert (ended.personal_share_payer, ended.resident_pays_fen) == ("self", 2000)


def test_prescription_weeks_are_checked_against_the_rules(world):
    from server.errors import RuleViolation
    rules = region_rules.rules_in_force(world.regions["A"].id, date(2026, 6, 1))
    region_rules.check_prescription_weeks(rules, 4, stable=False)
    region_rules.check_prescription_weeks(rules, 12, stable=True)
    for weeks, stable in ((5, False), (13, True)):
        with pytest.raises(RuleViolation) as refused:
            region_rules.check_prescription_weeks(rules, weeks, stable=stable)
        assert refused.value.code == "PRESCRIPTION_TOO_LONG"


def test_no_rules_before_the_first_version(world):
    from server.errors import NotFound
    with pytest.raises(NotFound):
        region_rules.rules_in_force(world.regions["A"].id, date(2023, 12, 31))


@pytest.mark.parametrize("changes, field", [
    ({"personal_share_fen": 2500}, "fee_per_head_fen"),
    ({"prescription_standard_weeks": 13}, "prescription_max_weeks"),
    ({"grade_bands": [{"grade": "excellent", "min": "70"}, {"grade": "good", "min": "85"},
                      {"grade": "pass", "min": "60"}, {"grade": "fail", "min": "0"}]}, "grade_bands"),
    ({"payout_ratios": {"excellent": "1.2", "good": "0.9", "pass": "0.8", "fail": "score"}}, "payout_ratios"),
    ({"payout_ratios": {"excellent": "1"}}, "payout_ratios"),
])
def test_inconsistent_rules_are_refused_with_the_field_named(client, world, changes, field):
    response = _new_version(client, world, local_today() + timedelta(days=5), **changes)
    body = assert_error_shape(response, 422)
    assert field in body["details"]["fields"]


def test_history_cannot_be_rewritten(client, world):
    body = assert_error_shape(_new_version(client, world, date(2025, 1, 1)), 422)
    assert body["code"] == "RULES_BACKDATED"
    start = local_today() + timedelta(days=9)
    assert _new_version(client, world, start).status_code == 201
    assert assert_error_shape(_new_version(client, world, start), 409)["code"] == "RULES_VERSION_EXISTS"
    assert db.session.query(LocalRules).filter_by(region_id=world.regions["A"].id).count() == 2
