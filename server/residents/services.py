"""Use cases for reading residents; every staff read of a person is audited."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from server.audit import services as audit
from server.common import idcard, pii
from server.common.paging import Page, PageRequest, paginate, where_given
from server.common.uow import transaction
from server.errors import ValidationFailed
from server.extensions import db
from server.identity.roles import MANAGING_ROLES, Actor, Role, allowed
from server.identity.scoping import get_visible, scoped_select
from server.residents.models import FamilyLink, Resident


@allowed(*MANAGING_ROLES)
def search_residents(actor: Actor, page: PageRequest, *, id_number: str | None = None,
                     name: str | None = None) -> Page[Resident]:
    """Staff search within scope; an ID number is matched by its keyed hash, never decrypted."""
    stmt = scoped_select(Resident, actor).order_by(Resident.id)
    if id_number is not None:
        if not idcard.is_valid(id_number):
            raise ValidationFailed(details={"fields": {"id_number": "身份证号校验位不正确"}})
        stmt = stmt.where(Resident.id_number_hash == pii.blind_index(id_number))
    stmt = where_given(stmt, (Resident.name, name))
    with transaction():
        result = paginate(stmt, page)
        if actor.is_staff:
            audit.record(actor, "resident.list", "resident", "*",
                         {"ids": [r.id for r in result.items], "by_id_number": id_number is not None})
    return result


@allowed(*MANAGING_ROLES, Role.TEAM_MEMBER, Role.RESIDENT)
def get_resident(actor: Actor, resident_id: int) -> Resident:
    """One resident with conditions and benefits, loaded before the transaction ends."""
    with transaction():
        resident = get_visible(Resident, resident_id, actor)
        db.session.refresh(resident, ["conditions", "benefits"])
        if actor.is_staff:
            audit.record(actor, "resident.read", "resident", resident.id)
    return resident


@allowed(Role.RESIDENT)
def family_of(actor: Actor) -> list[FamilyLink]:
    """Whom a WeChat account acts for (itself, family with an active proxy) and the invitations it sent.

    The schema shows a pending invitation without the person's details.
    """
    return list(db.session.scalars(
        sa.select(FamilyLink).where(FamilyLink.wechat_account_id == actor.account_id,
                                    FamilyLink.revoked_at.is_(None))
        .options(selectinload(FamilyLink.resident)).order_by(FamilyLink.id)))
