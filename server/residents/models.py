"""Residents with encrypted identity data, conditions, benefit enrolments and family links."""
from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.common import pii
from server.common.models import IdMixin, PhoneMixin, TimestampMixin, fk
from server.common.types import EncryptedText, JSONType, UTCDateTime, enum_column
from server.extensions import db
from server.identity.roles import Level
from server.identity.scoping import inherit_scope


def _residents_with_contract(column: str):
    """Residents reachable through a contract held at the given level (any state)."""
    def rule(ids):
        from server.contracts.models import Contract
        return Resident.id.in_(sa.select(Contract.resident_id).where(getattr(Contract, column).in_(ids)))
    return rule


class Resident(IdMixin, TimestampMixin, PhoneMixin, db.Model):
    """An insured resident (参保人员) with insurance facts as last verified.

    The ID and phone numbers are ciphertext at rest; `*_hash` columns are keyed hashes
    used to find a person without decrypting anyone. Assign through `set_id_number` /
    `set_phone` so the hash always matches.
    """

    __tablename__ = "resident"
    __scope__ = {
        Level.REGION: "region_id",
        Level.INSTITUTION: _residents_with_contract("institution_id"),
        Level.TEAM: _residents_with_contract("team_id"),
        Level.RESIDENT: "id",
    }

    region_id: Mapped[int] = fk("region.id")
    name: Mapped[str] = mapped_column(sa.String(64))
    gender: Mapped[str] = mapped_column(sa.String(8))
    birth_date: Mapped[date] = mapped_column(sa.Date)
    id_number: Mapped[str] = mapped_column(EncryptedText)
    id_number_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    address: Mapped[str] = mapped_column(sa.String(255), default="")
    # Insurance facts from the provincial platform (1101), as of `insurance_verified_at`.
    insurance_type: Mapped[str | None] = mapped_column(sa.String(8), nullable=True)  # 310 职工 / 390 居民
    insurance_status: Mapped[str | None] = mapped_column(sa.String(16), nullable=True)
    insured_admdvs: Mapped[str | None] = mapped_column(sa.String(6), nullable=True)
    insurance_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Population tags such as "poverty_registered"; the rules say which have another payer.
    populations: Mapped[list] = mapped_column(JSONType, default=list)
    health_record_created_on: Mapped[date | None] = mapped_column(sa.Date, nullable=True)
    health_record_updated_on: Mapped[date | None] = mapped_column(sa.Date, nullable=True)

    conditions: Mapped[list[ChronicCondition]] = relationship(order_by="ChronicCondition.id", viewonly=True)
    benefits: Mapped[list[BenefitEnrolment]] = relationship(order_by="BenefitEnrolment.id", viewonly=True)

    def set_id_number(self, number: str) -> None:
        self.id_number = number
        self.id_number_hash = pii.blind_index(number)



class ChronicCondition(IdMixin, TimestampMixin, db.Model):
    """A diagnosed chronic condition (慢性病) of a resident; `stable` allows 12-week scripts."""

    __tablename__ = "chronic_condition"
    __table_args__ = (sa.UniqueConstraint("resident_id", "disease_code"),)

    resident_id: Mapped[int] = fk("resident.id")
    disease_code: Mapped[str] = mapped_column(sa.String(32), sa.ForeignKey("disease.code"))
    diagnosed_on: Mapped[date | None] = mapped_column(sa.Date, nullable=True)
    source: Mapped[str] = mapped_column(sa.String(32), default="platform")
    stable: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    stable_assessed_on: Mapped[date | None] = mapped_column(sa.Date, nullable=True)


class BenefitScheme(str, enum.Enum):
    TWO_DISEASE_DRUG = "two_disease_drug"                  # 两病门诊用药保障
    CHRONIC_SPECIAL_OUTPATIENT = "chronic_special_outpatient"  # 门诊慢特病


class BenefitEnrolment(IdMixin, TimestampMixin, db.Model):
    """A resident's enrolment in another outpatient benefit, checked to avoid double benefit."""

    __tablename__ = "benefit_enrolment"

    resident_id: Mapped[int] = fk("resident.id")
    scheme: Mapped[BenefitScheme] = mapped_column(enum_column(BenefitScheme))
    disease_code: Mapped[str] = mapped_column(sa.String(32), sa.ForeignKey("disease.code"))
    registration_no: Mapped[str] = mapped_column(sa.String(64), default="")
    valid_from: Mapped[date] = mapped_column(sa.Date)
    valid_to: Mapped[date | None] = mapped_column(sa.Date, nullable=True)


class Relation(str, enum.Enum):
    SELF = "self"
    SPOUSE = "spouse"
    CHILD = "child"
    PARENT = "parent"
    OTHER = "other"


_LIVE_SELF = sa.text("relation = 'self' AND revoked_at IS NULL")


class FamilyLink(IdMixin, TimestampMixin, db.Model):
    """A WeChat account's right to act for a resident (本人或家庭成员), with recorded consent."""

    __tablename__ = "family_link"
    __table_args__ = (
        sa.Index("uq_family_link_live", "wechat_account_id", "resident_id", unique=True,
                 sqlite_where=sa.text("revoked_at IS NULL"), postgresql_where=sa.text("revoked_at IS NULL")),
        # A person's own identity is bound to one WeChat account at a time.
        sa.Index("uq_family_link_self", "resident_id", unique=True,
                 sqlite_where=_LIVE_SELF, postgresql_where=_LIVE_SELF),
    )

    wechat_account_id: Mapped[int] = fk("wechat_account.id")
    resident_id: Mapped[int] = fk("resident.id")
    relation: Mapped[Relation] = mapped_column(enum_column(Relation))
    consent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    consent_version: Mapped[str] = mapped_column(sa.String(32))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    resident: Mapped[Resident] = relationship(viewonly=True)


for _child in (ChronicCondition, BenefitEnrolment, FamilyLink):
    _child.__scope__ = inherit_scope(_child.resident_id, Resident)
