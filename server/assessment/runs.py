"""Assessment runs (考核批次): compute every institution's indicators, points and grade, snapshot, publish.

A run is computed set-based: each automatic indicator's entries are inserted with one
INSERT … SELECT for the whole region, then summed per institution in one grouped query.
It is stored as an immutable snapshot: the scheme as it was, every entry, and each
indicator's numerator, denominator, value and points per institution. A re-run is a new
version beside the old ones; a published run never changes.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from server.assessment import metrics
from server.assessment.deadlines import add_working_days, published_arrangements
from server.assessment.models import (
    AssessmentRun, AssessmentScheme, IndicatorEntry, IndicatorScore, InstitutionResult, ManualScore, RunStatus,
)
from server.assessment.scoring import THOUSANDTH, score
from server.audit import services as audit
from server.common.paging import Page, PageRequest, paginate, where_given
from server.common.timeutil import local_today, utcnow
from server.common.uow import transaction
from server.errors import DomainError, NotFound, RuleViolation
from server.extensions import db
from server.identity.roles import ADMIN_ROLES, Actor, Role, allowed
from server.identity.scoping import get_visible, scoped_select
from server.institutions.models import Institution
from server.regions.models import LocalRules, Region
from server.regions.rules import grade_for, rules_in_force

VALUE_PLACES = Decimal("0.000001")  # the snapshot column's precision
RUN_WORK_MEM = "64MB"


@allowed(Role.BUREAU_STAFF)
def start_run(actor: Actor, *, year: int, scheme_id: int | None = None) -> AssessmentRun:
    """Compute a draft run of the region's assessment for `year`, by default with that year's newest scheme."""
    with transaction():
        scheme = (scheme_for_year(actor.region_id, year) if scheme_id is None
                  else get_visible(AssessmentScheme, scheme_id, actor))
        run = _compute(actor, scheme, year)
        audit.record(actor, "assessment_run.start", "assessment_run", run.id,
                     {"year": year, "version": run.run_version, "scheme_id": scheme.id})
    return run


def scheme_for_year(region_id: int, year: int) -> AssessmentScheme:
    """The region's scheme for `year`: the newest one made for that year."""
    scheme = db.session.scalars(sa.select(AssessmentScheme).where(
        AssessmentScheme.region_id == region_id, AssessmentScheme.year == year)
        .order_by(AssessmentScheme.id.desc()).limit(1)).first()
    if scheme is None:
        raise RuleViolation(f"{year}年度尚无考核方案，请先建立方案", code="SCHEME_MISSING", details={"year": year})
    return scheme


def region_by_code(admdvs_code: str) -> Region:
    region = db.session.scalars(sa.select(Region).where(Region.admdvs_code == admdvs_code)).first()
    if region is None:
        raise NotFound(f"统筹地区 {admdvs_code} 不存在", code="REGION_NOT_FOUND")
    return region


def start_due_runs(today: date, actor: Actor) -> tuple[list[AssessmentRun], list[tuple[int, DomainError]]]:
    """The scheduled start: a draft run of last year for each region on or after the day its rules name.

    Once per region and year: a region that already has a run of that year (started by hand
    or by an earlier day's job) is left alone, so a scheduler that was down catches up. A
    region that cannot run yet (no scheme for the year) is reported and tried again next time.
    """
    year, started, refused = today.year - 1, [], []
    for region in db.session.scalars(sa.select(Region).order_by(Region.id)).all():
        rules = rules_in_force(region.id, date(year, 12, 31))
        month, day = (int(part) for part in rules.assessment_start_mmdd.split("-"))
        has_run = db.session.scalar(sa.select(sa.exists().where(AssessmentRun.region_id == region.id,
                                                                AssessmentRun.year == year)))
        if today < date(today.year, month, day) or has_run:
            continue
        region_actor = Actor(role=Role.BUREAU_STAFF, account_id=actor.account_id, region_id=region.id)
        try:
            with transaction():
                run = _compute(region_actor, scheme_for_year(region.id, year), year)
                audit.record(region_actor, "assessment_run.start", "assessment_run", run.id,
                             {"year": year, "version": run.run_version, "scheduled": True})
        except DomainError as exc:
            refused.append((region.id, exc))
            continue
        started.append(run)
    return started, refused


