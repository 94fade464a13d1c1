"""Assessment schemes and their indicators, runs with immutable snapshots, manual scores, appeals."""
from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.common.models import IdMixin, TimestampMixin, fk
from server.common.types import JSONType, UTCDateTime, enum_column
from server.extensions import db
from server.identity.roles import Level
from server.institutions.models import Institution
from server.identity.scoping import inherit_scope

POINTS = sa.Numeric(7, 3)


class IndicatorGroup(str, enum.Enum):
    SETUP = "setup"                      # 制度建设
    SERVICE_QUALITY = "service_quality"  # 服务质量
    OUTCOMES = "outcomes"                # 服务效果
    COST = "cost"                        # 医疗费用
    FUND_SUPERVISION = "fund_supervision"  # 基金监管
    OTHER = "other"                      # 其他


GROUP_NAMES = {"setup": "制度建设", "service_quality": "服务质量", "outcomes": "服务效果", "cost": "医疗费用",
               "fund_supervision": "基金监管", "other": "其他"}


class AssessmentScheme(IdMixin, TimestampMixin, db.Model):
    """A region's indicator scheme for one year (考核实施细则指标体系), totalling 100 points."""

    __tablename__ = "assessment_scheme"
    __region_wide__ = "region_id"
    __scope__ = {Level.ASSIGNMENT: lambda ids: AssessmentScheme.id.in_(
        sa.select(AssessmentRun.scheme_id).join(AssessorAssignment, AssessorAssignment.run_id == AssessmentRun.id)
        .where(AssessorAssignment.id.in_(ids)))}

    region_id: Mapped[int] = fk("region.id")
    year: Mapped[int] = mapped_column(sa.Integer)
    name: Mapped[str] = mapped_column(sa.String(128))
    copied_from_id: Mapped[int | None] = fk("assessment_scheme.id", nullable=True, index=False)
    locked: Mapped[bool] = mapped_column(sa.Boolean, default=False)  # used by a published run
    # Scheme-wide choices, e.g. {"moved_patients": "year_end"}; see metrics.ATTRIBUTIONS.
    settings: Mapped[dict] = mapped_column(JSONType, default=dict)

    indicators: Mapped[list[AssessmentIndicator]] = relationship(order_by="AssessmentIndicator.id", viewonly=True)


class AssessmentIndicator(IdMixin, db.Model):
    """One indicator (考核指标): automatic from platform data, or entered by hand.

    `rule` holds the scoring parameters as validated JSON: metric, target, floor, direction,
    minimum denominator and fallback.
    """

    __tablename__ = "assessment_indicator"
    __table_args__ = (
        sa.UniqueConstraint("scheme_id", "code"),
        sa.CheckConstraint("points > 0", name="points_positive"),
    )

    scheme_id: Mapped[int] = fk("assessment_scheme.id")
    code: Mapped[str] = mapped_column(sa.String(32))
    group: Mapped[IndicatorGroup] = mapped_column(enum_column(IndicatorGroup))
    name: Mapped[str] = mapped_column(sa.String(128))
    points: Mapped[Decimal] = mapped_column(POINTS)
    method: Mapped[str] = mapped_column(sa.String(8))  # auto / manual
    rule: Mapped[dict] = mapped_column(JSONType, default=dict)


class RunStatus(str, enum.Enum):
    RUNNING = "running"
    DRAFT = "draft"
    PUBLISHED = "published"
    FAILED = "failed"


class AssessmentRun(IdMixin, TimestampMixin, db.Model):
    """One computation of a region's assessment for a year (考核批次); published runs never change."""

    __tablename__ = "assessment_run"
    __table_args__ = (sa.UniqueConstraint("region_id", "year", "run_version"),)
    # Drafts are the bureau's and the assigned assessors'; an institution sees its region's runs once published.
    __scope__ = {
        Level.REGION: "region_id",
        Level.ASSIGNMENT: lambda ids: AssessmentRun.id.in_(
            sa.select(AssessorAssignment.run_id).where(AssessorAssignment.id.in_(ids))),
        Level.INSTITUTION: lambda ids: sa.and_(AssessmentRun.status == RunStatus.PUBLISHED, AssessmentRun.region_id.in_(
            sa.select(Institution.region_id).where(Institution.id.in_(ids)))),
    }

    region_id: Mapped[int] = fk("region.id")
    year: Mapped[int] = mapped_column(sa.Integer)
    run_version: Mapped[int] = mapped_column(sa.Integer)
    scheme_id: Mapped[int] = fk("assessment_scheme.id")
    rules_id: Mapped[int] = fk("local_rules.id", index=False)
    status: Mapped[RunStatus] = mapped_column(enum_column(RunStatus))
    started_by_account_id: Mapped[int | None] = fk("user_account.id", nullable=True, index=False)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    feedback_deadline: Mapped[date | None] = mapped_column(sa.Date, nullable=True)
    appeal_deadline: Mapped[date | None] = mapped_column(sa.Date, nullable=True)
    scheme_snapshot: Mapped[dict] = mapped_column(JSONType, default=dict)


