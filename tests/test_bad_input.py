"""Bad input to every endpoint that takes input: a 4xx in the one error shape, nothing written.

Derived from the scope matrix: each body-taking endpoint is called by a caller allowed to
use it on a target in scope, with its valid body broken in every way a client can break
it; each list endpoint gets broken paging and unknown parameters.
"""
from __future__ import annotations

import pytest

from tests.helpers import assert_error_shape, db_fingerprint
from tests.test_scope_matrix import CALLERS, CASES


def _allowed_caller(case, target):
    for caller, role in CALLERS.items():
        if role in case.roles and target in case.visible.get(caller, set()):
            return caller
    raise AssertionError(f"no caller may use {case.name}")


def _wrong_types(value):
    if isinstance(value, bool):
        return ["yes", 1, {"a": 1}]
    if isinstance(value, int):
        return ["abc", {"a": 1}, [1]]
    if isinstance(value, str):
        return [12345, {"a": 1}, ["x"], "x" * 5000]
    if isinstance(value, list):
        return ["not-a-list", {"a": 1}, [{"bad": object.__name__}]]
    if isinstance(value, dict):
        return ["not-an-object", [1, 2]]
    return [{"a": 1}]


def _body_mutations(body: dict):
    yield "empty object", {}
    yield "array instead of object", []
    yield "null body", None
    yield "unknown field", {**body, "unexpected_field": 1}
    for key, value in body.items():
        for i, wrong in enumerate(_wrong_types(value)):
            yield f"{key} wrong #{i}", {**body, key: wrong}


BODY_CASES = [case for case in CASES if case.body is not None]


@pytest.mark.parametrize("case", BODY_CASES, ids=lambda c: c.name)
def test_bad_body_gets_4xx_and_writes_nothing(client, world, case):
    target = case.targets[0]
    url, headers = case.path(world, target), world.headers(_allowed_caller(case, target))
    attempts = [("malformed json", {"data": "not json {", "content_type": "application/json"}),
                ("form encoded", {"data": "a=b", "content_type": "application/x-www-form-urlencoded"})]
    attempts += [(label, {"json": body}) for label, body in _body_mutations(case.body(world, target))]
    before = db_fingerprint()
    problems = []
    for label, request in attempts:
        response = client.open(url, method=case.method, headers=headers, **request)
        body = response.get_json(silent=True) or {}
        if response.status_code not in (400, 422) or set(body) != {"code", "message", "details"}:
            problems.append(f"{label}: {response.status_code} {response.get_data(as_text=True)[:200]}")
        elif response.status_code == 422 and "json" in request and not body["details"]:
            problems.append(f"{label}: a validation error should name the field")
        if db_fingerprint() != before:
            problems.append(f"{label}: a rejected request wrote to the database")
            break
    assert not problems, "\n".join(problems)


LIST_CASES = [case for case in CASES if case.method == "GET" and case.list_ids is not None]
BAD_QUERIES = ["page=0", "page=abc", "per_page=0", "per_page=101", "per_page=1.5", "page=-3",
               "surprise=1", "page=99999999999999999999999"]


@pytest.mark.parametrize("case", LIST_CASES, ids=lambda c: c.name)
@pytest.mark.parametrize("query", BAD_QUERIES)
def test_bad_paging_gets_422(client, world, case, query):
    caller = next(c for c, role in CALLERS.items() if role in case.roles)
    response = client.get(f"{case.path(world, '-')}?{query}", headers=world.headers(caller))
    assert_error_shape(response, 422)


@pytest.mark.parametrize("query", ["on=2026-13-01", "on=yesterday", "", "on="])
def test_rules_in_force_needs_a_real_date(client, world, query):
    response = client.get(f"/api/admin/v1/rules/in-force?{query}", headers=world.headers("bureau"))
    assert_error_shape(response, 422)


@pytest.mark.parametrize("id_number", ["350602196005170011", "12345", "35060219600517001X1"])
def test_resident_search_rejects_malformed_id_numbers(client, world, id_number):
    response = client.get(f"/api/admin/v1/residents?id_number={id_number}", headers=world.headers("bureau"))
    body = assert_error_shape(response, 422)
    assert id_number not in response.get_data(as_text=True), "the error must not echo an ID number"
    assert body["details"]


@pytest.mark.parametrize("path", ["/api/admin/v1/institutions/abc", "/api/admin/v1/residents/-1",
                                  "/api/mp/v1/contracts/1e3", "/api/doctor/v1/patients/%00"])
def test_malformed_path_ids_are_404(client, world, path):
    caller = "resident" if "/mp/" in path else "doctor" if "/doctor/" in path else "bureau"
    assert_error_shape(client.get(path, headers=world.headers(caller)), 404)


def test_login_with_missing_fields_is_422(client):
    body = assert_error_shape(client.post("/api/admin/v1/auth/login", json={"username": "x"}), 422)
    assert "password" in body["details"]["fields"]


@pytest.mark.parametrize("body", [None, {}, {"code": ""}, {"code": 123}, {"code": "x" * 500}, {"code": "a", "x": 1}])
def test_sign_in_rejects_bad_bodies(client, body):
    assert_error_shape(client.post("/api/mp/v1/auth/wechat-login", json=body), 422)


@pytest.mark.parametrize("headers, body", [
    ({}, b""),
    ({}, b"not json"),
    ({"Wechatpay-Signature": "abc", "Wechatpay-Timestamp": "x", "Wechatpay-Nonce": "n",
      "Wechatpay-Serial": "PUB_KEY_ID_X", "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048"}, b"{}"),
    ({"Content-Type": "application/json"}, b'{"resource": {"ciphertext": 1}}'),
])
def test_the_notify_endpoint_answers_garbage_with_fail_never_500(client, world, headers, body):
    before = db_fingerprint()
    response = client.post("/api/mp/v1/payments/notify", data=body, headers=headers)
    assert 400 <= response.status_code < 500 and response.get_json()["code"] == "FAIL"
    assert db_fingerprint() == before
