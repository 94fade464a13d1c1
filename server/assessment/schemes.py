"""Use cases for assessment schemes (考核指标方案): start from the default or a copy, edit until used."""
from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa

from server.assessment.default_scheme import DEFAULT_INDICATORS, DEFAULT_SETTINGS
from server.assessment.models import (
    AssessmentIndicator, AssessmentRun, AssessmentScheme, AssessorAssignment, IndicatorGroup, ManualScore,
)
from server.audit import services as audit
from server.common.paging import Page, PageRequest, paginate, where_given
from server.common.uow import transaction
from server.errors import NotFound, RuleViolation
from server.extensions import db
from server.identity.roles import ADMIN_ROLES, Actor, Level, Role, allowed
from server.identity.scoping import get_visible, scoped_select
from server.institutions.models import Institution


@allowed(*ADMIN_ROLES)
def list_schemes(actor: Actor, page: PageRequest) -> Page[AssessmentScheme]:
    return paginate(scoped_select(AssessmentScheme, actor).order_by(AssessmentScheme.year.desc(),
                                                                    AssessmentScheme.id.desc()), page)


@allowed(*ADMIN_ROLES)
def get_scheme(actor: Actor, scheme_id: int) -> AssessmentScheme:
    scheme = get_visible(AssessmentScheme, scheme_id, actor)
    db.session.refresh(scheme, ["indicators"])
    return scheme


@allowed(Role.BUREAU_STAFF)
def create_scheme(actor: Actor, *, year: int, name: str, copy_from_id: int | None) -> AssessmentScheme:
    """A new scheme for a year: a copy of one of the region's schemes, or the default scheme."""
    with transaction():
        if copy_from_id is None:
            rows = [dict(code=code, group=IndicatorGroup(group), name=label, points=Decimal(points), method=method,
                         rule=rule) for code, group, label, points, method, rule in DEFAULT_INDICATORS]
            settings = dict(DEFAULT_SETTINGS)
        else:
            source = get_visible(AssessmentScheme, copy_from_id, actor)
            db.session.refresh(source, ["indicators"])
            rows = [dict(code=i.code, group=i.group, name=i.name, points=i.points, method=i.method, rule=dict(i.rule))
                    for i in source.indicators]
            settings = {**DEFAULT_SETTINGS, **(source.settings or {})}
        scheme = AssessmentScheme(region_id=actor.region_id, year=year, name=name, copied_from_id=copy_from_id,
                                  settings=settings)
        db.session.add(scheme)
        db.session.flush()
        db.session.add_all(AssessmentIndicator(scheme_id=scheme.id, **row) for row in rows)
        audit.record(actor, "assessment_scheme.create", "assessment_scheme", scheme.id,
                     {"year": year, "copied_from": copy_from_id})
        db.session.flush()
        db.session.refresh(scheme, ["indicators"])
    return scheme


@allowed(Role.BUREAU_STAFF)
def replace_indicators(actor: Actor, scheme_id: int, data: dict) -> AssessmentScheme:
    """Edit a scheme's indicators as a whole (validated to total 100); a scheme a published run used is frozen.

    Manual scores already entered stay with their indicator's code while it is still a
    manual indicator, and go with it otherwise.
    """
    with transaction():
        scheme = get_visible(AssessmentScheme, scheme_id, actor, for_update=True)
        if scheme.locked:
            raise RuleViolation("该方案已被已发布的考核使用，不能修改；请复制后编辑", code="SCHEME_LOCKED")
        scheme.name, scheme.year = data["name"], data["year"]
        if data.get("settings") is not None:
            scheme.settings = {**(scheme.settings or {}), **data["settings"]}
        db.session.execute(sa.delete(AssessmentIndicator).where(AssessmentIndicator.scheme_id == scheme.id))
        db.session.add_all(AssessmentIndicator(scheme_id=scheme.id, **row) for row in data["indicators"])
        manual_codes = [row["code"] for row in data["indicators"] if row["method"] == "manual"]
        db.session.execute(sa.delete(ManualScore).where(ManualScore.scheme_id == scheme.id,
                                                        ManualScore.indicator_code.not_in(manual_codes)))
        audit.record(actor, "assessment_scheme.edit", "assessment_scheme", scheme.id,
                     {"indicators": len(data["indicators"])})
        db.session.flush()
        db.session.refresh(scheme, ["indicators"])
    return scheme


