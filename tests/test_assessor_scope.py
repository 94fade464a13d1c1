"""A third-party assessor sees only the institutions the bureau assigned to them for a run (PIPL's minimum necessary).

In the world (tests/factories.py) the assessor belongs to region A. Each test starts its own
runs and assignments; the assessor's scope is read from the database on every request, so an
assignment or its withdrawal counts from the next request on.
"""
from __future__ import annotations

import pytest

from server.assessment import runs, schemes
from server.assessment.models import AssessorAssignment
from server.audit.models import AuditEvent
from server.common.timeutil import local_today
from server.extensions import db
from server.identity.models import UserAccount
from server.identity.roles import Role
from server.identity.services import _staff_actor
from tests import factories
from tests.helpers import assert_error_shape

A = "/api/admin/v1"
RUNS = f"{A}/assessment/runs"


def _actor(world, who: str):
    return _staff_actor(db.session.get(UserAccount, world.accounts[who].id))


def _run(world, who: str = "bureau"):
    """A draft run of this year with a scheme of its own."""
    actor = _actor(world, who)
    scheme = schemes.create_scheme(actor, year=local_today().year, name="评估范围测试方案", copy_from_id=None)
    return runs.start_run(actor, year=local_today().year, scheme_id=scheme.id)


def _assign(client, world, run_id: int, institution: str, account: str = "assessor", who: str = "bureau"):
    return client.post(f"{RUNS}/{run_id}/assessors", headers=world.headers(who), json={
        "account_id": world.accounts[account].id, "institution_id": world.institutions[institution].id})


@pytest.fixture
def assigned(client, world):
    """Run 1 with the assessor assigned to I1 (not I2); run 2 of the same region without any assignment."""
    first, second = _run(world), _run(world)
    assert _assign(client, world, first.id, "I1").status_code == 201
    return first, second


def test_the_bureau_assigns_lists_and_withdraws_an_assessor_and_each_change_is_audited(client, world):
    run = _run(world)
    made = _assign(client, world, run.id, "I1")
    assert made.status_code == 201, made.get_json()
    body = made.get_json()
    assert (body["run_id"], body["account_id"], body["institution_id"]) == (
        run.id, world.accounts["assessor"].id, world.institutions["I1"].id)
    assert body["institution_name"] == world.institutions["I1"].name and body["assigned_at"]
    assert body["assigned_by_account_id"] == world.accounts["bureau"].id
    listed = client.get(f"{RUNS}/{run.id}/assessors", headers=world.headers("bureau")).get_json()
    assert [item["id"] for item in listed["items"]] == [body["id"]]

    withdrawn = client.delete(f"{RUNS}/{run.id}/assessors/{body['id']}", headers=world.headers("bureau"))
    assert withdrawn.status_code == 204
    assert client.get(f"{RUNS}/{run.id}/assessors", headers=world.headers("bureau")).get_json()["total"] == 0
    events = db.session.query(AuditEvent).filter_by(entity_type="assessor_assignment",
                                                    entity_id=str(body["id"])).order_by(AuditEvent.id).all()
    assert [e.action for e in events] == ["assessor_assignment.assign", "assessor_assignment.withdraw"]
    assert all(e.actor_account_id == world.accounts["bureau"].id for e in events)
    assert events[0].details == {"run_id": run.id, "account_id": world.accounts["assessor"].id,
                                 "institution_id": world.institutions["I1"].id}


def test_a_bureau_of_another_region_can_neither_assign_nor_list_nor_withdraw(client, world, assigned):
    first, _ = assigned
    assignment_id = db.session.query(AssessorAssignment.id).filter_by(run_id=first.id).scalar()
    assert_error_shape(_assign(client, world, first.id, "I2", who="bureau_b"), 404)
    assert_error_shape(client.get(f"{RUNS}/{first.id}/assessors", headers=world.headers("bureau_b")), 404)
    assert_error_shape(client.delete(f"{RUNS}/{first.id}/assessors/{assignment_id}",
                                     headers=world.headers("bureau_b")), 404)
    run_b = _run(world, "bureau_b")
    assert_error_shape(_assign(client, world, run_b.id, "I3"), 404)  # region A's bureau in region B's run
    assert db.session.query(AssessorAssignment).count() == 1


