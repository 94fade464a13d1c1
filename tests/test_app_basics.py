"""The platform answers health checks and serves a generated OpenAPI document."""


def test_healthz_answers_without_the_database(client, monkeypatch):
    from server.extensions import db

    def refuse(*args, **kwargs):
        raise AssertionError("healthz touched the database")

    monkeypatch.setattr(db.session, "execute", refuse)
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_checks_the_database(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["status"] == "ready"


def test_openapi_document_is_generated(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    assert spec["openapi"].startswith("3.")
    assert "bearerAuth" in spec["components"]["securitySchemes"]


def test_openapi_document_is_valid_and_documents_errors_and_roles(client):
    from openapi_spec_validator import validate

    spec = client.get("/api/openapi.json").get_json()
    validate(spec)
    operation = spec["paths"]["/api/admin/v1/contracts"]["get"]
    assert operation["security"] == [{"bearerAuth": []}]
    assert set(operation["x-roles"]) == {"bureau_staff", "institution_manager"}
    assert "Error" in spec["components"]["schemas"]


def test_interactive_docs_are_served_offline(client):
    page = client.get("/api/docs")
    assert page.status_code == 200
    assert b"/api/docs/static/" in page.data
    assert client.get("/api/docs/static/swagger-ui-bundle.js").status_code == 200


def test_unknown_path_gets_the_error_shape(client):
    response = client.get("/api/admin/v1/no-such-thing")
    assert response.status_code == 404
    body = response.get_json()
    assert body["code"] == "NOT_FOUND" and body["message"] and "details" in body


def test_chinese_messages_are_sent_as_utf8_not_escaped(client):
    response = client.get("/api/admin/v1/me")
    assert "请先登录" in response.get_data(as_text=True)


def test_documented_error_codes_are_codes_the_server_really_raises(client):
    from pathlib import Path

    source = "\n".join(p.read_text(encoding="utf-8") for package in ("server", "miniprogram_api", "admin")
                       for p in Path(package).rglob("*.py"))
    spec = client.get("/api/openapi.json").get_json()
    documented = {code for path in spec["paths"].values() for op in path.values() if isinstance(op, dict)
                  for code in op.get("x-error-codes", [])}
    assert "CONTRACT_EXISTS" in documented and "TEAM_FULL" in documented
    assert not {code for code in documented if f'"{code}"' not in source}
