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


_IMPORTED = sa.text("source = 'import'")


class BenefitEnrolment(IdMixin, TimestampMixin, db.Model):
    """A resident's enrolment in another outpatient benefit, checked to avoid double benefit.

    `source` says where it came from: the platform (5301 at binding, no serial) or a bureau
    file of registrations (两病用药保障登记、门诊慢特病登记), whose serial is its key.
    """

    __tablename__ = "benefit_enrolment"
    __table_args__ = (
        # The bureau's registration serial names one registration, whoever it is for.
        sa.Index("uq_benefit_enrolment_import_registration", "registration_no", unique=True,
                 sqlite_where=_IMPORTED, postgresql_where=_IMPORTED),
    )

    resident_id: Mapped[int] = fk("resident.id")
    scheme: Mapped[BenefitScheme] = mapped_column(enum_column(BenefitScheme))
    disease_code: Mapped[str] = mapped_column(sa.String(32), sa.ForeignKey("disease.code"))
    registration_no: Mapped[str] = mapped_column(sa.String(64), default="")
    valid_from: Mapped[date] = mapped_column(sa.Date)
    valid_to: Mapped[date | None] = mapped_column(sa.Date, nullable=True)
    source: Mapped[str] = mapped_column(sa.String(16), default="platform")  # platform / import
    batch_id: Mapped[int | None] = fk("import_batch.id", nullable=True)


def _through_contract(column: str):
    """Rows whose contract is held at the given level."""
    def rule(ids):
        from server.contracts.models import Contract
        return BenefitAlert.contract_id.in_(sa.select(Contract.id).where(getattr(Contract, column).in_(ids)))
    return rule


class BenefitAlertStatus(str, enum.Enum):
    OPEN = "open"          # 待处理
    RESOLVED = "resolved"  # 已处理


class BenefitAlert(IdMixin, TimestampMixin, db.Model):
    """A duplicate-benefit alert (重复享受待遇预警): a registration that overlaps a signed contract's package.

    Raised once per contract and registration (the unique constraint), for the bureau to
    resolve with a note; the contract's institution and team see it too.
    """

    __tablename__ = "benefit_alert"
    __table_args__ = (
        sa.UniqueConstraint("contract_id", "enrolment_id", name="uq_benefit_alert_contract_enrolment"),
        sa.Index("ix_benefit_alert_region_status", "region_id", "status"),
        sa.CheckConstraint("(status = 'resolved') = (resolved_at IS NOT NULL)", name="resolved_when_dated"),
    )
    __scope__ = {
        Level.REGION: "region_id",
        Level.INSTITUTION: _through_contract("institution_id"),
        Level.TEAM: _through_contract("team_id"),
    }

    region_id: Mapped[int] = fk("region.id", index=False)
    contract_id: Mapped[int] = fk("contract.id")
    enrolment_id: Mapped[int] = fk("benefit_enrolment.id")
    batch_id: Mapped[int | None] = fk("import_batch.id", nullable=True, index=False)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[BenefitAlertStatus] = mapped_column(enum_column(BenefitAlertStatus))
    resolution_note: Mapped[str] = mapped_column(sa.String(500), default="")
    resolved_by_account_id: Mapped[int | None] = fk("user_account.id", nullable=True, index=False)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    enrolment: Mapped[BenefitEnrolment] = relationship(viewonly=True)
    contract = relationship("Contract", viewonly=True)


class RosterChangeType(str, enum.Enum):
    STOP = "stop"          # 暂停/终止参保
    RESUME = "resume"      # 恢复参保
    MOVE_OUT = "move_out"  # 转出本统筹地区
    DEATH = "death"        # 死亡


class RosterChange(IdMixin, db.Model):
    """An insurance roster change (参保状态变更) from the bureau's core system, keyed by its serial.

    Stored once per region and serial, so a file sent twice applies once; the resident's
    insurance facts follow the latest change by date.
    """

    __tablename__ = "roster_change"
    __table_args__ = (
        sa.UniqueConstraint("region_id", "chg_sn"),
        sa.Index("ix_roster_change_resident_date", "resident_id", "chg_date"),
    )
    __scope__ = {Level.REGION: "region_id"}

    region_id: Mapped[int] = fk("region.id", index=False)
    chg_sn: Mapped[str] = mapped_column(sa.String(64))
    resident_id: Mapped[int] = fk("resident.id", index=False)
    chg_type: Mapped[RosterChangeType] = mapped_column(enum_column(RosterChangeType))
    chg_date: Mapped[date] = mapped_column(sa.Date)
    insu_admdvs: Mapped[str | None] = mapped_column(sa.String(6), nullable=True)
    batch_id: Mapped[int] = fk("import_batch.id")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Relation(str, enum.Enum):
    SELF = "self"
    SPOUSE = "spouse"
    CHILD = "child"
    PARENT = "parent"
    OTHER = "other"


