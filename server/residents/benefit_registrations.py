"""Benefit registrations (两病用药保障登记、门诊慢特病登记) from the bureau's core system, applied set-wise.

The import stages a file's rows and checks their fields; this step takes the staged rows as
a SQL selectable and, in the caller's transaction, a statement per effect:
- stores each registration once under its serial (`BenefitEnrolment.registration_no`,
  source "import"): the same content again is already stored; new dates (a registration that
  ended) update it; another person, scheme or disease under the same serial is refused
  (`BENEFIT_REGISTRATION_CONFLICT`); within a file the first line of a serial counts;
- raises a duplicate-benefit alert (`BenefitAlert`) for each active contract a registration of
  the file now overlaps, by the rule signing uses (`benefits.contract_conflict`), once: the
  alert's unique constraint and the insert's NOT EXISTS keep a resent file from raising it again.
"""
from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from server.common.timeutil import utcnow
from server.common.types import UTCDateTime
from server.contracts.models import Contract
from server.contracts.states import ContractStatus
from server.extensions import db
from server.imports.outcome import Applied
from server.packages.models import PackageVersion
from server.regions.models import LocalRules
from server.residents.benefits import contract_conflict
from server.residents.models import BenefitAlert, BenefitAlertStatus, BenefitEnrolment

IMPORTED = "import"
_WHO = ("resident_id", "scheme", "disease_code")  # what a serial names; never changes
_WHEN = ("valid_from", "valid_to")                # what a resent registration may change


def apply_benefit_registrations(region_id: int, batch_id: int, staged: sa.FromClause, today: date) -> Applied:
    """Apply the staged registrations of a region's file (columns `line`, `reg_sn`, `resident_id`,
    `scheme`, `disease_code`, `valid_from`, `valid_to`); applying the same rows again changes nothing."""
    applied = Applied()
    first = _first_line_of_each_serial(staged)
    rows = _classified(staged, first)
    counts = dict(db.session.execute(sa.select(rows.c.kind, sa.func.count()).group_by(rows.c.kind)).all())
    applied.already_stored = counts.get("repeat", 0)
    applied.failures = [
        (line, "reg_sn", "BENEFIT_REGISTRATION_CONFLICT",
         f"待遇登记流水号 {reg_sn} 已登记为其他人员、待遇类型或病种，本行未处理")
        for line, reg_sn in db.session.execute(sa.select(rows.c.line, rows.c.reg_sn)
                                               .where(rows.c.kind == "conflict").order_by(rows.c.line))]
    now = utcnow()
    updated = _update_dates(batch_id, rows, now)
    added = db.session.execute(sa.insert(BenefitEnrolment).from_select(
        ["registration_no", *_WHO, *_WHEN, "source", "batch_id", "created_at", "updated_at"],
        sa.select(rows.c.reg_sn, *(rows.c[name] for name in (*_WHO, *_WHEN)), sa.literal(IMPORTED),
                  sa.literal(batch_id), sa.literal(now, UTCDateTime()), sa.literal(now, UTCDateTime()))
        .where(rows.c.kind == "new")).execution_options(preserve_rowcount=True)).rowcount
    applied.stored = added + updated
    applied.changes = {"registrations_added": added, "registrations_updated": updated,
                       "alerts_raised": _raise_alerts(region_id, batch_id, first, today, now)}
    return applied


def _first_line_of_each_serial(staged: sa.FromClause) -> sa.Subquery:
    firsts = sa.select(staged.c.reg_sn, sa.func.min(staged.c.line).label("line")).group_by(staged.c.reg_sn).subquery()
    return (sa.select(staged.c.line, staged.c.reg_sn, *(staged.c[name] for name in (*_WHO, *_WHEN)))
            .join(firsts, sa.and_(firsts.c.reg_sn == staged.c.reg_sn, firsts.c.line == staged.c.line))
            .subquery("first_lines"))


def _same(one, other, names) -> sa.ColumnElement[bool]:
    return sa.and_(*(one[name].is_not_distinct_from(other[name]) for name in names))


def _classified(staged: sa.FromClause, first: sa.Subquery) -> sa.Subquery:
    """Each staged row with what it is: `new`, `changed` (dates), `repeat` (stored or earlier in
    the file, same content) or `conflict` (the serial names someone or something else)."""
    stored = BenefitEnrolment.__table__.c
    kind = sa.case(
        (staged.c.line != first.c.line,
         sa.case((_same(first.c, staged.c, (*_WHO, *_WHEN)), "repeat"), else_="conflict")),
        (BenefitEnrolment.id.is_(None), "new"),
        (sa.not_(_same(stored, staged.c, _WHO)), "conflict"),
        (_same(stored, staged.c, _WHEN), "repeat"),
        else_="changed")
    return (sa.select(staged.c.line, staged.c.reg_sn, *(staged.c[name] for name in (*_WHO, *_WHEN)),
                      BenefitEnrolment.id.label("enrolment_id"), kind.label("kind"))
            .join(first, first.c.reg_sn == staged.c.reg_sn)
            .outerjoin(BenefitEnrolment, sa.and_(BenefitEnrolment.source == IMPORTED,
                                                 BenefitEnrolment.registration_no == staged.c.reg_sn))
            .subquery("classified"))


def _update_dates(batch_id: int, rows: sa.Subquery, now) -> int:
    """A resent registration with new dates (typically an end date) updates the stored one."""
    changed = sa.select(rows).where(rows.c.kind == "changed").subquery("changed")

    def sent(name):
        return sa.select(changed.c[name]).where(changed.c.enrolment_id == BenefitEnrolment.id).scalar_subquery()

    return db.session.execute(
        sa.update(BenefitEnrolment).where(BenefitEnrolment.id.in_(sa.select(changed.c.enrolment_id)))
        .values(valid_from=sent("valid_from"), valid_to=sent("valid_to"), batch_id=batch_id, updated_at=now)
        .execution_options(synchronize_session=False)).rowcount


def _raise_alerts(region_id: int, batch_id: int, first: sa.Subquery, today: date, now) -> int:
    """One open alert per active contract of the region and registration of the file that now
    overlaps what remains of the contract, unless one was raised before."""
    return db.session.execute(sa.insert(BenefitAlert).from_select(
        ["region_id", "contract_id", "enrolment_id", "batch_id", "raised_at", "status", "resolution_note",
         "created_at", "updated_at"],
        sa.select(Contract.region_id, Contract.id, BenefitEnrolment.id, sa.literal(batch_id),
                  sa.literal(now, UTCDateTime()), sa.literal(BenefitAlertStatus.OPEN, BenefitAlert.status.type),
                  sa.literal(""), sa.literal(now, UTCDateTime()), sa.literal(now, UTCDateTime()))
        .select_from(Contract)
        .join(PackageVersion, PackageVersion.id == Contract.package_version_id)
        .join(LocalRules, LocalRules.id == Contract.rules_id)
        .join(BenefitEnrolment, contract_conflict(today))
        .where(Contract.region_id == region_id, Contract.status == ContractStatus.ACTIVE,
               BenefitEnrolment.source == IMPORTED, BenefitEnrolment.registration_no.in_(sa.select(first.c.reg_sn)),
               ~sa.exists().where(BenefitAlert.contract_id == Contract.id,
                                  BenefitAlert.enrolment_id == BenefitEnrolment.id)))
        .execution_options(preserve_rowcount=True)).rowcount
