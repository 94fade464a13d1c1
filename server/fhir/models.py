"""FHIR bulk export jobs: who asked for which data of the region, for what purpose, until when."""
from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from server.common.models import IdMixin, fk
from server.common.types import JSONType, UTCDateTime, enum_column
from server.extensions import db
from server.identity.roles import Level


class ExportPurpose(str, enum.Enum):
    """Why personal data leaves the platform; the research and statistics purposes get no names or ID numbers."""

    HEALTH_INFORMATION_EXCHANGE = "health_information_exchange"  # 区域全民健康信息平台共享
    FUND_SUPERVISION = "fund_supervision"                        # 医保基金监管
    RESEARCH = "research"                                        # 科学研究（去标识化）
    STATISTICS = "statistics"                                    # 统计分析（去标识化）

    @property
    def identifies_people(self) -> bool:
        return self in (ExportPurpose.HEALTH_INFORMATION_EXCHANGE, ExportPurpose.FUND_SUPERVISION)


class FhirExportJob(IdMixin, db.Model):
    """A FHIR bulk data export (FHIR 批量导出任务) that a bureau staff member started, with its stated purpose.

    Nothing is written to disk: each of its files is generated from the database while it
    streams, so the job keeps only the request (region, institution, period, types, purpose)
    and when it stops being served (`expires_at`).
    """

    __tablename__ = "fhir_export_job"
    __table_args__ = (
        sa.CheckConstraint("period_start IS NULL OR period_end IS NULL OR period_start <= period_end",
                           name="period_order"),
    )
    __scope__ = {Level.REGION: "region_id"}

    region_id: Mapped[int] = fk("region.id")
    account_id: Mapped[int] = fk("user_account.id", index=False)
    institution_id: Mapped[int | None] = fk("institution.id", nullable=True, index=False)
    period_start: Mapped[date | None] = mapped_column(sa.Date, nullable=True)
    period_end: Mapped[date | None] = mapped_column(sa.Date, nullable=True)
    resource_types: Mapped[list] = mapped_column(JSONType)
    purpose_code: Mapped[ExportPurpose] = mapped_column(enum_column(ExportPurpose))
    purpose: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
