"""Use cases for regions and their local rules."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from server.audit import services as audit
from server.common.paging import Page, PageRequest, paginate
from server.common.timeutil import local_today
from server.common.uow import transaction
from server.errors import Conflict, NotFound, RuleViolation
from server.extensions import db
from server.identity.roles import ADMIN_ROLES, Actor, Role, allowed
from server.identity.scoping import scoped_select
from server.assessment.deadlines import package_knows
from server.regions.models import Disease, HolidayArrangement, LocalRules, Region
from server.regions.rules import rules_in_force


@allowed(*ADMIN_ROLES)
def my_region(actor: Actor) -> Region:
    region = db.session.scalars(scoped_select(Region, actor)).first()
    if region is None:
        raise NotFound()
    return region


@allowed(*ADMIN_ROLES)
def list_rules(actor: Actor, page: PageRequest) -> Page[LocalRules]:
    stmt = scoped_select(LocalRules, actor).order_by(LocalRules.effective_from.desc())
    return paginate(stmt, page)


@allowed(*ADMIN_ROLES)
def rules_on(actor: Actor, on: date) -> LocalRules:
    return rules_in_force(my_region(actor).id, on)


@allowed(Role.BUREAU_STAFF)
def add_rules_version(actor: Actor, data: dict) -> LocalRules:
    """Publish a new version of the local rules; history is never rewritten.

    A version may start today or later, never in the past, so settled years keep the
    rules they were settled under.
    """
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


@allowed(*ADMIN_ROLES)
def list_diseases(actor: Actor) -> list[Disease]:
    """The disease catalogue regions choose covered diseases from; the same for every region, so unscoped."""
    return list(db.session.scalars(sa.select(Disease).order_by(Disease.id)))


@dataclass(frozen=True)
class Arrangement:
    year: int
    document_no: str
    days: list[HolidayArrangement]


@allowed(*ADMIN_ROLES)
def holiday_arrangement(actor: Actor, year: int) -> Arrangement:
    """A year's entered arrangement (none for the years the calendar package knows)."""
    days = list(db.session.scalars(sa.select(HolidayArrangement).where(HolidayArrangement.year == year)
                                   .order_by(HolidayArrangement.day)))
    return Arrangement(year, days[0].document_no if days else "", days)


@allowed(Role.BUREAU_STAFF)
def enter_holiday_arrangement(actor: Actor, year: int, *, document_no: str,
                              days: list[dict]) -> Arrangement:
    """Enter a year's published holiday arrangement (holidays off, make-up working days) as a whole.

    Only for a year the calendar package does not know yet: the package's data stays the
    authority for the years it has, so nobody can move a deadline by editing them.
    """
    if package_knows(year):
        raise RuleViolation(f"{year}年节假日安排已由日历组件提供，无需录入", code="HOLIDAY_YEAR_KNOWN")
    wrong = [d["day"].isoformat() for d in days if d["day"].year != year]
    if wrong:
        raise RuleViolation("日期不在该年度内", code="HOLIDAY_DAY_OUTSIDE_YEAR", details={"days": wrong})
    if len({d["day"] for d in days}) != len(days):
        raise RuleViolation("日期不能重复", code="HOLIDAY_DAY_REPEATED")
    with transaction():
        db.session.execute(sa.delete(HolidayArrangement).where(HolidayArrangement.year == year))
        rows = [HolidayArrangement(year=year, document_no=document_no, created_by_account_id=actor.account_id or None,
                                   **d) for d in days]
        db.session.add_all(rows)
        audit.record(actor, "holiday_arrangement.enter", "holiday_arrangement", year,
                     {"document_no": document_no, "holidays": sum(not d["is_working_day"] for d in days),
                      "working_days": sum(d["is_working_day"] for d in days)})
    return holiday_arrangement(actor, year)
