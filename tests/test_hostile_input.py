"""Hostile input never gets a 500: out-of-range integers, control characters, deep or huge JSON.

Derived like tests/test_bad_input.py from the scope matrix (bodies) and from the OpenAPI
document (query and path parameters), so a new endpoint is covered the day it is added.
"""
from __future__ import annotations

import copy
import json
from decimal import Decimal, InvalidOperation
from io import BytesIO

import openpyxl
import pytest
import sqlalchemy as sa

from server.assessment import runs, schemes
from server.assessment.models import AssessmentRun
from server.common.timeutil import local_today
from server.extensions import db
from server.identity.models import UserAccount
from server.identity.services import _staff_actor
from server.institutions.models import Institution
from server.web.input_guard import BIGINT_MAX, MAX_JSON_DEPTH, json_depth
from tests.helpers import assert_error_shape, db_fingerprint
from tests.test_bad_input import BODY_CASES, _allowed_caller
from tests.test_imports import as_csv, created, jsonl, post, row

OUT_OF_RANGE = [2**63, -2**63 - 1, 10**30]
# C0 (NUL, ESC), DEL, C1 (NEL), a bidirectional override and a lone surrogate.
HOSTILE_CHARACTERS = ["\x00", "\x1b", "\x7f", "\x85", "\u202e", "\ud800"]
CALLER_OF_ROLE = {"bureau_staff": "bureau", "assessor": "assessor", "institution_manager": "manager",
                  "team_member": "doctor", "resident": "resident"}


