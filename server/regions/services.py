"""Use cases for regions and their local rules."""
from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from server.audit import services as audit
from server.common.paging import Page, PageRequest, paginate
from server.common.timeutil import local_today
from server.common.uow import transaction
from server.errors import Conflict, NotFound, RuleViolation
from server.extensions import db
from server.identity.roles import Actor, Role
from server.identity.scoping import require_role, scoped_select
from server.regions.models import Disease, LocalRules, Region
from server.regions.rules import rules_in_force


def my_region(actor: Actor) -> Region:
    region = db.session.scalars(scoped_select(Region, actor)).first()
    if region is None:
        raise NotFound()
    return region


def list_rules(actor: Actor, page: PageRequest) -> Page[LocalRules]:
    stmt = scoped_select(LocalRules, actor).order_by(LocalRules.effective_from.desc())
    return paginate(stmt, page)


def rules_on(actor: Actor, on: date) -> LocalRules:
    return rules_in_force(my_region(actor).id, on)


def add_rules_version(actor: Actor, data: dict) -> LocalRules:
    """Publish a new version of the local rules; history is never rewritten.

    A version may start today or later, never in the past, so settled years keep the
    rules they were settled under.
    """
    require_role(actor, Role.BUREAU_STAFF)
    with transaction():
        region = my_region(actor)
        if data["effective_from"] < local_today():
            raise RuleViolation("新版本的生效日期不能早于今天", code="RULES_BACKDATED",
                                details={"effective_from": data["effective_from"].isoformat()})
        unknown = set(data["covered_disease_codes"]) - set(db.session.scalars(sa.select(Disease.code)))
        if unknown:
            raise RuleViolation("存在未知病种编码", code="UNKNOWN_DISEASE", details={"codes": sorted(unknown)})
        exists = db.session.scalar(sa.select(LocalRules.id).where(
            LocalRules.region_id == region.id, LocalRules.effective_from == data["effective_from"]))
        if exists:
            raise Conflict("该生效日期已有实施细则版本", code="RULES_VERSION_EXISTS")
        rules = LocalRules(region_id=region.id, created_by_account_id=actor.account_id, **data)
        db.session.add(rules)
        db.session.flush()
        audit.record(actor, "local_rules.create", "local_rules", rules.id,
                     {"effective_from": data["effective_from"].isoformat()})
    return rules


def list_diseases() -> list[Disease]:
    return list(db.session.scalars(sa.select(Disease).order_by(Disease.id)))