@allowed(Role.BUREAU_STAFF, Role.ASSESSOR)
def list_manual_scores(actor: Actor, scheme_id: int, page: PageRequest, *, indicator_code: str | None = None,
                       institution_id: int | None = None) -> Page[ManualScore]:
    scheme = get_visible(AssessmentScheme, scheme_id, actor)
    stmt = scoped_select(ManualScore, actor).where(ManualScore.scheme_id == scheme.id)
    stmt = where_given(stmt, (ManualScore.indicator_code, indicator_code), (ManualScore.institution_id, institution_id))
    return paginate(stmt.order_by(ManualScore.indicator_code, ManualScore.institution_id), page)


@allowed(Role.BUREAU_STAFF, Role.ASSESSOR)
def enter_manual_score(actor: Actor, scheme_id: int, data: dict) -> ManualScore:
    """Bureau staff or a third-party assessor score a manual indicator for an institution, with evidence.

    An assessor scores only the institutions assigned to them in a run of this scheme.

    Entering again replaces the score; the audit trail keeps what it was. A run takes the
    scores as they are when it starts, so a published run keeps the ones it used.
    """
    with transaction():
        scheme = get_visible(AssessmentScheme, scheme_id, actor)
        indicator = db.session.scalars(sa.select(AssessmentIndicator).where(
            AssessmentIndicator.scheme_id == scheme.id, AssessmentIndicator.code == data["indicator_code"])).first()
        if indicator is None:
            raise NotFound("该方案中没有此指标", code="INDICATOR_NOT_FOUND")
        if indicator.method != "manual":
            raise RuleViolation("自动指标由平台数据计算，不能人工录入", code="INDICATOR_NOT_MANUAL")
        if data["points"] > indicator.points:
            raise RuleViolation(f"得分不能超过该指标分值{indicator.points.normalize()}分", code="POINTS_ABOVE_INDICATOR",
                                details={"max_points": str(indicator.points)})
        institution = get_visible(Institution, data["institution_id"], actor)
        if actor.level is Level.ASSIGNMENT:
            _require_assignment(actor, scheme, institution)
        score = db.session.scalars(sa.select(ManualScore).where(
            ManualScore.scheme_id == scheme.id, ManualScore.indicator_code == indicator.code,
            ManualScore.institution_id == institution.id).with_for_update()).first()
        before = None if score is None else str(score.points)
        if score is None:
            score = ManualScore(scheme_id=scheme.id, indicator_code=indicator.code, institution_id=institution.id)
            db.session.add(score)
        score.points, score.evidence = data["points"], data["evidence"]
        score.entered_by_account_id, score.entered_by_role = actor.account_id, actor.role.value
        db.session.flush()
        audit.record(actor, "assessment_manual_score.enter", "manual_score", score.id,
                     {"scheme_id": scheme.id, "indicator": indicator.code, "institution_id": institution.id,
                      "points": str(data["points"]), "before": before})
    return score


def _require_assignment(actor: Actor, scheme: AssessmentScheme, institution: Institution) -> None:
    """An institution the assessor sees through another run's assignment is not theirs to score here."""
    assigned = db.session.scalar(sa.select(
        scoped_select(AssessorAssignment, actor).join(AssessmentRun, AssessmentRun.id == AssessorAssignment.run_id)
        .where(AssessmentRun.scheme_id == scheme.id, AssessorAssignment.institution_id == institution.id).exists()))
    if not assigned:
        raise NotFound()
