"""Assessment schemes are data: a default covering the annex, copies, edits totalling 100, frozen once used."""
from __future__ import annotations

from decimal import Decimal

from server.assessment.default_scheme import DEFAULT_INDICATORS
from server.assessment.models import AssessmentScheme
from server.extensions import db
from tests.helpers import assert_error_shape

URL = "/api/admin/v1/assessment/schemes"
# The basic indicators of the annex [S-A.2], by the words the default scheme names them with.
ANNEX = ["成立机构", "团队人员职责", "服务流程", "考核奖惩办法", "分配方案", "健康档案管理", "人均服务次数", "药品保障",
         "高血压签约参保人员血压控制率", "高血压签约参保人员住院率", "糖尿病签约参保人员血糖控制率",
         "糖尿病签约参保人员住院率", "人均住院费用", "个人负担", "违法违规使用医保基金", "转嫁费用", "政策宣传",
         "培训", "满意度"]


def test_the_default_scheme_covers_every_basic_indicator_and_totals_100():
    names = " ".join(name for _, _, name, _, _, _ in DEFAULT_INDICATORS)
    assert [word for word in ANNEX if word not in names] == []
    assert sum(Decimal(points) for _, _, _, points, _, _ in DEFAULT_INDICATORS) == Decimal(100)
    assert {group for _, group, *_ in DEFAULT_INDICATORS} == {
        "setup", "service_quality", "outcomes", "cost", "fund_supervision", "other"}


def _create(client, world, **body):
    return client.post(URL, json={"year": 2026, "name": "2026年度考核方案", **body}, headers=world.headers("bureau"))


def test_bureau_staff_start_from_the_default_then_copy_and_edit(client, world):
    created = _create(client, world)
    assert created.status_code == 201, created.get_json()
    scheme = created.get_json()
    assert len(scheme["indicators"]) == len(DEFAULT_INDICATORS)
    copy = _create(client, world, name="2027年度方案", copy_from_id=scheme["id"]).get_json()
    indicators = copy["indicators"]
    indicators[0]["points"], indicators[1]["points"] = "2", "4"  # move one point, still 100 in all
    edited = client.put(f"{URL}/{copy['id']}", json={"year": 2027, "name": copy["name"], "indicators": indicators},
                        headers=world.headers("bureau"))
    assert edited.status_code == 200, edited.get_json()
    assert [i["points"] for i in edited.get_json()["indicators"][:2]] == ["2.000", "4.000"]


def test_a_scheme_must_total_100_and_cover_the_six_groups(client, world):
    scheme = _create(client, world).get_json()
    indicators = scheme["indicators"]
    off = [{**indicators[0], "points": "4"}, *indicators[1:]]
    body = assert_error_shape(client.put(f"{URL}/{scheme['id']}", json={**_head(scheme), "indicators": off},
                                         headers=world.headers("bureau")), 422)
    assert "100" in str(body["details"])
    no_other = [i for i in indicators if i["group"] != "other"]
    no_other[0] = {**no_other[0], "points": str(Decimal(no_other[0]["points"]) + 10)}
    body = assert_error_shape(client.put(f"{URL}/{scheme['id']}", json={**_head(scheme), "indicators": no_other},
                                         headers=world.headers("bureau")), 422)
    assert "other" in str(body["details"])


def test_an_automatic_indicator_needs_a_known_metric_and_a_usable_rule(client, world):
    scheme = _create(client, world).get_json()
    auto = next(i for i in scheme["indicators"] if i["method"] == "auto")
    for broken in ({**auto["rule"], "metric": "made_up"}, {**auto["rule"], "zero_at": auto["rule"]["full_at"]},
                   {**auto["rule"], "full_at": "lots"}):
        indicators = [({**i, "rule": broken} if i["code"] == auto["code"] else i) for i in scheme["indicators"]]
        response = client.put(f"{URL}/{scheme['id']}", json={**_head(scheme), "indicators": indicators},
                              headers=world.headers("bureau"))
        assert "rule" in str(assert_error_shape(response, 422)["details"])


def test_a_scheme_used_by_a_published_run_is_frozen(client, world):
    scheme = _create(client, world).get_json()
    db.session.get(AssessmentScheme, scheme["id"]).locked = True
    db.session.commit()
    response = client.put(f"{URL}/{scheme['id']}", json={**_head(scheme), "indicators": scheme["indicators"]},
                          headers=world.headers("bureau"))
    assert assert_error_shape(response, 422)["code"] == "SCHEME_LOCKED"


def _head(scheme):
    return {"year": scheme["year"], "name": scheme["name"]}
