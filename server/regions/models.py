"""Regions, the disease catalogue, and local rules versioned by effective date."""
from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from server.common.models import IdMixin, TimestampMixin, fk, money
from server.common.types import JSONType
from server.extensions import db


class Region(IdMixin, TimestampMixin, db.Model):
    """A pooling region (统筹地区), identified by its administrative-division code."""

    __tablename__ = "region"
    __region_wide__ = "id"

    admdvs_code: Mapped[str] = mapped_column(sa.String(6), unique=True)
    name: Mapped[str] = mapped_column(sa.String(64))


class Disease(IdMixin, db.Model):
    """A chronic disease a region may cover (签约病种): hypertension, diabetes, and more."""

    __tablename__ = "disease"

    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    name: Mapped[str] = mapped_column(sa.String(64))
    icd10_prefixes: Mapped[list] = mapped_column(JSONType, default=list)
    # National outpatient chronic/special disease codes (门诊慢特病病种代码), e.g. M03900.
    opsp_codes: Mapped[list] = mapped_column(JSONType, default=list)


class LocalRules(IdMixin, TimestampMixin, db.Model):
    """One version of a region's local rules (实施细则), in force from `effective_from`.

    The version in force on a date is the one with the latest `effective_from` on or before
    it. Versions are never edited once in force; a change is a new version.
    Grade bands, payout ratios and populations are validated JSON (see `rules.py`).
    """

    __tablename__ = "local_rules"
    __region_wide__ = "region_id"
    __table_args__ = (
        sa.UniqueConstraint("region_id", "effective_from"),
        sa.CheckConstraint(
            "personal_share_fen + public_health_share_fen + insurance_fund_share_fen = fee_per_head_fen",
            name="fee_split_sums",
        ),
        sa.CheckConstraint(
            "prescription_standard_weeks > 0 AND prescription_standard_weeks <= prescription_max_weeks",
            name="prescription_weeks",
        ),
    )

    region_id: Mapped[int] = fk("region.id")
    effective_from: Mapped[date] = mapped_column(sa.Date)
    document_no: Mapped[str] = mapped_column(sa.String(128), default="")
    fee_per_head_fen = money()
    personal_share_fen = money()
    public_health_share_fen = money()
    insurance_fund_share_fen = money()
    # [{"code", "name", "fund", "fund_name", "until"}]: whose personal share another fund pays.
    other_fund_populations: Mapped[list] = mapped_column(JSONType, default=list)
    covered_disease_codes: Mapped[list] = mapped_column(JSONType, default=list)
    # [{"grade", "min"}] lower bounds inclusive, best grade first.
    grade_bands: Mapped[list] = mapped_column(JSONType)
    # {"excellent": "1.00", "good": "0.90", "pass": "0.80", "fail": "score"}.
    payout_ratios: Mapped[dict] = mapped_column(JSONType)
    prescription_standard_weeks: Mapped[int] = mapped_column(sa.Integer)
    prescription_max_weeks: Mapped[int] = mapped_column(sa.Integer)
    feedback_deadline_working_days: Mapped[int] = mapped_column(sa.Integer)
    appeal_window_working_days: Mapped[int] = mapped_column(sa.Integer, default=10)
    # "MM-DD" of the year after the assessed one, when the draft assessment run starts.
    assessment_start_mmdd: Mapped[str] = mapped_column(sa.String(5), default="01-15")
    # "full" / "unused_items" / "none": what a cancellation after a first service refunds.
    refund_after_service: Mapped[str] = mapped_column(sa.String(16), default="none")
    # "none" / "unused_items" / "full": what a death reported by the bureau refunds (to the
    # original payment, for the estate), by the rules in force on the day of death.
    refund_on_death: Mapped[str] = mapped_column(sa.String(16), default="none")
    # "refuse" / "flag": a drug another benefit already pays for.
    duplicate_benefit_policy: Mapped[str] = mapped_column(sa.String(8), default="refuse")
    # Drug classes a long-term prescription may not contain (长期处方管理规范 exclusions).
    prescription_excluded_drug_classes: Mapped[list] = mapped_column(JSONType, default=list)
    # Whether a team may log more of an item than its yearly quantity (beyond the package).
    services_beyond_quota: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    # Acting for another person (亲情代办): how many people one WeChat account may act for
    # besides itself, and below which age (from the ID number) a guardian acts for a child.
    proxy_max_people: Mapped[int] = mapped_column(sa.Integer, default=5)
    guardian_child_max_age: Mapped[int] = mapped_column(sa.Integer, default=14)
    # Sign-in throttling: failures per account or address within the window, then a lockout
    # that ends by itself.
    login_max_failures: Mapped[int] = mapped_column(sa.Integer, default=5)
    login_failure_window_seconds: Mapped[int] = mapped_column(sa.Integer, default=900)
    login_lockout_seconds: Mapped[int] = mapped_column(sa.Integer, default=900)
    created_by_account_id: Mapped[int | None] = fk("user_account.id", nullable=True, index=False)


class HolidayArrangement(IdMixin, TimestampMixin, db.Model):
    """One day of the State Council's yearly holiday arrangement (节假日安排): a holiday off or a make-up working day.

    The calendar package knows the years it was released with; bureau staff enter a newly
    published year here so deadlines can be counted before the package catches up.
    """

    __tablename__ = "holiday_arrangement"

    day: Mapped[date] = mapped_column(sa.Date, unique=True)
    year: Mapped[int] = mapped_column(sa.Integer, index=True)
    is_working_day: Mapped[bool] = mapped_column(sa.Boolean)
    name: Mapped[str] = mapped_column(sa.String(32), default="")  # 元旦, 春节, … or 调休上班
    document_no: Mapped[str] = mapped_column(sa.String(128), default="")
    created_by_account_id: Mapped[int | None] = fk("user_account.id", nullable=True, index=False)
