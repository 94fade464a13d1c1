"""Surveys, invitations to served residents, and their responses."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from server.common.models import IdMixin, TimestampMixin, fk
from server.common.types import JSONType, UTCDateTime
from server.contracts.models import Contract
from server.extensions import db
from server.identity.scoping import CARE_SCOPE, inherit_scope


class Survey(IdMixin, TimestampMixin, db.Model):
    """A region's satisfaction questionnaire (满意度问卷)."""

    __tablename__ = "survey"
    __region_wide__ = "region_id"

    region_id: Mapped[int] = fk("region.id")
    name: Mapped[str] = mapped_column(sa.String(128))
    questions: Mapped[list] = mapped_column(JSONType, default=list)
    is_active: Mapped[bool] = mapped_column(sa.Boolean, default=True)


class SurveyInvitation(IdMixin, TimestampMixin, db.Model):
    """An invitation to rate a served visit (满意度邀请); one response at most."""

    __tablename__ = "survey_invitation"
    __table_args__ = (sa.UniqueConstraint("service_record_id"),)  # one invitation per served visit

    survey_id: Mapped[int] = fk("survey.id")
    contract_id: Mapped[int] = fk("contract.id")
    service_record_id: Mapped[int | None] = fk("service_record.id", nullable=True, index=False)
    invited_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    message_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class SurveyResponse(IdMixin, TimestampMixin, db.Model):
    """Scores of 1–5 for ability, attitude, timeliness and overall (满意度评价).

    `channel` keeps the resident's own answers apart from phone follow-ups entered by staff.
    """

    __tablename__ = "survey_response"
    __table_args__ = (
        sa.UniqueConstraint("invitation_id"),
        *(sa.CheckConstraint(f"{col} BETWEEN 1 AND 5", name=f"{col}_range")
          for col in ("score_ability", "score_attitude", "score_timeliness", "score_overall")),
    )
    __scope__ = CARE_SCOPE

    invitation_id: Mapped[int] = fk("survey_invitation.id", index=False)
    region_id: Mapped[int] = fk("region.id", index=False)
    institution_id: Mapped[int] = fk("institution.id")
    team_id: Mapped[int] = fk("team.id", index=False)
    resident_id: Mapped[int] = fk("resident.id", index=False)
    channel: Mapped[str] = mapped_column(sa.String(16))  # self / phone
    entered_by_staff_id: Mapped[int | None] = fk("staff.id", nullable=True, index=False)
    score_ability: Mapped[int] = mapped_column(sa.SmallInteger)
    score_attitude: Mapped[int] = mapped_column(sa.SmallInteger)
    score_timeliness: Mapped[int] = mapped_column(sa.SmallInteger)
    score_overall: Mapped[int] = mapped_column(sa.SmallInteger)
    comment: Mapped[str] = mapped_column(sa.String(500), default="")
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime)


SurveyInvitation.__scope__ = inherit_scope(SurveyInvitation.contract_id, Contract)