class ProxyStatus(str, enum.Enum):
    PENDING = "pending"  # invited; the account sees only the invitation
    ACTIVE = "active"    # consented or confirmed; the account acts for the person
    ENDED = "ended"      # declined, withdrawn or ended by either side; `revoked_at` says when


class ProxyConfirmation(str, enum.Enum):
    OWN_IDENTITY = "own_identity"  # the person bound their own identity (relation self)
    ACCEPTED = "accepted"          # the person accepted from their own WeChat account
    IN_PERSON = "in_person"        # a team member checked the relation face to face
    LEGACY = "legacy"              # created before consent was required (migration a1d0c0de0011)


class ProofDocument(str, enum.Enum):
    """What a team member saw when confirming a relation in person."""

    ID_CARD = "id_card"                                    # 身份证
    HOUSEHOLD_REGISTER = "household_register"              # 户口簿
    BIRTH_CERTIFICATE = "birth_certificate"                # 出生医学证明
    MARRIAGE_CERTIFICATE = "marriage_certificate"          # 结婚证
    GUARDIANSHIP_CERTIFICATE = "guardianship_certificate"  # 监护关系证明


_LIVE = sa.text("revoked_at IS NULL")
_LIVE_SELF = sa.text("relation = 'self' AND revoked_at IS NULL")


class FamilyLink(IdMixin, TimestampMixin, db.Model):
    """A WeChat account's right to act for a resident (本人或亲情代办), with the person's consent.

    Acting for someone else starts `pending` with an unguessable, expiring invitation code
    and becomes `active` only when the person accepts from their own WeChat account, or a
    team member confirms the relation in person (for a child, the guardian's relation); who,
    when and what was seen is kept here. `consent_at` / `consent_version` record the consent
    of the person concerned (or their guardian), so they stay empty while pending. Only
    active links give an account access (`identity.services.resident_actor`).

    The lifecycle lives on this row rather than in a companion table because the row *is*
    the right to act: every query that asks "whom may this account act for" (scope,
    reminders, survey invitations) reads one table and one status, and the partial unique
    indexes keep one live link per account and person, pending or active.
    """

    __tablename__ = "family_link"
    __table_args__ = (
        sa.Index("uq_family_link_live", "wechat_account_id", "resident_id", unique=True,
                 sqlite_where=_LIVE, postgresql_where=_LIVE),
        # A person's own identity is bound to one WeChat account at a time.
        sa.Index("uq_family_link_self", "resident_id", unique=True,
                 sqlite_where=_LIVE_SELF, postgresql_where=_LIVE_SELF),
        sa.CheckConstraint("(status = 'ended') = (revoked_at IS NOT NULL)", name="ended_when_revoked"),
        sa.CheckConstraint("status <> 'active' OR (confirmed_via IS NOT NULL AND confirmed_at IS NOT NULL "
                           "AND consent_at IS NOT NULL)", name="active_is_confirmed"),
    )

    wechat_account_id: Mapped[int] = fk("wechat_account.id")
    resident_id: Mapped[int] = fk("resident.id")
    relation: Mapped[Relation] = mapped_column(enum_column(Relation))
    # No default: whoever creates a link says whether it is pending or already confirmed.
    status: Mapped[ProxyStatus] = mapped_column(enum_column(ProxyStatus))
    invitation_code: Mapped[str | None] = mapped_column(sa.String(16), nullable=True, unique=True)
    invitation_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    confirmed_via: Mapped[ProxyConfirmation | None] = mapped_column(enum_column(ProxyConfirmation), nullable=True)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    confirmed_by_wechat_account_id: Mapped[int | None] = fk("wechat_account.id", nullable=True, index=False)
    confirmed_by_user_account_id: Mapped[int | None] = fk("user_account.id", nullable=True, index=False)
    documents_seen: Mapped[list] = mapped_column(JSONType, default=list)
    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    consent_version: Mapped[str | None] = mapped_column(sa.String(32), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    resident: Mapped[Resident] = relationship(viewonly=True)

    @property
    def resident_if_active(self) -> Resident | None:
        """The person's details reach the account only once the proxy is active."""
        return self.resident if self.status is ProxyStatus.ACTIVE else None


for _child in (ChronicCondition, BenefitEnrolment, FamilyLink):
    _child.__scope__ = inherit_scope(_child.resident_id, Resident)