class AssessorAssignment(IdMixin, db.Model):
    """A third-party assessor's assignment (评估任务分配) to one institution in one run, made by the bureau.

    An assessor sees nothing else: the run, its scheme, and this institution's result and
    drill-down in it, and scores this institution's manual indicators of that scheme.
    """

    __tablename__ = "assessor_assignment"
    __table_args__ = (sa.UniqueConstraint("run_id", "account_id", "institution_id"),)
    __scope__ = {
        Level.REGION: lambda ids: AssessorAssignment.run_id.in_(
            sa.select(AssessmentRun.id).where(AssessmentRun.region_id.in_(ids))),
        Level.ASSIGNMENT: "id",
    }

    run_id: Mapped[int] = fk("assessment_run.id")
    account_id: Mapped[int] = fk("user_account.id")  # the assessor's
    institution_id: Mapped[int] = fk("institution.id")
    assigned_by_account_id: Mapped[int] = fk("user_account.id", index=False)
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime)


def _assigned(ids: frozenset[int], model: type, *where) -> sa.Exists:
    """Whether one of the assignments `ids` covers the row of `model` that the conditions name."""
    return sa.exists().where(AssessorAssignment.id.in_(ids), *where).correlate(model)


class InstitutionResult(IdMixin, db.Model):
    """An institution's total and grade in a run (机构考核结果)."""

    __tablename__ = "institution_result"
    __table_args__ = (sa.UniqueConstraint("run_id", "institution_id"),)
    __scope__ = {
        Level.REGION: lambda ids: InstitutionResult.run_id.in_(
            sa.select(AssessmentRun.id).where(AssessmentRun.region_id.in_(ids))),
        Level.ASSIGNMENT: lambda ids: _assigned(
            ids, InstitutionResult, AssessorAssignment.run_id == InstitutionResult.run_id,
            AssessorAssignment.institution_id == InstitutionResult.institution_id),
        Level.INSTITUTION: "institution_id",
    }

    run_id: Mapped[int] = fk("assessment_run.id")
    institution_id: Mapped[int] = fk("institution.id")
    total_points: Mapped[Decimal] = mapped_column(POINTS)
    grade: Mapped[str] = mapped_column(sa.String(16))
    signed_heads: Mapped[int] = mapped_column(sa.Integer, default=0)
    # When the institution was told its result (反馈告知): its manager's acknowledgement, or the
    # bureau recording a delivery made outside the platform.
    informed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    informed_by_account_id: Mapped[int | None] = fk("user_account.id", nullable=True, index=False)
    informed_how: Mapped[str] = mapped_column(sa.String(255), default="")


class IndicatorScore(IdMixin, db.Model):
    """The snapshot of one indicator for one institution in one run (指标得分)."""

    __tablename__ = "indicator_score"
    __table_args__ = (sa.UniqueConstraint("result_id", "indicator_code"),)

    result_id: Mapped[int] = fk("institution_result.id")
    indicator_code: Mapped[str] = mapped_column(sa.String(32))
    numerator: Mapped[Decimal | None] = mapped_column(sa.Numeric(18, 4), nullable=True)
    denominator: Mapped[Decimal | None] = mapped_column(sa.Numeric(18, 4), nullable=True)
    value: Mapped[Decimal | None] = mapped_column(sa.Numeric(18, 6), nullable=True)
    points: Mapped[Decimal] = mapped_column(POINTS)
    note: Mapped[str] = mapped_column(sa.String(255), default="")


