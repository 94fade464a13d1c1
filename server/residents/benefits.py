"""Outpatient benefits a person already holds (门诊慢特病等待遇), which a contract must not pay twice.

The rule is one SQL predicate, `held_against`: a registration of the person, valid on some
day of a period, for a disease the package serves them for — the package's target diseases
the region covers and the person has, or, when they have none of those, all its targets (as
signing decides). Signing, prescribing, dispensing and the bureau's registration files all
ask it, for one person or for a whole region at once.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from server.common.sqlfuncs import json_list_has
from server.contracts.models import Contract
from server.extensions import db
from server.packages.models import PackageVersion
from server.regions.models import LocalRules
from server.residents.models import BenefitEnrolment, ChronicCondition

Codes = Sequence[str] | sa.ColumnElement  # a list in Python, or a JSON list column


def _listed(codes: Codes, code: sa.ColumnElement) -> sa.ColumnElement[bool]:
    if isinstance(codes, (list, tuple)):
        return code.in_(sorted(codes))
    return json_list_has(codes, code)


def package_disease(code: sa.ColumnElement, resident_id, targets: Codes, covered: Codes) -> sa.ColumnElement[bool]:
    """`code` is a disease the package (`targets`, under rules covering `covered`) serves the person for."""
    def served(disease):
        return sa.and_(_listed(targets, disease), _listed(covered, disease))

    had = aliased(ChronicCondition)
    has_served = sa.exists().where(had.resident_id == resident_id, served(had.disease_code))
    return sa.or_(
        sa.and_(served(code), sa.exists().where(had.resident_id == resident_id, had.disease_code == code)),
        sa.and_(_listed(targets, code), sa.not_(has_served)))


def held_against(resident_id, targets: Codes, covered: Codes, start, end) -> sa.ColumnElement[bool]:
    """The `BenefitEnrolment` row is the person's, valid on some day from `start` to `end`, for a
    disease the package serves them for: a benefit the contract would pay twice."""
    return sa.and_(
        BenefitEnrolment.resident_id == resident_id,
        BenefitEnrolment.valid_from <= end,
        sa.or_(BenefitEnrolment.valid_to.is_(None), BenefitEnrolment.valid_to >= start),
        package_disease(BenefitEnrolment.disease_code, resident_id, targets, covered))


def held_for_package(resident_id: int, version: PackageVersion, rules: LocalRules, on: date) -> list[BenefitEnrolment]:
    """Other benefits the person holds on `on` that signing `version` under `rules` would pay twice."""
    return list(db.session.scalars(sa.select(BenefitEnrolment).where(held_against(
        resident_id, version.target_disease_codes, rules.covered_disease_codes, on, on)).order_by(BenefitEnrolment.id)))


def held_under(contract: Contract, on: date) -> list[BenefitEnrolment]:
    """Other benefits the contract's holder holds on `on` for what the contract's package serves them for."""
    return held_under_contracts([contract.id], on).get(contract.id, [])


def held_under_contracts(contract_ids: list[int], on: date) -> dict[int, list[BenefitEnrolment]]:
    """`held_under` for many contracts in one query: contract → the benefits held on `on`."""
    held: dict[int, list[BenefitEnrolment]] = {}
    for contract_id, enrolment in db.session.execute(
            sa.select(Contract.id, BenefitEnrolment)
            .join(PackageVersion, PackageVersion.id == Contract.package_version_id)
            .join(LocalRules, LocalRules.id == Contract.rules_id)
            .join(BenefitEnrolment, held_against(Contract.resident_id, PackageVersion.target_disease_codes,
                                                 LocalRules.covered_disease_codes, on, on))
            .where(Contract.id.in_(contract_ids)).order_by(Contract.id, BenefitEnrolment.id)):
        held.setdefault(contract_id, []).append(enrolment)
    return held


def contract_conflict(today: date) -> sa.ColumnElement[bool]:
    """Joined with `Contract`, its `PackageVersion` and the `LocalRules` it was signed under: the
    `BenefitEnrolment` row overlaps what remains of the contract's period from `today`."""
    remaining_from = sa.case((Contract.period_start > today, Contract.period_start), else_=sa.literal(today, sa.Date))
    return sa.and_(Contract.period_end >= today, held_against(
        Contract.resident_id, PackageVersion.target_disease_codes, LocalRules.covered_disease_codes,
        remaining_from, Contract.period_end))
