"""The OpenAPI document tells the truth: every operation, called as every role, never fails
with a server error and answers in the shape it documents.

Schemathesis generates the requests from the document itself (fixed seed, a few examples per
operation, valid and invalid ones) and sends them in-process to the app through WSGI, inside
the test's rolled-back transaction. Each generated request is sent once per role; a role that
may not call the operation gets its 401/403/404, which must still be the documented error
shape. About half the requests name the world's own rows and accounts instead of generated
ids, so operations also run past their 404 and answer with real data.

Nothing is left out: the WeChat Pay notification, which speaks WeChat Pay's own protocol and
has its own tests, is not in the document.

Schemathesis's own pytest integration (`@schema.parametrize`) is not used: it builds every
operation's test inside one pytest test anyway, and breaks on pytest 9's node ids. Here one
test builds the world once and tries every operation; all failures are reported together.
"""
from __future__ import annotations

import json

import hypothesis
import schemathesis
import sqlalchemy as sa
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from server.common.timeutil import local_today, utcnow
from server.extensions import db
from server.institutions.models import Agreement
from server.teams.models import TeamMembership
from tests.factories import PASSWORD
from tests.test_scope_matrix import published_run

ROLES = ("bureau", "manager", "doctor", "resident", "assessor")
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
EXAMPLES = 5  # per operation; each is sent as every role

CONFIG = schemathesis.Config.from_dict({"generation": {"with-security-parameters": False}})
SETTINGS = hypothesis.settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
                               phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
                               suppress_health_check=list(hypothesis.HealthCheck))


def test_every_operation_answers_in_its_documented_shape_as_every_role(app, client, world):
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app, config=CONFIG)
    known = lived_in(client, world)
    operations = [result.ok() for result in schema.get_all_operations()]  # an unreadable one fails here
    failures = []
    for operation in sorted(operations, key=order_of_play):
        try:
            exercise(operation, known, world)
        except (Exception, BaseExceptionGroup) as failure:  # every operation is tried, all failures reported
            failures.append(f"{operation.label}: {failure}")
    assert not failures, "\n\n".join(failures)


def order_of_play(operation) -> tuple[bool, bool]:
    """Reads first, while the world is as built; then writes; the logouts, which end the tokens, last."""
    return operation.method != "get", operation.path.endswith("/logout")


def exercise(operation, known, world):
    cases = st.one_of([operation.as_strategy(mode) for mode in GenerationMode])
    # A sign-in takes no token, so it is the same call whoever makes it.
    callers = ROLES if "security" in operation.definition.raw else ("anonymous",)

    @SETTINGS
    @hypothesis.given(case=cases, use_known=st.booleans())
    def as_every_caller(case, use_known):
        if use_known:
            with_known_values(case, known)
        for who in callers:
            response = case.call(headers=world.headers(who))
            case.validate_response(response, checks=CHECKS)

    as_every_caller()


def with_known_values(case, known):
    """Name rows and accounts that exist in the path and the body, so the request gets past the 404."""
    if case.path_parameters:
        case.path_parameters = {name: known.get(name, value) for name, value in case.path_parameters.items()}
    if isinstance(case.body, dict):
        case.body = {name: known.get(name, value) for name, value in case.body.items()}


def lived_in(client, world) -> dict[str, object]:
    """Values by parameter or field name, once the world also has a published run (in which the
    assessor is assigned to I1, and I1 appeals), a prescription and an import."""
    run_id = published_run(world, "I1")
    run = client.get(f"/api/admin/v1/assessment/runs/{run_id}", headers=world.headers("bureau")).get_json()
    assignments = client.get(f"/api/admin/v1/assessment/runs/{run_id}/assessors", headers=world.headers("bureau"))
    appeal = client.post(f"/api/admin/v1/assessment/runs/{run_id}/appeals", headers=world.headers("manager"),
                         json={"institution_id": world.institutions["I1"].id, "reason": "随访记录漏计，请复核"})
    prescription = client.post("/api/doctor/v1/prescriptions", headers=world.headers("doctor"), json={
        "contract_id": world.contracts["R1"].id, "issued_on": local_today().isoformat(), "weeks": 4,
        "items": [{"drug_code": "XC08CAA", "drug_name": "氨氯地平片", "drug_class": "calcium_channel_blocker",
                   "dosage": "5mg", "frequency": "每日一次", "quantity": "28", "unit": "片"}]})
    batch = client.post("/api/doctor/v1/imports?kind=service_records&format=jsonl", headers=world.headers("doctor"),
                        data=json.dumps({"external_id": "HIS-000001", "contract_no": world.contracts["R1"].contract_no,
                                         "item_code": "BP", "service_type": "clinic",
                                         "served_at": utcnow().isoformat(), "systolic_mmhg": 132,
                                         "diastolic_mmhg": 84}).encode())
    membership = db.session.scalars(sa.select(TeamMembership.id).where(
        TeamMembership.team_id == world.teams["T1"].id)).first()
    agreement = db.session.scalars(sa.select(Agreement.id).where(
        Agreement.institution_id == world.institutions["I1"].id)).first()
    return {"resident_id": world.residents["R1"].id, "contract_id": world.contracts["R1"].id,
            "record_id": world.records["R1"].id, "invitation_id": world.invitations["R1"].id,
            "institution_id": world.institutions["I1"].id, "team_id": world.teams["T1"].id,
            "package_id": world.packages["A"].id, "package_version_id": world.packages["A"].id,
            "staff_id": world.doctors["T1"].id, "agreement_id": agreement, "membership_id": membership,
            "run_id": run_id, "scheme_id": run["scheme_id"], "code": "Q2", "year": local_today().year,
            "assignment_id": assignments.get_json()["items"][0]["id"], "account_id": world.accounts["assessor"].id,
            "appeal_id": created(appeal), "prescription_id": created(prescription),
            "batch_id": created(batch), "username": world.accounts["doctor"].username,
            "password": PASSWORD}


def created(response) -> int:
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]