def _leaves(value, path=()):
    """(path, value) of every scalar inside a JSON body."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, (*path, index))
    else:
        yield path, value


def _replaced(body, path, value):
    changed = copy.deepcopy(body)
    holder = changed
    for step in path[:-1]:
        holder = holder[step]
    holder[path[-1]] = value
    return changed


def _send_each(client, world, case, make_bodies) -> list[str]:
    """Send every body `make_bodies(valid_body)` yields; the problems: no named 422, or a write."""
    target = case.targets[0]
    url, headers = case.path(world, target), world.headers(_allowed_caller(case, target))
    valid = case.body(world, target)
    before = db_fingerprint()
    problems = []
    for label, field, body in make_bodies(valid):
        # json.dumps escapes a lone surrogate, which the test client's own encoder cannot send.
        response = client.open(url, method=case.method, headers=headers, data=json.dumps(body),
                               content_type="application/json")
        answer = response.get_json(silent=True) or {}
        if response.status_code != 422 or answer.get("code") != "VALIDATION_ERROR" \
                or field not in answer["details"].get("fields", {}):
            problems.append(f"{label}: {response.status_code} {response.get_data(as_text=True)[:200]}")
        if db_fingerprint() != before:
            problems.append(f"{label}: a refused request wrote to the database")
            break
    return problems


def _integer_bodies(valid):
    for path, value in _leaves(valid):
        if type(value) is int:
            for number in OUT_OF_RANGE:
                yield f"{'.'.join(map(str, path))}={number}", path[0], _replaced(valid, path, number)


def _text_bodies(valid):
    for path, value in _leaves(valid):
        if isinstance(value, str) and value and not _is_decimal(value):
            for character in HOSTILE_CHARACTERS:
                label = f"{'.'.join(map(str, path))} with U+{ord(character):04X}"
                yield label, path[0], _replaced(valid, path, value[:1] + character + value[1:])


def _is_decimal(value: str) -> bool:
    """Exact decimals (scores, quantities) travel as strings but are numbers, not text."""
    try:
        Decimal(value)
    except InvalidOperation:
        return False
    return True


@pytest.mark.parametrize("case", BODY_CASES, ids=lambda c: c.name)
def test_integers_beyond_bigint_in_a_body_are_422_naming_the_field(client, world, case):
    assert not _send_each(client, world, case, _integer_bodies)


@pytest.mark.parametrize("case", BODY_CASES, ids=lambda c: c.name)
def test_control_characters_in_any_text_of_a_body_are_422_naming_the_field(client, world, case):
    assert not _send_each(client, world, case, _text_bodies)


def _operations(client):
    spec = client.get("/api/openapi.json").get_json()
    for path, item in spec["paths"].items():
        shared = item.get("parameters", [])
        for method, operation in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                yield path, method, operation, [*shared, *operation.get("parameters", [])]


def test_integers_beyond_bigint_in_any_documented_body_are_422_naming_the_field(client, world):
    """Every endpoint the document lists, not only those in the scope matrix: each integer
    property of a JSON body, sent alone (other fields missing are named too, but so is this one)."""
    spec = client.get("/api/openapi.json").get_json()
    checked, problems = 0, []
    before = db_fingerprint()
    for path, method, operation, parameters in _operations(client):
        schema = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
        properties = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]["properties"] \
            if "$ref" in schema else schema.get("properties", {})
        caller = next((CALLER_OF_ROLE[role] for role in operation.get("x-roles", [])), "anonymous")
        url = path
        for parameter in parameters:
            url = url.replace("{" + parameter["name"] + "}", "1")
        for name, field in properties.items():
            if field.get("type") != "integer" or field.get("readOnly"):
                continue
            checked += 1
            response = client.open(url, method=method.upper(), json={name: 2**63}, headers=world.headers(caller))
            body = response.get_json(silent=True) or {}
            if response.status_code != 422 or name not in body.get("details", {}).get("fields", {}):
                problems.append(f"{method.upper()} {path} {name}: {response.status_code} {body}")
    assert checked > 20 and not problems, problems
    assert db_fingerprint() == before


def test_integers_beyond_bigint_in_a_query_are_422_naming_the_parameter(client, world):
    checked, problems = 0, []
    before = db_fingerprint()
    for path, method, operation, parameters in _operations(client):
        if method != "get" or "{" in path:
            continue
        caller = next((CALLER_OF_ROLE[role] for role in operation.get("x-roles", [])), "anonymous")
        for parameter in parameters:
            if parameter["in"] != "query" or parameter["schema"].get("type") != "integer":
                continue
            for number in OUT_OF_RANGE:
                checked += 1
                response = client.get(f"{path}?{parameter['name']}={number}", headers=world.headers(caller))
                body = response.get_json(silent=True) or {}
                if response.status_code != 422 or parameter["name"] not in body["details"].get("fields", {}):
                    problems.append(f"GET {path}?{parameter['name']}={number}: {response.status_code}")
    assert checked > 30 and not problems, problems
    assert db_fingerprint() == before


def test_integers_beyond_bigint_in_a_path_are_422_naming_the_parameter_before_sign_in(client, world):
    checked, problems = 0, []
    before = db_fingerprint()
    for path, method, _operation, parameters in _operations(client):
        ids = [p for p in parameters if p["in"] == "path" and p["schema"].get("maximum") == BIGINT_MAX]
        for parameter in ids:
            for number in ("9223372036854775808", "1" + "0" * 30, "9" * 5000):
                url = path
                for other in parameters:
                    if other["in"] == "path":
                        url = url.replace("{" + other["name"] + "}", number if other is parameter else "1")
                checked += 1
                response = client.open(url, method=method.upper(), json={} if method != "get" else None)
                body = response.get_json(silent=True) or {}
                if response.status_code != 422 or parameter["name"] not in body["details"].get("fields", {}):
                    problems.append(f"{method.upper()} {path} {parameter['name']}: {response.status_code}")
    assert checked > 100 and not problems, problems
    assert db_fingerprint() == before


def test_the_largest_bigint_is_still_an_id_that_is_not_found(client, world):
    response = client.get(f"/api/admin/v1/institutions/{BIGINT_MAX}", headers=world.headers("bureau"))
    assert_error_shape(response, 404)
    response = client.get(f"/api/doctor/v1/service-records?contract_id={BIGINT_MAX}", headers=world.headers("doctor"))
    assert response.status_code == 200 and response.get_json()["items"] == []


@pytest.mark.parametrize("query", ["entity_id=%00", "entity_type=a%1Bb", "action=%E2%80%AE", "entity_id=a%0Ab"])
def test_control_characters_in_a_query_are_422(client, world, query):
    response = client.get(f"/api/admin/v1/audit-events?{query}", headers=world.headers("bureau"))
    body = assert_error_shape(response, 422)
    assert query.split("=")[0] in body["details"]["fields"]


def test_a_line_break_is_refused_in_a_name_but_kept_in_free_text(client, world):
    staff = client.post("/api/admin/v1/staff", headers=world.headers("manager"), json={
        "institution_id": world.institutions["I1"].id, "name": "林\n医生", "kind": "doctor"})
    assert "name" in assert_error_shape(staff, 422)["details"]["fields"]

    notes = "电话随访：\r\n\t血压平稳\n继续服药"
    call = client.post("/api/doctor/v1/follow-up-calls", headers=world.headers("doctor"), json={
        "contract_id": world.contracts["R1"].id, "called_at": "2026-03-02T10:00:00+08:00", "outcome": "reached",
        "notes": notes})
    assert call.status_code == 201, call.get_json()
    assert call.get_json()["notes"] == notes


# --- JSON bodies -----------------------------------------------------------------------------------

def _nested(depth: int, *, objects: bool = False) -> bytes:
    return (b'{"a":' * depth + b"1" + b"}" * depth) if objects else (b"[" * depth + b"]" * depth)


@pytest.mark.parametrize("body", [_nested(1000), _nested(1000, objects=True), _nested(MAX_JSON_DEPTH + 1)],
                         ids=["arrays", "objects", "one-too-deep"])
def test_deeply_nested_json_is_400_before_sign_in(client, world, body):
    for url in ("/api/admin/v1/auth/login", "/api/admin/v1/assessment/schemes", "/api/mp/v1/contracts/sign"):
        response = client.post(url, data=body, content_type="application/json")
        assert assert_error_shape(response, 400)["code"] == "JSON_TOO_DEEP", url


def test_deeply_nested_json_is_400_signed_in_and_writes_nothing(client, world):
    before = db_fingerprint()
    body = b'{"contract_id": 1, "reading": ' + _nested(1000) + b"}"
    response = client.post("/api/doctor/v1/service-records", data=body, content_type="application/json",
                           headers=world.headers("doctor"))
    assert assert_error_shape(response, 400)["code"] == "JSON_TOO_DEEP"
    assert db_fingerprint() == before


def test_brackets_inside_strings_do_not_count_as_nesting(client):
    body = json.dumps({"username": "[" * 1000 + '\\"{', "password": "x"}).encode()
    response = client.post("/api/admin/v1/auth/login", data=body, content_type="application/json")
    assert response.get_json()["code"] != "JSON_TOO_DEEP"


@pytest.mark.no_db
@pytest.mark.parametrize("text, depth", [
    ("{}", 1), ('[{"a": [1, {"b": []}]}]', 5), ('["[[[", "]"]', 1), (r'["\"[[["]', 1),
    ('"[[[', 0), ("[" * 40 + '"', 40), ("", 0),
])
def test_json_depth_counts_brackets_outside_strings(text, depth):
    assert json_depth(text) == depth


def test_an_oversized_json_body_is_413_before_sign_in(client):
    body = b'{"name": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    response = client.post("/api/admin/v1/assessment/schemes", data=body, content_type="application/json")
    assert assert_error_shape(response, 413)["code"] == "PAYLOAD_TOO_LARGE"


def test_an_import_file_may_be_larger_than_a_json_body(client, world):
    content = b"\n" * (3 * 1024 * 1024)
    response = client.post("/api/doctor/v1/imports?kind=service_records&format=csv", data=content,
                           content_type="text/csv", headers=world.headers("doctor"))
    assert assert_error_shape(response, 422)["code"] == "IMPORT_FILE_EMPTY"


def test_an_integer_of_thousands_of_digits_is_400(client):
    body = b'{"username": ' + b"1" * 5000 + b', "password": "x"}'
    response = client.post("/api/admin/v1/auth/login", data=body, content_type="application/json")
    assert_error_shape(response, 400)


# --- Imported files and stored text ----------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_control_character_in_an_imported_cell_fails_that_row_only(client, world, fmt):
    rows = [row(world, 1, place="卫生院\x1b[31m"), row(world, 2, notes="第一行\r\n\t第二行")]
    report = created(post(client, world, as_csv(rows) if fmt == "csv" else jsonl(rows), fmt=fmt))
    assert [(f["external_id"], f["code"]) for f in report["failures"]] == [("HIS-000001", "FIELD_INVALID")]
    assert "place" in report["failures"][0]["message"]
    assert report["rows_stored"] == 1


def _hostile_run(world) -> int:
    """A run whose stored scheme name and institution name hold what the API would refuse."""
    actor = _staff_actor(db.session.get(UserAccount, world.accounts["bureau"].id))
    scheme = schemes.create_scheme(actor, year=local_today().year, name="正常方案", copy_from_id=None)
    run = runs.start_run(actor, year=local_today().year, scheme_id=scheme.id)
    stored = db.session.get(AssessmentRun, run.id)
    stored.scheme_snapshot = {**stored.scheme_snapshot, "name": "=HYPERLINK(\"http://x\")\x07\x1b[31m方案\u202e"}
    db.session.execute(sa.update(Institution).where(Institution.id == world.institutions["I1"].id)
                       .values(name="\x01卫生院[1]\x1f"))
    db.session.commit()
    return run.id


def test_an_export_of_a_run_with_hostile_stored_text_opens_with_the_text_cleaned(client, world):
    run_id = _hostile_run(world)
    response = client.get(f"/api/admin/v1/assessment/runs/{run_id}/export.xlsx", headers=world.headers("bureau"))
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    book = openpyxl.load_workbook(BytesIO(response.data))
    assert "卫生院_1_" in book.sheetnames
    summary = book.worksheets[0]
    name_cell = next(row[1] for row in summary.iter_rows() if row[0].value == "方案名称")
    assert name_cell.value == '=HYPERLINK("http://x")[31m方案'
    assert name_cell.data_type == "s" and name_cell.quotePrefix, "a formula stays text"
    institution_names = [row[1].value for row in summary.iter_rows() if row[0].value == world.institutions["I1"].code]
    assert institution_names == ["卫生院[1]"]
