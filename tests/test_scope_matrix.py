"""Every endpoint, called as every role, against targets inside and outside the caller's scope.

A caller without the role gets 401/403; with the role but outside its scope, 404 (never a
hint of the data); inside it, the expected success. Lists return exactly the rows in scope.
Refused changes leave the database as it was.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Callable

import pytest

from server.common.timeutil import local_today, utcnow
from server.extensions import db
from server.identity.roles import Role
from server.identity.services import _staff_actor
from server.imports import exchange
from tests.helpers import assert_error_shape, db_fingerprint
from tests.test_benefit_registrations import alert_ids, alert_path
from tests.test_claims_import import as_csv, claim, number_of
from tests.test_fhir_export import export_job_path

CALLERS = {
    "anonymous": None,
    "resident": Role.RESIDENT,      # WeChat W1: acts for R1 and R5
    "resident_2": Role.RESIDENT,    # WeChat W2: acts for R2
    "doctor": Role.TEAM_MEMBER,     # team T1 of institution I1
    "manager": Role.INSTITUTION_MANAGER,  # institution I1 (teams T1, T2)
    "bureau": Role.BUREAU_STAFF,    # region A
    "assessor": Role.ASSESSOR,      # region A; assigned to I1 in the runs `published_run` makes
    "bureau_b": Role.BUREAU_STAFF,  # region B
}
REGION_A = {"bureau"}

# Which targets each caller may see, per kind of object (keys as in tests/factories.py). The
# assessor sees no person, team or staff member, and an institution only where assigned.
RESIDENTS = {"bureau": {"R1", "R2", "R3", "R5"}, "bureau_b": {"R4"},
             "manager": {"R1", "R2", "R5"}, "doctor": {"R1", "R5"}, "resident": {"R1", "R5"},
             "resident_2": {"R2"}}
INSTITUTIONS = {"bureau": {"I1", "I2"}, "bureau_b": {"I3"}, "manager": {"I1"}}
ASSESSED = INSTITUTIONS | {"assessor": {"I1"}}  # in a run that assigns the assessor to I1
TEAMS = {"bureau": {"T1", "T2", "T3"}, "bureau_b": {"T4"},
         "manager": {"T1", "T2"}, "doctor": {"T1"}}
PACKAGES = {c: {"A"} for c in ("bureau", "assessor", "manager", "doctor", "resident", "resident_2")} | {
    "bureau_b": {"B"}}
EVERYONE = {c: {"-"} for c in CALLERS if c != "anonymous"}
OWN_IDENTITY = {"resident": {"R1"}, "resident_2": {"R2"}}  # whose own identity each account bound

ADMIN = {Role.BUREAU_STAFF, Role.ASSESSOR, Role.INSTITUTION_MANAGER}
MANAGING = {Role.BUREAU_STAFF, Role.INSTITUTION_MANAGER}
STAFF = ADMIN | {Role.TEAM_MEMBER}


@dataclass
class Case:
    name: str
    method: str
    path: Callable                  # (world, target) -> url
    roles: set[Role]
    visible: dict[str, set[str]]    # caller -> targets in scope
    targets: tuple[str, ...] = ("-",)
    body: Callable | None = None    # (world, target) -> json
    ok: int | tuple[int, ...] = 200  # status(es) for an in-scope call
    list_ids: Callable | None = None  # (world, keys) -> ids a list must show exactly
    item_id: str = "id"
    writes: bool = False
    extra: dict = field(default_factory=dict)


def ids_of(attr):
    return lambda w, keys: {getattr(w, attr)[k].id for k in keys}


def staff_ids(w, keys):
    return {w.doctors[k].id for k in keys}


def agreement_path(w, target, suffix=""):
    from server.institutions.models import Agreement
    from server.extensions import db
    agreement = db.session.query(Agreement).filter_by(institution_id=w.institutions[target].id).one()
    return f"/api/admin/v1/agreements/{agreement.id}{suffix}"


def membership_path(w, target):
    from server.extensions import db
    from server.teams.models import TeamMembership
    m = db.session.query(TeamMembership).filter_by(team_id=w.teams[target].id).one()
    return f"/api/admin/v1/teams/{w.teams[target].id}/members/{m.id}/end"


_id_numbers = iter(range(1, 10**6))


def fresh_id_number() -> str:
    from server.common import idcard
    return idcard.make("350625", date(1985, 6, 1), next(_id_numbers))


def pending_proxy(w, target):
    """An invitation to act for the target, from an account that does not yet act for them."""
    import secrets
    from server.extensions import db
    from server.residents.models import FamilyLink, ProxyStatus, Relation
    holder = w.accounts["resident_2" if target in ("R1", "R5") else "resident"]
    link = FamilyLink(wechat_account_id=holder.id, resident_id=w.residents[target].id, relation=Relation.PARENT,
                      status=ProxyStatus.PENDING, invitation_code=secrets.token_hex(6).upper(),
                      invitation_expires_at=utcnow() + timedelta(days=1))
    db.session.add(link)
    db.session.commit()
    return link


def yesterday() -> str:
    return (utcnow() - timedelta(days=1)).replace(microsecond=0).isoformat()


def rules_body(w, target):
    from tests.factories import rules_kwargs
    body = rules_kwargs(effective_from=(local_today() + timedelta(days=30)).isoformat())
    body["other_fund_populations"] = []
    return body


def _bureau_of(w, target):
    from server.identity.roles import Actor, Role
    region_id = w.institutions[target].region_id
    account = w.accounts["bureau" if region_id == w.regions["A"].id else "bureau_b"]
    return Actor(role=Role.BUREAU_STAFF, account_id=account.id, region_id=region_id)


def scheme_of(w, target) -> int:
    """A default scheme of this year in the target institution's region."""
    from server.assessment import schemes
    from server.common.timeutil import local_today
    return schemes.create_scheme(_bureau_of(w, target), year=local_today().year, name="范围测试方案",
                                 copy_from_id=None).id


