"""Roles are declared once, on the use case (`@allowed`): every view names the use case it runs,
and both the view's check and the OpenAPI `x-roles` come from that declaration."""
from __future__ import annotations

import inspect
import pathlib
import re

import pytest

from server.identity import scoping

ROOT = pathlib.Path(__file__).resolve().parents[1]

# Endpoints anyone may call, and why.
PUBLIC = {
    "healthz": "liveness: monitoring asks whether the process answers",
    "readyz": "readiness: monitoring asks whether the database answers",
    "admin_auth.Login": "sign-in: the caller has no token yet",
    "doctor.Login": "sign-in: the caller has no token yet",
    "doctor.WechatLogin": "sign-in: the caller has no token yet",
    "mp_account.WechatLogin": "sign-in: the caller has no token yet",
    "mp_notify.wechatpay_notify": "WeChat Pay calls it, proven by its signature, not a token",
    "api-docs.openapi_json": "the API's own description",
    "api-docs.openapi_swagger_ui": "the API's own description",
    "swagger_assets": "the documentation page's scripts and styles",
    "static": "static files",
}


def _views(app):
    """(endpoint, HTTP method, view function, blueprint) of every view in the app."""
    for endpoint, function in sorted(app.view_functions.items()):
        view_class = getattr(function, "view_class", None)
        if view_class is None:
            yield endpoint, None, function, None
            continue
        blueprint = app.blueprints[endpoint.split(".", 1)[0]]
        for method in sorted(view_class.methods):
            yield endpoint, method, getattr(view_class, method.lower()), blueprint


def _operation_path(app, endpoint: str) -> str:
    rule = next(app.url_map.iter_rules(endpoint))
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)


def test_every_view_runs_a_use_case_with_declared_roles_or_is_listed_as_public(app):
    problems = []
    for endpoint, method, view, _ in _views(app):
        use_case = getattr(view, "use_case", None)
        if endpoint in PUBLIC:
            if use_case is not None:
                problems.append(f"{endpoint} is listed as public but requires {use_case.__qualname__}")
            continue
        if use_case is None or not getattr(use_case, "roles", None):
            problems.append(f"{endpoint} {method}: no use case with declared roles")
        elif f".{use_case.__name__}(" not in inspect.getsource(view):
            problems.append(f"{endpoint} {method}: names {use_case.__qualname__} but does not call it")
    assert not problems, "\n".join(problems)


def test_openapi_roles_are_the_use_case_roles_the_api_serves(app, client):
    spec = client.get("/api/openapi.json").get_json()
    checked = set()
    for endpoint, method, view, blueprint in _views(app):
        if method is None or endpoint in PUBLIC:
            continue
        path = _operation_path(app, endpoint)
        operation = spec["paths"][path][method.lower()]
        declared = view.use_case.roles
        assert operation["x-roles"] == [role.value for role in declared if role in blueprint.serves], (path, method)
        assert operation["x-roles"], (path, method)
        assert operation["security"] == [{"bearerAuth": []}], (path, method)
        checked.add((path, method.lower()))
    documented = {(path, method) for path, operations in spec["paths"].items() for method in operations
                  if "x-roles" in operations[method] or "security" in operations[method]}
    assert documented == checked
    assert len(checked) > 80


@pytest.mark.parametrize("caller, status", [("resident", 403), ("doctor", 403), ("manager", 200)])
def test_a_use_case_shared_by_several_apis_is_open_on_each_only_to_its_callers(client, world, caller, status):
    """Reading a contract is one use case for managers, team members and residents; the
    console still refuses a team member and a resident, before anything else is looked at."""
    response = client.get(f"/api/admin/v1/contracts/{world.contracts['R1'].id}", headers=world.headers(caller))
    assert response.status_code == status


def test_no_module_checks_a_role_outside_the_declaration():
    assert not hasattr(scoping, "require_role")
    machinery = {"server/identity/roles.py", "server/web/auth.py"}
    written = [name for folder in ("server", "admin", "miniprogram_api") for path in (ROOT / folder).rglob("*.py")
               if (name := path.relative_to(ROOT).as_posix()) not in machinery
               and re.search(r"require_role|actor\.role not in", path.read_text(encoding="utf-8"))]
    assert written == []
