"""Assessors' assignments (评估任务分配): the bureau gives a third-party assessor institutions to check in a run.

An assessor sees only what their assignments open (the models' `Level.ASSIGNMENT` scope):
PIPL's minimum necessary for someone outside the bureau. Assigning and withdrawing are audited.
"""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from server.assessment.models import AssessorAssignment, InstitutionResult
from server.assessment.runs import get_run
from server.audit import services as audit
from server.common.paging import Page, PageRequest, paginate_rows, where_given
from server.common.timeutil import utcnow
from server.common.uow import transaction
from server.errors import Conflict, NotFound
from server.extensions import db
from server.identity.models import UserAccount
from server.identity.roles import Actor, Role, allowed
from server.identity.scoping import scoped_select, visible
from server.institutions.models import Institution


@dataclass(frozen=True)
class AssignmentRow:
    """An assignment with the names the bureau reads it by."""

    assignment: AssessorAssignment
    assessor_name: str
    institution_code: str
    institution_name: str


def _rows(actor: Actor) -> sa.Select:
    return (sa.select(AssessorAssignment, UserAccount.display_name, Institution.code, Institution.name)
            .join(UserAccount, UserAccount.id == AssessorAssignment.account_id)
            .join(Institution, Institution.id == AssessorAssignment.institution_id)
            .where(visible(AssessorAssignment, actor)))


@allowed(Role.BUREAU_STAFF)
def assign(actor: Actor, run_id: int, *, account_id: int, institution_id: int) -> AssignmentRow:
    """Assign an assessor account of the run's region to one institution assessed in the run."""
    with transaction():
        run = get_run(actor, run_id)
        assessor = db.session.get(UserAccount, account_id)
        if (assessor is None or assessor.role is not Role.ASSESSOR or assessor.region_id != run.region_id
                or not assessor.is_active):
            raise NotFound("本地区没有该第三方评估人员账号", code="ASSESSOR_NOT_FOUND")
        assessed = db.session.scalar(sa.select(scoped_select(InstitutionResult, actor).where(
            InstitutionResult.run_id == run.id, InstitutionResult.institution_id == institution_id).exists()))
        if not assessed:
            raise NotFound("该次考核中没有此机构", code="INSTITUTION_NOT_IN_RUN")
        taken = db.session.scalar(sa.select(sa.exists().where(
            AssessorAssignment.run_id == run.id, AssessorAssignment.account_id == assessor.id,
            AssessorAssignment.institution_id == institution_id)))
        if taken:
            raise Conflict("该评估人员已分配到此机构", code="ASSESSOR_ALREADY_ASSIGNED")
        assignment = AssessorAssignment(run_id=run.id, account_id=assessor.id, institution_id=institution_id,
                                        assigned_by_account_id=actor.account_id, assigned_at=utcnow())
        db.session.add(assignment)
        db.session.flush()
        audit.record(actor, "assessor_assignment.assign", "assessor_assignment", assignment.id,
                     {"run_id": run.id, "account_id": assessor.id, "institution_id": institution_id})
        row = db.session.execute(_rows(actor).where(AssessorAssignment.id == assignment.id)).one()
    return AssignmentRow(*row)


@allowed(Role.BUREAU_STAFF)
def list_assignments(actor: Actor, run_id: int, page: PageRequest, *, account_id: int | None = None,
                     institution_id: int | None = None) -> Page[AssignmentRow]:
    """A run's assignments, by institution code and assessor."""
    run = get_run(actor, run_id)
    stmt = where_given(_rows(actor).where(AssessorAssignment.run_id == run.id),
                       (AssessorAssignment.account_id, account_id),
                       (AssessorAssignment.institution_id, institution_id))
    listed = paginate_rows(stmt.order_by(Institution.code, AssessorAssignment.account_id), page)
    return Page([AssignmentRow(*row) for row in listed.items], listed.total, listed.page, listed.per_page)


@allowed(Role.BUREAU_STAFF)
def withdraw(actor: Actor, run_id: int, assignment_id: int) -> None:
    """Withdraw an assignment: from the assessor's next request on, that institution is out of their sight.

    The scores they entered stay, marked with their account; the audit trail keeps the assignment.
    """
    with transaction():
        assignment = db.session.scalars(scoped_select(AssessorAssignment, actor).where(
            AssessorAssignment.id == assignment_id, AssessorAssignment.run_id == run_id).with_for_update()).first()
        if assignment is None:
            raise NotFound()
        audit.record(actor, "assessor_assignment.withdraw", "assessor_assignment", assignment.id,
                     {"run_id": assignment.run_id, "account_id": assignment.account_id,
                      "institution_id": assignment.institution_id})
        db.session.delete(assignment)