def assigned_run(w, target):
    """A draft run of this year in the target institution's region; region A's assessor is assigned to I1 in it."""
    from server.assessment import assignments, runs
    from server.common.timeutil import local_today
    actor = _bureau_of(w, target)
    run = runs.start_run(actor, year=local_today().year, scheme_id=scheme_of(w, target))
    if run.region_id == w.regions["A"].id:
        assignments.assign(actor, run.id, account_id=w.accounts["assessor"].id,
                           institution_id=w.institutions["I1"].id)
    return run


def published_run(w, target) -> int:
    """A published run of the target institution's region, still open for appeals (region A's assessor on I1)."""
    from server.assessment import runs
    from server.assessment.models import AssessmentRun
    from server.common.timeutil import local_today
    from server.extensions import db
    run = assigned_run(w, target)
    runs.publish(_bureau_of(w, target), run.id, published_on=date(2026, 9, 30))
    db.session.get(AssessmentRun, run.id).appeal_deadline = local_today() + timedelta(days=30)
    db.session.commit()
    return run.id


def assignment_path(w, target):
    from server.assessment.models import AssessorAssignment
    from server.extensions import db
    run_id = published_run(w, target)
    assignment = db.session.query(AssessorAssignment).filter_by(run_id=run_id).one()
    return f"{A}/assessment/runs/{run_id}/assessors/{assignment.id}"


def exchange_batch_path(w, target) -> str:
    """A claims file the bureau of region A loaded (one row of R1's)."""
    row = claim("SCOPE1", number_of(w.residents["R1"].id), "21", "2026-03-01", "2026-03-03", "10.00", "6.00", "4.00")
    batch = exchange.import_file(_staff_actor(db.session.get(type(w.accounts["bureau"]), w.accounts["bureau"].id)),
                                 kind="claims", file_format="csv", filename="c.csv", stream=io.BytesIO(as_csv([row])))
    return f"{A}/exchange/imports/{batch.id}"


def result_path(w, target, suffix=""):
    return f"{A}/assessment/runs/{published_run(w, target)}/results/{w.institutions[target].id}{suffix}"


I = ("I1", "I2", "I3")
T = ("T1", "T2", "T3", "T4")
R = ("R1", "R2", "R3", "R4", "R5")
A = "/api/admin/v1"

