"""The demo region loads with realistic volume, valid identities, and working sign-ins."""
from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa

from server.assessment.models import AssessmentRun, InstitutionResult, RunStatus
from server.common import idcard
from server.contracts.models import Contract
from server.demo import seed
from server.extensions import db
from server.residents.models import Resident
from server.servicerecords.models import ServiceRecord


@pytest.fixture
def demo(app):
    return seed.seed_demo()


def test_demo_region_has_the_promised_volume(demo):
    assert demo.institutions >= 3 and demo.teams >= 6 and demo.staff >= 20 and demo.residents >= 2000
    assert demo.service_records > demo.contracts > 0 and demo.readings and demo.prescriptions
    assert demo.claims and demo.survey_responses
    years = set(db.session.scalars(sa.select(Contract.period_year).distinct()))
    assert {2025, 2026} <= years
    # Service starts once every share is in place [Z-2.2.2]: no visit before its contract became active.
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ServiceRecord).join(
        Contract, Contract.id == ServiceRecord.contract_id).where(sa.or_(
            Contract.activated_at.is_(None), ServiceRecord.served_at < Contract.activated_at))) == 0
    assert seed.demo_already_loaded()
    assert "bureau" in demo.describe()


def test_demo_has_a_draft_2025_assessment_with_every_institution_scored(demo):
    run = db.session.get(AssessmentRun, demo.assessment_run_id)
    assert (run.year, run.status) == (2025, RunStatus.DRAFT)
    results = db.session.scalars(sa.select(InstitutionResult).where(InstitutionResult.run_id == run.id)).all()
    assert len(results) == demo.institutions and all(r.signed_heads > 0 for r in results)
    assert all(Decimal(0) < r.total_points < Decimal(100) for r in results)


def test_demo_residents_have_valid_id_numbers_stored_encrypted(demo):
    residents = db.session.scalars(sa.select(Resident).limit(200)).all()
    assert all(idcard.is_valid(r.id_number) for r in residents)
    raw = db.session.execute(sa.text("SELECT id_number FROM resident LIMIT 5")).scalars().all()
    assert all(value.startswith("v1:") for value in raw)


def test_demo_accounts_sign_in_as_printed(client, demo):
    response = client.post("/api/admin/v1/auth/login", json={"username": "bureau", "password": seed.PASSWORD})
    assert response.status_code == 200
    token = response.get_json()["token"]
    page = client.get("/api/admin/v1/contracts?per_page=5", headers={"Authorization": f"Bearer {token}"})
    assert page.get_json()["total"] >= 2000
    assessor = client.post("/api/admin/v1/auth/login", json={"username": "assessor", "password": seed.PASSWORD})
    headers = {"Authorization": f"Bearer {assessor.get_json()['token']}"}
    assigned = client.get(f"/api/admin/v1/assessment/runs/{demo.assessment_run_id}/results", headers=headers)
    assert [r["institution_code"] for r in assigned.get_json()["items"]] == [spec.code for spec in seed.ASSESSED]
    assert client.get("/api/admin/v1/contracts", headers=headers).status_code == 403


def test_loading_twice_is_refused(demo):
    with pytest.raises(seed.DemoAlreadyLoaded):
        seed.seed_demo()