def test_only_an_assessor_of_the_region_is_assigned_and_only_to_an_institution_of_the_run(client, world):
    run_id = _run(world).id
    world.accounts["assessor_b"] = factories.make_account(Role.ASSESSOR, world.regions["B"])
    db.session.commit()
    db.session.expunge(world.accounts["assessor_b"])
    for account in ("manager", "bureau", "assessor_b"):
        refused = _assign(client, world, run_id, "I1", account=account)
        assert assert_error_shape(refused, 404)["code"] == "ASSESSOR_NOT_FOUND", account
    assert assert_error_shape(_assign(client, world, run_id, "I3"), 404)["code"] == "INSTITUTION_NOT_IN_RUN"
    assert _assign(client, world, run_id, "I1").status_code == 201
    assert assert_error_shape(_assign(client, world, run_id, "I1"), 409)["code"] == "ASSESSOR_ALREADY_ASSIGNED"
    for who in ("assessor", "manager"):
        assert_error_shape(_assign(client, world, run_id, "I2", who=who), 403)
        assert_error_shape(client.get(f"{RUNS}/{run_id}/assessors", headers=world.headers(who)), 403)


def test_an_assessor_sees_only_the_runs_schemes_and_institutions_assigned_to_them(client, world, assigned):
    first, second = assigned
    headers = world.headers("assessor")
    assert [r["id"] for r in client.get(RUNS, headers=headers).get_json()["items"]] == [first.id]
    assert client.get(f"{RUNS}/{first.id}", headers=headers).status_code == 200
    assert_error_shape(client.get(f"{RUNS}/{second.id}", headers=headers), 404)
    assert_error_shape(client.get(f"{RUNS}/{second.id}/results", headers=headers), 404)
    assert [s["id"] for s in client.get(f"{A}/assessment/schemes", headers=headers).get_json()["items"]] \
        == [first.scheme_id]
    assert_error_shape(client.get(f"{A}/assessment/schemes/{second.scheme_id}", headers=headers), 404)
    listed = client.get(f"{A}/institutions", headers=headers).get_json()
    assert [i["id"] for i in listed["items"]] == [world.institutions["I1"].id]
    assert_error_shape(client.get(f"{A}/institutions/{world.institutions['I2'].id}", headers=headers), 404)


def test_an_assessor_reads_the_assigned_result_and_gets_404_for_any_other(client, world, assigned):
    first, second = assigned
    headers, i1, i2 = world.headers("assessor"), world.institutions["I1"].id, world.institutions["I2"].id
    results = client.get(f"{RUNS}/{first.id}/results", headers=headers).get_json()
    assert [r["institution_id"] for r in results["items"]] == [i1]
    detail = client.get(f"{RUNS}/{first.id}/results/{i1}", headers=headers)
    assert detail.status_code == 200 and detail.get_json()["indicators"]
    assert_error_shape(client.get(f"{RUNS}/{first.id}/results/{i2}", headers=headers), 404)
    assert_error_shape(client.get(f"{RUNS}/{second.id}/results/{i1}", headers=headers), 404)
    for run, institution in ((first, i2), (second, i1)):
        entries = client.get(f"{RUNS}/{run.id}/results/{institution}/indicators/Q2/entries", headers=headers)
        assert_error_shape(entries, 404)


def test_the_drill_down_shows_an_assessor_masked_names_and_id_numbers(client, world, assigned):
    first, _ = assigned
    url = f"{RUNS}/{first.id}/results/{world.institutions['I1'].id}/indicators/Q2/entries"
    shown = client.get(url, headers=world.headers("assessor"))
    assert shown.status_code == 200, shown.get_json()
    people = [item for item in shown.get_json()["items"] if item["resident_id"]]
    by_id = {item["resident_id"]: item for item in people}
    r1 = world.residents["R1"]
    assert by_id[r1.id]["resident_name"] == "王**"
    assert by_id[r1.id]["id_number"] == r1.id_number[:4] + "*" * 10 + r1.id_number[-4:]
    real_names = {r.name for r in world.residents.values()}
    assert people and not {item["resident_name"] for item in people} & real_names
    assert r1.id_number not in shown.get_data(as_text=True)
    bureau = client.get(url, headers=world.headers("bureau")).get_json()
    assert {item["resident_name"] for item in bureau["items"] if item["resident_id"]} >= {r1.name}
    read = db.session.query(AuditEvent).filter_by(action="assessment_result.explain",
                                                  actor_account_id=world.accounts["assessor"].id).one()
    assert read.details["institution_id"] == world.institutions["I1"].id


