"""Use cases for assessment schemes (考核指标方案): start from the default or a copy, edit until used."""
from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa

from server.assessment.default_scheme import DEFAULT_INDICATORS
from server.assessment.models import AssessmentIndicator, AssessmentScheme, IndicatorGroup
from server.audit import services as audit
from server.common.paging import Page, PageRequest, paginate
from server.common.uow import transaction
from server.errors import RuleViolation
from server.extensions import db
from server.identity.roles import Actor, Role
from server.identity.scoping import get_visible, require_role, scoped_select


def list_schemes(actor: Actor, page: PageRequest) -> Page[AssessmentScheme]:
    return paginate(scoped_select(AssessmentScheme, actor).order_by(AssessmentScheme.year.desc(),
                                                                    AssessmentScheme.id.desc()), page)


def get_scheme(actor: Actor, scheme_id: int) -> AssessmentScheme:
    scheme = get_visible(AssessmentScheme, scheme_id, actor)
    db.session.refresh(scheme, ["indicators"])
    return scheme


def create_scheme(actor: Actor, *, year: int, name: str, copy_from_id: int | None) -> AssessmentScheme:
    """A new scheme for a year: a copy of one of the region's schemes, or the default scheme."""
    require_role(actor, Role.BUREAU_STAFF)
    with transaction():
        if copy_from_id is None:
            rows = [dict(code=code, group=IndicatorGroup(group), name=label, points=Decimal(points), method=method,
                         rule=rule) for code, group, label, points, method, rule in DEFAULT_INDICATORS]
        else:
            source = get_visible(AssessmentScheme, copy_from_id, actor)
            db.session.refresh(source, ["indicators"])
            rows = [dict(code=i.code, group=i.group, name=i.name, points=i.points, method=i.method, rule=dict(i.rule))
                    for i in source.indicators]
        scheme = AssessmentScheme(region_id=actor.region_id, year=year, name=name, copied_from_id=copy_from_id)
        db.session.add(scheme)
        db.session.flush()
        db.session.add_all(AssessmentIndicator(scheme_id=scheme.id, **row) for row in rows)
        audit.record(actor, "assessment_scheme.create", "assessment_scheme", scheme.id,
                     {"year": year, "copied_from": copy_from_id})
        db.session.flush()
        db.session.refresh(scheme, ["indicators"])
    return scheme


def replace_indicators(actor: Actor, scheme_id: int, data: dict) -> AssessmentScheme:
    """Edit a scheme's indicators as a whole (validated to total 100); a scheme a published run used is frozen."""
    require_role(actor, Role.BUREAU_STAFF)
    with transaction():
        scheme = get_visible(AssessmentScheme, scheme_id, actor, for_update=True)
        if scheme.locked:
            raise RuleViolation("该方案已被已发布的考核使用，不能修改；请复制后编辑", code="SCHEME_LOCKED")
        scheme.name, scheme.year = data["name"], data["year"]
        db.session.execute(sa.delete(AssessmentIndicator).where(AssessmentIndicator.scheme_id == scheme.id))
        db.session.add_all(AssessmentIndicator(scheme_id=scheme.id, **row) for row in data["indicators"])
        audit.record(actor, "assessment_scheme.edit", "assessment_scheme", scheme.id,
                     {"indicators": len(data["indicators"])})
        db.session.flush()
        db.session.refresh(scheme, ["indicators"])
    return scheme