def _compute(actor: Actor, scheme: AssessmentScheme, year: int) -> AssessmentRun:
    if db.session.get_bind().dialect.name == "postgresql":
        # The latest-reading window and the per-person groupings sort millions of rows once a
        # year; let this transaction sort in memory rather than spill to disk.
        db.session.execute(sa.text(f"SET LOCAL work_mem = '{RUN_WORK_MEM}'"))
    db.session.refresh(scheme, ["indicators"])
    region_id = scheme.region_id
    rules = rules_in_force(region_id, date(year, 12, 31))
    version = (db.session.scalar(sa.select(sa.func.max(AssessmentRun.run_version)).where(
        AssessmentRun.region_id == region_id, AssessmentRun.year == year)) or 0) + 1
    run = AssessmentRun(region_id=region_id, year=year, run_version=version, scheme_id=scheme.id,
                        rules_id=rules.id, status=RunStatus.DRAFT, started_by_account_id=actor.account_id or None,
                        started_at=utcnow(), scheme_snapshot=_snapshot(scheme))
    db.session.add(run)
    db.session.flush()
    attribution = (scheme.settings or {}).get("moved_patients", metrics.DEFAULT_ATTRIBUTION)
    automatic = [i for i in scheme.indicators if i.method == "auto"]
    for indicator in automatic:
        scope = metrics.Scope(region_id, year, attribution, _weights(indicator.rule))
        entries = metrics.METRICS[indicator.rule["metric"]].entries(scope).subquery()
        db.session.execute(sa.insert(IndicatorEntry).from_select(
            ["run_id", "indicator_code", *metrics.ENTRY_COLUMNS],
            sa.select(sa.literal(run.id), sa.literal(indicator.code), *(entries.c[c] for c in metrics.ENTRY_COLUMNS))))
    sums = _entry_sums(run.id, automatic)
    manual = {(m.indicator_code, m.institution_id): m.points for m in db.session.scalars(
        sa.select(ManualScore).where(ManualScore.scheme_id == scheme.id))}
    heads = dict(db.session.execute(_heads(metrics.Scope(region_id, year, attribution))).all())
    institutions = db.session.scalars(sa.select(Institution.id).where(Institution.region_id == region_id)
                                      .order_by(Institution.id)).all()
    results = {i: InstitutionResult(run_id=run.id, institution_id=i, total_points=Decimal(0), grade="",
                                    signed_heads=heads.get(i, 0)) for i in institutions}
    db.session.add_all(results.values())
    db.session.flush()
    scores = []
    for institution_id, result in results.items():
        for indicator in scheme.indicators:
            row = _indicator_score(indicator, institution_id, sums, manual)
            result.total_points += row["points"]
            scores.append({"result_id": result.id, "indicator_code": indicator.code, **row})
        result.grade = grade_for(rules, result.total_points)
    if scores:
        db.session.execute(sa.insert(IndicatorScore), scores)
    run.finished_at = utcnow()
    return run


def _weights(rule: dict) -> tuple[tuple[str, Decimal], ...]:
    weights = rule.get("weights") or {"self": "1", "phone": "1"}
    return tuple(sorted((channel, Decimal(weight)) for channel, weight in weights.items()))


@dataclass(frozen=True)
class _Sums:
    per_institution: dict[tuple[str, int], metrics.Ratio]
    region: dict[str, Decimal | None]  # the region's pooled value, for the "proportional" fallback


def _entry_sums(run_id: int, automatic) -> _Sums:
    """Every automatic indicator's numerator and denominator per institution, summed from the stored entries."""
    scale = {i.code: metrics.METRICS[i.rule["metric"]].scale for i in automatic}
    rows = db.session.execute(
        sa.select(IndicatorEntry.indicator_code, IndicatorEntry.institution_id, sa.func.sum(IndicatorEntry.numerator),
                  sa.func.sum(IndicatorEntry.denominator))
        .where(IndicatorEntry.run_id == run_id).group_by(IndicatorEntry.indicator_code, IndicatorEntry.institution_id))
    per_institution = {(code, inst): metrics.Ratio(Decimal(num) * scale[code], Decimal(den))
                       for code, inst, num, den in rows}
    pooled = {code: [Decimal(0), Decimal(0)] for code in scale}
    for (code, _), ratio in per_institution.items():
        pooled[code][0] += ratio.numerator
        pooled[code][1] += ratio.denominator
    return _Sums(per_institution, {code: num / den if den else None for code, (num, den) in pooled.items()})