class IndicatorEntry(IdMixin, db.Model):
    """One person's or record's part in an automatic indicator of a run (指标明细).

    A run stores these first and sums them into each institution's numerator and
    denominator, so the drill-down of a published run shows exactly what was counted, even
    after the data behind it changed. `evidence` lists the ids of the records it rests on
    (service records, a reading, claims' settlement ids, dispensings), comma-separated.
    """

    __tablename__ = "indicator_entry"
    __table_args__ = (
        sa.Index("ix_indicator_entry_run_indicator_institution", "run_id", "indicator_code", "institution_id"),
    )
    __scope__ = {
        Level.REGION: lambda ids: IndicatorEntry.run_id.in_(
            sa.select(AssessmentRun.id).where(AssessmentRun.region_id.in_(ids))),
        Level.ASSIGNMENT: lambda ids: _assigned(
            ids, IndicatorEntry, AssessorAssignment.run_id == IndicatorEntry.run_id,
            AssessorAssignment.institution_id == IndicatorEntry.institution_id),
        Level.INSTITUTION: "institution_id",
    }

    # No foreign keys, on purpose: a run writes about a million entries, every one from rows
    # already checked, in the transaction that creates the run; row-by-row checks doubled its time.
    run_id: Mapped[int] = mapped_column(sa.BigInteger)
    indicator_code: Mapped[str] = mapped_column(sa.String(32))
    institution_id: Mapped[int] = mapped_column(sa.BigInteger)
    subject_type: Mapped[str] = mapped_column(sa.String(24))  # contract / prescription / survey_response / ...
    subject_id: Mapped[int] = mapped_column(sa.BigInteger)
    resident_id: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)
    contract_id: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)
    numerator: Mapped[Decimal] = mapped_column(sa.Numeric(18, 6))
    denominator: Mapped[Decimal] = mapped_column(sa.Numeric(18, 6))
    evidence: Mapped[str | None] = mapped_column(sa.Text, nullable=True)


class ManualScore(IdMixin, TimestampMixin, db.Model):
    """Points entered by bureau staff or a third-party assessor, with evidence (人工评分).

    Keyed by the scheme and the indicator's code, so editing a scheme's other indicators
    keeps the scores already entered.
    """

    __tablename__ = "manual_score"
    __table_args__ = (sa.UniqueConstraint("scheme_id", "indicator_code", "institution_id"),
                      sa.CheckConstraint("points >= 0", name="points_not_negative"))
    __scope__ = {
        Level.REGION: lambda ids: ManualScore.institution_id.in_(
            sa.select(Institution.id).where(Institution.region_id.in_(ids))),
        Level.ASSIGNMENT: lambda ids: _assigned(
            ids, ManualScore, AssessorAssignment.institution_id == ManualScore.institution_id,
            AssessmentRun.id == AssessorAssignment.run_id, AssessmentRun.scheme_id == ManualScore.scheme_id),
        Level.INSTITUTION: "institution_id",
    }

    scheme_id: Mapped[int] = fk("assessment_scheme.id")
    indicator_code: Mapped[str] = mapped_column(sa.String(32))
    institution_id: Mapped[int] = fk("institution.id")
    points: Mapped[Decimal] = mapped_column(POINTS)
    evidence: Mapped[str] = mapped_column(sa.Text, default="")
    entered_by_account_id: Mapped[int] = fk("user_account.id", index=False)
    entered_by_role: Mapped[str] = mapped_column(sa.String(32), default="")


class AppealStatus(str, enum.Enum):
    OPEN = "open"          # 待处理
    UPHELD = "upheld"      # 申诉成立
    REJECTED = "rejected"  # 申诉不成立


class Appeal(IdMixin, TimestampMixin, db.Model):
    """An institution's appeal (申诉) against its result or one indicator of it, within the rules' window.

    An upheld appeal never edits the published run: the bureau corrects the data or the
    manual score and makes a new run.
    """

    __tablename__ = "appeal"

    result_id: Mapped[int] = fk("institution_result.id")
    indicator_code: Mapped[str | None] = mapped_column(sa.String(32), nullable=True)
    reason: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[AppealStatus] = mapped_column(enum_column(AppealStatus), default=AppealStatus.OPEN)
    answer: Mapped[str] = mapped_column(sa.Text, default="")
    filed_by_account_id: Mapped[int] = fk("user_account.id", index=False)
    decided_by_account_id: Mapped[int | None] = fk("user_account.id", nullable=True, index=False)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    result: Mapped[InstitutionResult] = relationship(viewonly=True)


AssessmentIndicator.__scope__ = inherit_scope(AssessmentIndicator.scheme_id, AssessmentScheme)
IndicatorScore.__scope__ = inherit_scope(IndicatorScore.result_id, InstitutionResult)
Appeal.__scope__ = inherit_scope(Appeal.result_id, InstitutionResult)
