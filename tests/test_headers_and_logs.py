"""Personal data stays out of caches, logs and the demo's terminal; responses name no server version."""
from __future__ import annotations

import base64
import hashlib
import http.client
import io
import logging
import os
import re
import stat
import threading

import pytest
from werkzeug.serving import make_server

from server import logging_setup
from server.assessment import runs, schemes
from server.common import pii
from server.common.timeutil import local_today
from server.demo import seed
from server.extensions import db
from server.identity.models import UserAccount
from server.identity.services import _staff_actor
from server.web.headers import RequestHandler
from tests import factories
from tests.live import free_port


def _percent_encoded(text: str) -> str:
    """Every character as a %XX escape, as a careless (or hostile) client may send it."""
    return "".join(f"%{ord(character):02X}" for character in text)


def _export_url(world) -> str:
    actor = _staff_actor(db.session.get(UserAccount, world.accounts["bureau"].id))
    scheme = schemes.create_scheme(actor, year=local_today().year, name="测试方案", copy_from_id=None)
    return f"/api/admin/v1/assessment/runs/{runs.start_run(actor, year=local_today().year, scheme_id=scheme.id).id}" \
           "/export.xlsx"


# --- Headers ---------------------------------------------------------------------------------------

def test_every_api_answer_is_neither_sniffed_nor_stored_exports_and_errors_included(client, world):
    bureau = world.headers("bureau")
    answers = {
        "data": client.get(f"/api/admin/v1/residents/{world.residents['R1'].id}", headers=bureau),
        "export": client.get(_export_url(world), headers=bureau),
        "unauthenticated": client.get("/api/admin/v1/residents"),
        "not found": client.get("/api/admin/v1/no-such-thing", headers=bureau),
        "invalid": client.get("/api/admin/v1/residents?page=0", headers=bureau),
        "sign-in": client.post("/api/admin/v1/auth/login", json={"username": "x", "password": "y"}),
        "document": client.get("/api/openapi.json"),
    }
    assert answers["export"].status_code == 200 and answers["export"].mimetype.endswith("spreadsheetml.sheet")
    for name, response in answers.items():
        assert response.headers["X-Content-Type-Options"] == "nosniff", name
        assert response.headers["Cache-Control"] == "no-store", name
        assert response.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'", name


def test_outside_the_api_answers_are_not_sniffed_and_the_docs_assets_may_be_cached(client):
    for url in ("/healthz", "/api/docs/static/swagger-ui.css"):
        response = client.get(url)
        assert response.status_code == 200
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "no-store" not in response.headers.get("Cache-Control", "")


def test_the_docs_page_runs_its_own_start_up_script_and_nothing_else(client):
    response = client.get("/api/docs")
    policy = dict(part.strip().split(" ", 1) for part in response.headers["Content-Security-Policy"].split(";"))
    inline = re.findall(r"<script>(.*?)</script>", response.get_data(as_text=True), re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(inline[0].encode()).digest()).decode()
    assert policy["default-src"] == "'none'" and policy["frame-ancestors"] == "'none'"
    assert policy["script-src"] == f"'self' 'sha256-{digest}'"
    assert policy["connect-src"] == "'self'"
    assert response.headers["Cache-Control"] == "no-store"


def test_the_development_server_names_neither_its_nor_pythons_version(app):
    port = free_port()
    server = make_server("127.0.0.1", port, app, request_handler=RequestHandler)
    thread = threading.Thread(target=server.handle_request, daemon=True)
    thread.start()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", "/healthz")
    response = connection.getresponse()
    thread.join(10)
    server.server_close()
    assert response.status == 200
    assert response.getheader("Server") == "Jiayi"


# --- The access log --------------------------------------------------------------------------------

@pytest.fixture
def log_lines():
    """Every line logged meanwhile, through the real (scrubbing) formatter."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logging_setup.formatter(json=True))
    root = logging.getLogger()
    root.addHandler(handler)
    yield lambda: buffer.getvalue().splitlines()
    root.removeHandler(handler)


def test_percent_encoded_id_and_phone_numbers_are_masked_in_the_access_log(client, world, log_lines):
    resident = world.residents["R1"]
    number, phone = resident.id_number, resident.phone
    twice = _percent_encoded(number).replace("%", "%25")
    bureau, doctor = world.headers("bureau"), world.headers("doctor")
    client.get(f"/api/admin/v1/residents?id_number={_percent_encoded(number)}", headers=bureau)
    client.get(f"/api/admin/v1/residents?id_number={twice}", headers=bureau)
    client.get(f"/api/admin/v1/residents?name={_percent_encoded(phone)}&x=%2B86{phone}", headers=bureau)
    client.get(f"/api/doctor/v1/patients/{_percent_encoded(number)}", headers=doctor)
    client.get(f"/api/doctor/v1/patients/{twice}/{_percent_encoded(phone)}", headers=doctor)
    logging.getLogger("werkzeug").info('127.0.0.1 - - "GET /api/admin/v1/residents?id_number=%s HTTP/1.1" 200 -',
                                       _percent_encoded(number))

    lines = log_lines()
    access = [line for line in lines if '"jiayi.access"' in line]
    assert len(access) == 5
    for line in lines:
        assert number not in line and phone not in line, line
    masked_number, masked_phone = pii.mask_id_number(number), pii.mask_phone(phone)
    assert sum(masked_number in line for line in lines) == 5, "logged decoded, with the number masked"
    assert sum(masked_phone in line for line in lines) == 2


def test_a_decoded_line_break_cannot_forge_a_log_line(app, client):
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logging_setup.formatter(json=False))
    logger = logging.getLogger("jiayi.access")
    logger.addHandler(handler)
    try:
        client.get("/api/admin/v1/me%0A2026-01-01T00:00:00Z [info] forged%0D%1B[2K")
        client.get("/api/admin/v1/me%250A2026-01-01T00:00:00Z [info] forged%250D%251B[2K")  # decoded by the log
    finally:
        logger.removeHandler(handler)
    lines = buffer.getvalue().splitlines()
    assert len(lines) == 2 and all("forged" in line and "\x1b" not in line for line in lines)


# --- The demo's terminal ---------------------------------------------------------------------------

def test_the_demo_shows_masked_id_numbers_and_writes_the_full_ones_for_its_owner_only(world, tmp_path):
    patient = factories.make_resident(world.regions["A"], "郑丽华")
    db.session.commit()
    shown = seed.write_demo_patients(str(tmp_path))

    path = tmp_path / seed.DEMO_PATIENTS_FILE
    written = dict(line.split("\t") for line in path.read_text(encoding="utf-8").splitlines())
    assert written["郑丽华"] == patient.id_number
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert str(path) in shown and pii.mask_id_number(patient.id_number) in shown
    assert not any(number in shown for number in written.values())