def _heads(scope: metrics.Scope) -> sa.Select:
    people = metrics.population(scope)
    return sa.select(people.c.institution_id, sa.func.count()).group_by(people.c.institution_id)


def _indicator_score(indicator, institution_id: int, sums: _Sums, manual: dict) -> dict:
    points = Decimal(indicator.points)
    if indicator.method == "auto":
        ratio = sums.per_institution.get((indicator.code, institution_id))
        numerator, denominator = (ratio.numerator, ratio.denominator) if ratio else (None, None)
        value, earned, note = score(indicator.rule, points, numerator, denominator, sums.region[indicator.code])
        return {"numerator": numerator, "denominator": denominator,
                "value": None if value is None else value.quantize(VALUE_PLACES), "points": earned, "note": note}
    entered = manual.get((indicator.code, institution_id))
    earned = min(Decimal(entered), points).quantize(THOUSANDTH) if entered is not None else Decimal("0.000")
    return {"numerator": None, "denominator": None, "value": None, "points": earned,
            "note": "" if entered is not None else "未录入人工评分"}


def _snapshot(scheme: AssessmentScheme) -> dict:
    return {"scheme_id": scheme.id, "name": scheme.name, "year": scheme.year, "settings": dict(scheme.settings or {}),
            "indicators": [{"code": i.code, "group": i.group.value, "name": i.name, "points": str(i.points),
                            "method": i.method, "rule": i.rule} for i in scheme.indicators]}


def summary(run_id: int) -> list[tuple[str, str, Decimal, str]]:
    """(institution code, name, total, grade) of every institution in a run, for the command line."""
    return db.session.execute(
        sa.select(Institution.code, Institution.name, InstitutionResult.total_points, InstitutionResult.grade)
        .join(Institution, Institution.id == InstitutionResult.institution_id)
        .where(InstitutionResult.run_id == run_id).order_by(Institution.code)).all()


@allowed(*ADMIN_ROLES)
def get_run(actor: Actor, run_id: int, *, for_update: bool = False) -> AssessmentRun:
    return get_visible(AssessmentRun, run_id, actor, for_update=for_update)


@allowed(*ADMIN_ROLES)
def list_runs(actor: Actor, page: PageRequest, *, year: int | None = None,
              status: RunStatus | None = None) -> Page[AssessmentRun]:
    stmt = where_given(scoped_select(AssessmentRun, actor), (AssessmentRun.year, year), (AssessmentRun.status, status))
    return paginate(stmt.order_by(AssessmentRun.year.desc(), AssessmentRun.run_version.desc()), page)


@allowed(Role.BUREAU_STAFF)
def publish(actor: Actor, run_id: int, *, published_on: date | None = None) -> AssessmentRun:
    """Publish a draft run: results go back to institutions within the rules' working days.

    The run and its scheme become immutable; a later re-run is a new version beside it.
    """
    published_on = published_on or local_today()
    with transaction():
        run = get_visible(AssessmentRun, run_id, actor, for_update=True)
        if run.status is not RunStatus.DRAFT:
            raise RuleViolation("只有草稿状态的考核可以发布", code="RUN_NOT_DRAFT", details={"status": run.status.value})
        rules = db.session.get(LocalRules, run.rules_id)
        arrangements = published_arrangements(published_on.year)
        run.feedback_deadline = add_working_days(published_on, rules.feedback_deadline_working_days, arrangements)
        run.appeal_deadline = add_working_days(run.feedback_deadline, rules.appeal_window_working_days, arrangements)
        run.status = RunStatus.PUBLISHED
        run.published_at = utcnow()
        db.session.get(AssessmentScheme, run.scheme_id, with_for_update=True).locked = True
        audit.record(actor, "assessment_run.publish", "assessment_run", run.id,
                     {"feedback_deadline": run.feedback_deadline.isoformat(),
                      "appeal_deadline": run.appeal_deadline.isoformat()})
    return run
