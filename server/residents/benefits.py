"""Outpatient benefits a person already holds (门诊慢特病等待遇), which a contract must not pay twice."""
from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from server.common.timeutil import local_today
from server.extensions import db
from server.residents.models import BenefitEnrolment


def active_benefits(resident_id: int, disease_codes: list[str], on: date | None = None) -> list[BenefitEnrolment]:
    """Other outpatient benefits the person holds for any of these diseases on a date."""
    on = on or local_today()
    return list(db.session.scalars(sa.select(BenefitEnrolment).where(
        BenefitEnrolment.resident_id == resident_id, BenefitEnrolment.disease_code.in_(disease_codes),
        BenefitEnrolment.valid_from <= on,
        sa.or_(BenefitEnrolment.valid_to.is_(None), BenefitEnrolment.valid_to >= on))))
