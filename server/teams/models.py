"""Teams, staff and memberships."""
from __future__ import annotations

import enum
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from server.common.models import IdMixin, PhoneMixin, TimestampMixin, fk
from server.common.types import JSONType, enum_column
from server.extensions import db
from server.identity.roles import Level


class Team(IdMixin, TimestampMixin, db.Model):
    """A family-doctor team (家庭医生签约团队) of one institution, with a signing capacity."""

    __tablename__ = "team"
    __table_args__ = (sa.CheckConstraint("capacity >= 0", name="capacity_non_negative"),)
    __scope__ = {Level.REGION: "region_id", Level.INSTITUTION: "institution_id", Level.TEAM: "id"}

    region_id: Mapped[int] = fk("region.id")
    institution_id: Mapped[int] = fk("institution.id")
    name: Mapped[str] = mapped_column(sa.String(128))
    capacity: Mapped[int] = mapped_column(sa.Integer)
    specialities: Mapped[list] = mapped_column(JSONType, default=list)
    is_active: Mapped[bool] = mapped_column(sa.Boolean, default=True)


class StaffKind(str, enum.Enum):
    DOCTOR = "doctor"                  # 医生
    NURSE = "nurse"                    # 护士
    PUBLIC_HEALTH = "public_health"    # 公卫人员
    VILLAGE_DOCTOR = "village_doctor"  # 乡村医生


class Staff(IdMixin, TimestampMixin, PhoneMixin, db.Model):
    """A medical staff member (医务人员) of an institution, with a practising licence."""

    __tablename__ = "staff"
    __scope__ = {
        Level.REGION: "region_id",
        Level.INSTITUTION: "institution_id",
        Level.TEAM: lambda ids: Staff.id.in_(
            sa.select(TeamMembership.staff_id).where(TeamMembership.team_id.in_(ids))),
    }

    region_id: Mapped[int] = fk("region.id")
    institution_id: Mapped[int] = fk("institution.id")
    name: Mapped[str] = mapped_column(sa.String(64))
    kind: Mapped[StaffKind] = mapped_column(enum_column(StaffKind))
    licence_no: Mapped[str] = mapped_column(sa.String(64), default="")  # 执业证书编号
    title: Mapped[str] = mapped_column(sa.String(64), default="")
    is_active: Mapped[bool] = mapped_column(sa.Boolean, default=True)


class TeamMembership(IdMixin, db.Model):
    """A staff member's place in a team (团队成员) over a span of dates."""

    __tablename__ = "team_membership"
    __table_args__ = (sa.UniqueConstraint("team_id", "staff_id", "joined_on"),)
    __scope__ = {
        Level.REGION: lambda ids: TeamMembership.team_id.in_(sa.select(Team.id).where(Team.region_id.in_(ids))),
        Level.INSTITUTION: lambda ids: TeamMembership.team_id.in_(
            sa.select(Team.id).where(Team.institution_id.in_(ids))),
        Level.TEAM: "team_id",
    }

    team_id: Mapped[int] = fk("team.id")
    staff_id: Mapped[int] = fk("staff.id")
    is_leader: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    joined_on: Mapped[date] = mapped_column(sa.Date)
    left_on: Mapped[date | None] = mapped_column(sa.Date, nullable=True)