def test_an_assessor_cannot_search_residents_by_id_number_nor_read_people_contracts_teams_or_staff(client, world):
    run = _run(world)
    assert _assign(client, world, run.id, "I1").status_code == 201
    headers, r1 = world.headers("assessor"), world.residents["R1"]
    refused = [f"{A}/residents?id_number={r1.id_number}", f"{A}/residents", f"{A}/residents/{r1.id}",
               f"{A}/contracts", f"{A}/contracts/{world.contracts['R1'].id}", f"{A}/staff", f"{A}/teams",
               f"{A}/teams/{world.teams['T1'].id}/members", f"{A}/agreements", f"{A}/packages", f"{A}/audit-events",
               f"{RUNS}/{run.id}/appeals"]
    for url in refused:
        assert_error_shape(client.get(url, headers=headers), 403)
    assert db.session.query(AuditEvent).filter(AuditEvent.action.like("resident.%")).count() == 0


def test_an_assessor_enters_manual_scores_only_for_institutions_assigned_in_a_run_of_that_scheme(
        client, world, assigned):
    first, second = assigned
    headers = world.headers("assessor")

    def enter(scheme_id, institution):
        return client.put(f"{A}/assessment/schemes/{scheme_id}/manual-scores", headers=headers, json={
            "indicator_code": "S1", "institution_id": world.institutions[institution].id, "points": "2",
            "evidence": "现场核查记录"})

    entered = enter(first.scheme_id, "I1")
    assert entered.status_code == 200, entered.get_json()
    assert entered.get_json()["entered_by_role"] == "assessor"
    assert_error_shape(enter(first.scheme_id, "I2"), 404)
    assert_error_shape(enter(second.scheme_id, "I1"), 404)
    # Assigned to I2 in the second run: I2 opens on the second run's scheme, not on the first's.
    assert _assign(client, world, second.id, "I2").status_code == 201
    assert enter(second.scheme_id, "I2").status_code == 200
    assert_error_shape(enter(first.scheme_id, "I2"), 404)
    client.put(f"{A}/assessment/schemes/{first.scheme_id}/manual-scores", headers=world.headers("bureau"), json={
        "indicator_code": "S1", "institution_id": world.institutions["I2"].id, "points": "1", "evidence": "局方录入"})
    listed = client.get(f"{A}/assessment/schemes/{first.scheme_id}/manual-scores", headers=headers).get_json()
    assert [s["institution_id"] for s in listed["items"]] == [world.institutions["I1"].id]


def test_a_withdrawn_assignment_closes_the_institution_from_the_next_request_on(client, world, assigned):
    first, _ = assigned
    url = f"{RUNS}/{first.id}/results/{world.institutions['I1'].id}"
    assert client.get(url, headers=world.headers("assessor")).status_code == 200
    assignment_id = db.session.query(AssessorAssignment.id).filter_by(run_id=first.id).scalar()
    client.delete(f"{RUNS}/{first.id}/assessors/{assignment_id}", headers=world.headers("bureau"))
    assert_error_shape(client.get(url, headers=world.headers("assessor")), 404)
    assert_error_shape(client.get(f"{RUNS}/{first.id}", headers=world.headers("assessor")), 404)


def test_names_are_masked_to_their_first_character():
    from server.common.pii import mask_name
    assert [mask_name(n) for n in ("王秀英", "李明", "欧阳娜娜", "张", "", None)] == [
        "王**", "李*", "欧***", "*", "", None]