CASES = [
    Case("staff me", "GET", lambda w, t: f"{A}/me", STAFF, EVERYONE),
    # Each test builds its own world, so a logout revokes only that test's token.
    Case("staff logout", "POST", lambda w, t: f"{A}/auth/logout", STAFF, EVERYONE, ok=204, writes=True),
    Case("region", "GET", lambda w, t: f"{A}/region", ADMIN, EVERYONE),
    Case("rules list", "GET", lambda w, t: f"{A}/rules", ADMIN, EVERYONE),
    Case("rules create", "POST", lambda w, t: f"{A}/rules", {Role.BUREAU_STAFF}, EVERYONE, body=rules_body,
         ok=201, writes=True),
    Case("rules in force", "GET", lambda w, t: f"{A}/rules/in-force?on=2026-06-01", ADMIN, EVERYONE),
    Case("diseases", "GET", lambda w, t: f"{A}/diseases", ADMIN, EVERYONE),
    Case("institution list", "GET", lambda w, t: f"{A}/institutions", ADMIN, INSTITUTIONS,
         list_ids=ids_of("institutions")),
    Case("institution create", "POST", lambda w, t: f"{A}/institutions", {Role.BUREAU_STAFF}, EVERYONE,
         body=lambda w, t: {"code": "H35060299999", "name": "新建卫生院", "kind": "乡镇卫生院"}, ok=201,
         writes=True),
    Case("institution get", "GET", lambda w, t: f"{A}/institutions/{w.institutions[t].id}", ADMIN, INSTITUTIONS,
         targets=I),
    Case("agreement list", "GET", lambda w, t: f"{A}/agreements", MANAGING, INSTITUTIONS,
         list_ids=ids_of("institutions"), item_id="institution_id"),
    Case("agreement create", "POST", lambda w, t: f"{A}/agreements", {Role.BUREAU_STAFF}, INSTITUTIONS,
         targets=I, ok=409, writes=True,
         body=lambda w, t: {"institution_id": w.institutions[t].id, "agreement_no": "XY-NEW-1",
                            "period_start": "2027-01-01", "period_end": "2027-12-31"}),
    Case("agreement get", "GET", lambda w, t: agreement_path(w, t), MANAGING, INSTITUTIONS, targets=I),
    Case("agreement status", "POST", lambda w, t: agreement_path(w, t, "/status"), {Role.BUREAU_STAFF},
         INSTITUTIONS, targets=I, writes=True, body=lambda w, t: {"status": "suspended", "reason": "考核不合格"}),
    Case("agreement events", "GET", lambda w, t: agreement_path(w, t, "/events"), MANAGING, INSTITUTIONS, targets=I),
    Case("team list", "GET", lambda w, t: f"{A}/teams", MANAGING, TEAMS, list_ids=ids_of("teams")),
    Case("team create", "POST", lambda w, t: f"{A}/teams", {Role.INSTITUTION_MANAGER}, INSTITUTIONS, targets=I,
         ok=201, writes=True, body=lambda w, t: {"institution_id": w.institutions[t].id, "name": "新团队",
                                                 "capacity": 300}),
    Case("team get", "GET", lambda w, t: f"{A}/teams/{w.teams[t].id}", MANAGING, TEAMS, targets=T),
    Case("team members", "GET", lambda w, t: f"{A}/teams/{w.teams[t].id}/members", MANAGING, TEAMS, targets=T),
    Case("team member add", "POST", lambda w, t: f"{A}/teams/{w.teams[t].id}/members", {Role.INSTITUTION_MANAGER},
         TEAMS, targets=T, ok=409, writes=True,
         body=lambda w, t: {"staff_id": w.doctors[t].id, "joined_on": "2026-02-01"}),
    Case("team member end", "POST", lambda w, t: membership_path(w, t), {Role.INSTITUTION_MANAGER}, TEAMS,
         targets=T, writes=True, body=lambda w, t: {"left_on": "2026-06-30"}),
    Case("staff list", "GET", lambda w, t: f"{A}/staff", MANAGING, TEAMS, list_ids=staff_ids),
    Case("staff create", "POST", lambda w, t: f"{A}/staff", {Role.INSTITUTION_MANAGER}, INSTITUTIONS, targets=I,
         ok=201, writes=True, body=lambda w, t: {"institution_id": w.institutions[t].id, "name": "林医生",
                                                 "kind": "doctor", "phone": "13912345678"}),
    Case("package list", "GET", lambda w, t: f"{A}/packages", MANAGING, PACKAGES,
         list_ids=lambda w, keys: {w.packages[k].package_id for k in keys}),
    Case("package get", "GET", lambda w, t: f"{A}/packages/{w.packages[t].package_id}", MANAGING, PACKAGES,
         targets=("A", "B")),
    Case("resident list", "GET", lambda w, t: f"{A}/residents", MANAGING, RESIDENTS, list_ids=ids_of("residents")),
    Case("resident get", "GET", lambda w, t: f"{A}/residents/{w.residents[t].id}", MANAGING, RESIDENTS, targets=R),
    Case("contract list", "GET", lambda w, t: f"{A}/contracts", MANAGING, RESIDENTS, list_ids=ids_of("contracts")),
    Case("contract get", "GET", lambda w, t: f"{A}/contracts/{w.contracts[t].id}", MANAGING, RESIDENTS, targets=R),
    Case("contract terminate", "POST", lambda w, t: f"{A}/contracts/{w.contracts[t].id}/terminate",
         {Role.INSTITUTION_MANAGER, Role.BUREAU_STAFF}, RESIDENTS, targets=R, writes=True,
         body=lambda w, t: {"reason": "机构决定终止"}),
    Case("scheme list", "GET", lambda w, t: f"{A}/assessment/schemes", ADMIN, EVERYONE),
    Case("scheme create", "POST", lambda w, t: f"{A}/assessment/schemes", {Role.BUREAU_STAFF}, EVERYONE, ok=201,
         writes=True, body=lambda w, t: {"year": 2026, "name": "2026年度考核方案"}),
    Case("run list", "GET", lambda w, t: f"{A}/assessment/runs", ADMIN, EVERYONE),
    Case("run result", "GET", lambda w, t: result_path(w, t), ADMIN, ASSESSED, targets=I),
    Case("run explain", "GET", lambda w, t: result_path(w, t, "/indicators/Q2/entries"), ADMIN, ASSESSED,
         targets=I),
    Case("run acknowledge", "POST", lambda w, t: result_path(w, t, "/acknowledge"), {Role.INSTITUTION_MANAGER},
         INSTITUTIONS, targets=I, writes=True),
    Case("run informed", "POST", lambda w, t: result_path(w, t, "/informed"), {Role.BUREAU_STAFF}, INSTITUTIONS,
         targets=I, writes=True, body=lambda w, t: {"how": "书面通知送达"}),
    Case("appeal file", "POST", lambda w, t: f"{A}/assessment/runs/{published_run(w, t)}/appeals",
         {Role.INSTITUTION_MANAGER}, INSTITUTIONS, targets=I, ok=201, writes=True,
         body=lambda w, t: {"institution_id": w.institutions[t].id, "reason": "随访记录漏计，请复核"}),
    Case("manual score", "PUT", lambda w, t: f"{A}/assessment/schemes/{assigned_run(w, t).scheme_id}/manual-scores",
         {Role.BUREAU_STAFF, Role.ASSESSOR}, ASSESSED, targets=I, writes=True,
         body=lambda w, t: {"indicator_code": "S1", "institution_id": w.institutions[t].id, "points": "2",
                            "evidence": "现场核查记录"}),
    Case("assessor list", "GET", lambda w, t: f"{A}/assessment/runs/{published_run(w, t)}/assessors",
         {Role.BUREAU_STAFF}, INSTITUTIONS, targets=I),
    Case("assessor assign", "POST", lambda w, t: f"{A}/assessment/runs/{published_run(w, t)}/assessors",
         {Role.BUREAU_STAFF}, {"bureau": {"I1", "I2"}}, targets=I, writes=True,
         ok=(201, 409),  # the run assigns the assessor to I1 already; region B has no assessor of region A
         body=lambda w, t: {"account_id": w.accounts["assessor"].id, "institution_id": w.institutions[t].id}),
    Case("assessor withdraw", "DELETE", lambda w, t: assignment_path(w, t), {Role.BUREAU_STAFF},
         {"bureau": {"I1"}}, targets=("I1",), ok=204, writes=True),
    Case("audit events", "GET", lambda w, t: f"{A}/audit-events", {Role.BUREAU_STAFF}, EVERYONE),
    Case("mp me", "GET", lambda w, t: "/api/mp/v1/me", {Role.RESIDENT}, EVERYONE),
    Case("mp logout", "POST", lambda w, t: "/api/mp/v1/auth/logout", {Role.RESIDENT}, EVERYONE, ok=204, writes=True),
    Case("mp resident", "GET", lambda w, t: f"/api/mp/v1/residents/{w.residents[t].id}", {Role.RESIDENT},
         RESIDENTS, targets=R),
    Case("mp contracts", "GET", lambda w, t: "/api/mp/v1/contracts", {Role.RESIDENT}, RESIDENTS,
         list_ids=ids_of("contracts")),
    Case("mp contract", "GET", lambda w, t: f"/api/mp/v1/contracts/{w.contracts[t].id}", {Role.RESIDENT},
         RESIDENTS, targets=R),
    Case("mp packages", "GET", lambda w, t: "/api/mp/v1/packages", {Role.RESIDENT}, PACKAGES,
         list_ids=lambda w, keys: {w.packages[k].package_id for k in keys}),
    Case("mp bind identity", "POST", lambda w, t: "/api/mp/v1/me/identity", {Role.RESIDENT}, EVERYONE, ok=409,
         writes=True,  # every resident in the world has bound themselves already
         body=lambda w, t: {"name": "周文斌", "id_number": fresh_id_number(), "consent": True}),
    Case("mp add family", "POST", lambda w, t: "/api/mp/v1/me/family", {Role.RESIDENT}, EVERYONE, ok=201,
         writes=True,
         body=lambda w, t: {"name": "周小雨", "id_number": fresh_id_number(), "relation": "child", "consent": True}),
    Case("mp teams", "GET", lambda w, t: "/api/mp/v1/teams", {Role.RESIDENT}, EVERYONE),
    Case("mp offers", "GET", lambda w, t: f"/api/mp/v1/residents/{w.residents[t].id}/offers", {Role.RESIDENT},
         RESIDENTS, targets=R),
    Case("mp sign", "POST", lambda w, t: "/api/mp/v1/contracts/sign", {Role.RESIDENT}, RESIDENTS, targets=R,
         writes=True, ok=409,  # everyone in the world already holds this year's contract
         body=lambda w, t: {"resident_id": w.residents[t].id, "team_id": w.teams["T3"].id,
                            "package_version_id": w.packages["A"].id, "consent": True}),
    Case("mp contract view", "GET", lambda w, t: f"/api/mp/v1/contracts/{w.contracts[t].id}/view",
         {Role.RESIDENT}, RESIDENTS, targets=R),
    Case("mp payment", "POST", lambda w, t: f"/api/mp/v1/contracts/{w.contracts[t].id}/payment",
         {Role.RESIDENT}, RESIDENTS, targets=R, ok=422, writes=True),
    Case("mp payment check", "POST", lambda w, t: f"/api/mp/v1/contracts/{w.contracts[t].id}/payment/check",
         {Role.RESIDENT}, RESIDENTS, targets=R, writes=True),  # paid already: nothing to ask WeChat Pay
    Case("mp renew", "POST", lambda w, t: f"/api/mp/v1/contracts/{w.contracts[t].id}/renew", {Role.RESIDENT},
         RESIDENTS, targets=R, ok=(201, 422), writes=True, body=lambda w, t: {"consent": True}),
    Case("mp change team", "POST", lambda w, t: f"/api/mp/v1/contracts/{w.contracts[t].id}/change-team",
         {Role.RESIDENT}, RESIDENTS, targets=R, ok=201, writes=True,
         body=lambda w, t: {"team_id": w.teams["T3"].id, "reason": "就近签约"}),
    Case("mp cancel", "POST", lambda w, t: f"/api/mp/v1/contracts/{w.contracts[t].id}/cancel", {Role.RESIDENT},
         RESIDENTS, targets=R, writes=True, body=lambda w, t: {"reason": "暂不需要"}),
    Case("mp family remove", "DELETE", lambda w, t: f"/api/mp/v1/me/family/{w.residents[t].id}", {Role.RESIDENT},
         {"resident": {"R1", "R5"}, "resident_2": {"R2"}}, targets=R, ok=(204, 422), writes=True),
    Case("mp proxies on me", "GET", lambda w, t: "/api/mp/v1/me/proxies-on-me", {Role.RESIDENT}, EVERYONE),
    Case("mp accept proxy", "POST", lambda w, t: f"/api/mp/v1/me/proxies-on-me/{pending_proxy(w, t).id}/accept",
         {Role.RESIDENT}, OWN_IDENTITY, targets=R, writes=True),
    Case("mp end proxy on me", "DELETE", lambda w, t: f"/api/mp/v1/me/proxies-on-me/{pending_proxy(w, t).id}",
         {Role.RESIDENT}, OWN_IDENTITY, targets=R, ok=204, writes=True),
    Case("doctor proxy confirmation", "POST", lambda w, t: "/api/doctor/v1/proxy-confirmations", {Role.TEAM_MEMBER},
         EVERYONE, ok=201, writes=True, body=lambda w, t: {
             "invitation_code": pending_proxy(w, "R3").invitation_code, "documents_seen": ["id_card"]}),
    Case("mp service records", "GET", lambda w, t: "/api/mp/v1/service-records", {Role.RESIDENT}, RESIDENTS,
         list_ids=lambda w, keys: {w.records[k].id for k in keys}),
    Case("mp confirm", "POST", lambda w, t: f"/api/mp/v1/service-records/{w.records[t].id}/confirm",
         {Role.RESIDENT}, RESIDENTS, targets=R, writes=True),
    Case("mp dispute", "POST", lambda w, t: f"/api/mp/v1/service-records/{w.records[t].id}/dispute",
         {Role.RESIDENT}, RESIDENTS, targets=R, writes=True, body=lambda w, t: {"reason": "没有接受该服务"}),
    Case("mp prescriptions", "GET", lambda w, t: "/api/mp/v1/prescriptions", {Role.RESIDENT}, RESIDENTS,
         list_ids=lambda w, keys: set()),
    Case("mp invitations", "GET", lambda w, t: "/api/mp/v1/survey-invitations", {Role.RESIDENT}, RESIDENTS,
         list_ids=lambda w, keys: {w.invitations[k].id for k in keys}),
    Case("mp survey response", "POST",
         lambda w, t: f"/api/mp/v1/survey-invitations/{w.invitations[t].id}/response", {Role.RESIDENT}, RESIDENTS,
         targets=R, ok=201, writes=True,
         body=lambda w, t: {"score_ability": 5, "score_attitude": 5, "score_timeliness": 5, "score_overall": 5}),
    Case("doctor logout", "POST", lambda w, t: "/api/doctor/v1/auth/logout", {Role.TEAM_MEMBER}, EVERYONE, ok=204,
         writes=True),
    Case("doctor patients", "GET", lambda w, t: "/api/doctor/v1/patients", {Role.TEAM_MEMBER}, RESIDENTS,
         list_ids=ids_of("contracts")),
    Case("doctor patient", "GET", lambda w, t: f"/api/doctor/v1/patients/{w.residents[t].id}", {Role.TEAM_MEMBER},
         RESIDENTS, targets=R),
    Case("doctor service records", "GET", lambda w, t: "/api/doctor/v1/service-records", {Role.TEAM_MEMBER},
         RESIDENTS, list_ids=lambda w, keys: {w.records[k].id for k in keys}),
    Case("doctor log service", "POST", lambda w, t: "/api/doctor/v1/service-records", {Role.TEAM_MEMBER},
         RESIDENTS, targets=R, ok=201, writes=True, body=lambda w, t: {
             "contract_id": w.contracts[t].id, "package_item_id": w.records[t].package_item_id,
             "service_type": "clinic", "served_at": yesterday(),
             "reading": {"systolic_mmhg": 128, "diastolic_mmhg": 80}}),
    Case("doctor follow-up call", "POST", lambda w, t: "/api/doctor/v1/follow-up-calls", {Role.TEAM_MEMBER},
         RESIDENTS, targets=R, ok=201, writes=True,
         body=lambda w, t: {"contract_id": w.contracts[t].id, "called_at": yesterday(), "outcome": "reached"}),
    Case("doctor health record", "PUT", lambda w, t: f"/api/doctor/v1/patients/{w.residents[t].id}/health-record",
         {Role.TEAM_MEMBER}, RESIDENTS, targets=R, writes=True,
         body=lambda w, t: {"updated_on": local_today().isoformat()}),
    Case("doctor prescriptions", "GET", lambda w, t: "/api/doctor/v1/prescriptions", {Role.TEAM_MEMBER}, RESIDENTS,
         list_ids=lambda w, keys: set()),
    Case("doctor prescribe", "POST", lambda w, t: "/api/doctor/v1/prescriptions", {Role.TEAM_MEMBER}, RESIDENTS,
         targets=R, ok=201, writes=True, body=lambda w, t: {
             "contract_id": w.contracts[t].id, "issued_on": local_today().isoformat(), "weeks": 4,
             "items": [{"drug_code": "XC08CAA", "drug_name": "氨氯地平片", "drug_class": "calcium_channel_blocker",
                        "dosage": "5mg", "frequency": "每日一次", "quantity": "28", "unit": "片"}]}),
    Case("doctor contract view", "GET", lambda w, t: f"/api/doctor/v1/contracts/{w.contracts[t].id}/view",
         {Role.TEAM_MEMBER}, RESIDENTS, targets=R),
    Case("doctor contract", "GET", lambda w, t: f"/api/doctor/v1/contracts/{w.contracts[t].id}",
         {Role.TEAM_MEMBER}, RESIDENTS, targets=R),
    # --- fhir ---
    # De-identified purposes, so no response carries a person's ID number (test_personal_data reads them all).
    Case("fhir export", "GET", lambda w, t: f"{A}/fhir/$export?purpose_code=research&purpose=签约人群血压控制研究",
         {Role.BUREAU_STAFF}, EVERYONE, ok=202, writes=True),
    Case("fhir export institution", "GET", lambda w, t: f"{A}/fhir/$export?_type=Patient,Encounter"
         f"&institution={w.institutions[t].id}&purpose_code=statistics&purpose=机构签约服务统计",
         {Role.BUREAU_STAFF}, INSTITUTIONS, targets=I, ok=202, writes=True),
    Case("fhir export status", "GET", lambda w, t: export_job_path(w), {Role.BUREAU_STAFF}, {"bureau": {"-"}}),
    Case("fhir export file", "GET", lambda w, t: export_job_path(w, "/Patient.ndjson"), {Role.BUREAU_STAFF},
         {"bureau": {"-"}}, writes=True),
    Case("fhir everything", "GET", lambda w, t: f"{A}/fhir/Patient/{w.residents[t].id}/$everything"
         "?purpose_code=research&purpose=高血压签约患者随访研究", {Role.BUREAU_STAFF}, RESIDENTS, targets=R),
    # --- exchange (uploading a file is tested in tests/test_claims_import.py: its body is no JSON) ---
    Case("exchange imports", "GET", lambda w, t: f"{A}/exchange/imports", {Role.BUREAU_STAFF}, EVERYONE),
    Case("exchange import", "GET", exchange_batch_path, {Role.BUREAU_STAFF}, {"bureau": {"-"}}),
    Case("claim totals", "GET", lambda w, t: f"{A}/claims/totals?year=2026", {Role.BUREAU_STAFF}, EVERYONE),
    # --- roster-benefits ---
    Case("benefit alert list", "GET", lambda w, t: alert_path(w, "R1").rsplit("/", 1)[0], MANAGING, RESIDENTS,
         list_ids=alert_ids),
    Case("benefit alert get", "GET", lambda w, t: alert_path(w, t), MANAGING, RESIDENTS, targets=R),
    Case("benefit alert resolve", "POST", lambda w, t: alert_path(w, t, "/resolve"), {Role.BUREAU_STAFF}, RESIDENTS,
         targets=R, writes=True, body=lambda w, t: {"note": "已核实并终止两病用药保障登记"}),
]

PARAMS = [pytest.param(case, target, caller, id=f"{case.name}-{target}-{caller}")
          for case in CASES for target in case.targets for caller in CALLERS]


@pytest.mark.parametrize("case, target, caller", PARAMS)
def test_endpoint_respects_role_and_scope(client, world, case, target, caller):
    url = case.path(world, target)
    body = case.body(world, target) if case.body else None
    before = db_fingerprint() if case.writes else None
    response = client.open(url, method=case.method, json=body, headers=world.headers(caller))
    role = CALLERS[caller]

    if role is None:
        assert_error_shape(response, 401)
    elif role not in case.roles:
        assert_error_shape(response, 403)
    elif case.list_ids is not None:
        assert response.status_code == 200, response.get_json()
        shown = {item[case.item_id] for item in response.get_json()["items"]}
        assert shown == case.list_ids(world, case.visible.get(caller, set()))
    elif target in case.visible.get(caller, set()):
        assert response.status_code in (case.ok if isinstance(case.ok, tuple) else (case.ok,)), response.get_json()
        return
    else:
        assert_error_shape(response, 404)

    if before is not None:
        assert db_fingerprint() == before, "a refused call changed the database"
