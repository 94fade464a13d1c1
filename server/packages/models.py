"""Service packages, their dated versions and items."""
from __future__ import annotations

import enum
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.common.models import IdMixin, TimestampMixin, fk, money
from server.common.types import JSONType, enum_column
from server.extensions import db


class ServicePackage(IdMixin, TimestampMixin, db.Model):
    """A region's insurance service package (基本服务包), e.g. the hypertension package."""

    __tablename__ = "service_package"
    __table_args__ = (sa.UniqueConstraint("region_id", "code"),)
    __region_wide__ = "region_id"

    region_id: Mapped[int] = fk("region.id")
    code: Mapped[str] = mapped_column(sa.String(32))
    name: Mapped[str] = mapped_column(sa.String(128))
    description: Mapped[str] = mapped_column(sa.Text, default="")


class PackageVersion(IdMixin, TimestampMixin, db.Model):
    """One version of a package's content, in force between two dates."""

    __tablename__ = "package_version"
    __table_args__ = (
        sa.UniqueConstraint("package_id", "version"),
        sa.CheckConstraint("min_age >= 0", name="min_age_non_negative"),
    )
    __region_wide__ = "region_id"

    package_id: Mapped[int] = fk("service_package.id")
    region_id: Mapped[int] = fk("region.id")
    version: Mapped[int] = mapped_column(sa.Integer)
    effective_from: Mapped[date] = mapped_column(sa.Date)
    effective_to: Mapped[date | None] = mapped_column(sa.Date, nullable=True)
    target_disease_codes: Mapped[list] = mapped_column(JSONType, default=list)
    min_age: Mapped[int] = mapped_column(sa.Integer, default=0)

    items: Mapped[list[PackageItem]] = relationship(back_populates="package_version", order_by="PackageItem.id")


class ItemCategory(str, enum.Enum):
    CHECK = "check"                          # 检查
    TEST = "test"                            # 检验
    TREATMENT = "treatment"                  # 治疗
    DRUG = "drug"                            # 药品
    FOLLOW_UP = "follow_up"                  # 随访
    HEALTH_MANAGEMENT = "health_management"  # 健康管理


class PackageItem(IdMixin, db.Model):
    """An item of a package version (服务项目) with its yearly quantity and unit value.

    `basic_public_health` marks items of the public-health basic package (基础服务包),
    which the insurance fund no longer pays for.
    """

    __tablename__ = "package_item"
    __table_args__ = (
        sa.UniqueConstraint("package_version_id", "code"),
        sa.CheckConstraint("yearly_quantity > 0", name="yearly_quantity_positive"),
        sa.CheckConstraint("unit_value_fen >= 0", name="unit_value_non_negative"),
    )
    __region_wide__ = "region_id"

    package_version_id: Mapped[int] = fk("package_version.id")
    region_id: Mapped[int] = fk("region.id")
    code: Mapped[str] = mapped_column(sa.String(32))
    name: Mapped[str] = mapped_column(sa.String(128))
    category: Mapped[ItemCategory] = mapped_column(enum_column(ItemCategory))
    target_disease_codes: Mapped[list] = mapped_column(JSONType, default=list)
    yearly_quantity: Mapped[int] = mapped_column(sa.Integer)
    unit_value_fen = money()
    basic_public_health: Mapped[bool] = mapped_column(sa.Boolean, default=False)

    package_version: Mapped[PackageVersion] = relationship(back_populates="items")
