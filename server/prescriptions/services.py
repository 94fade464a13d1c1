"""Reading long-term prescriptions, with their drugs, dispensings and next refill date."""
from __future__ import annotations

from sqlalchemy.orm import selectinload

from server.common.paging import Page, PageRequest, paginate, where_given
from server.identity.roles import Actor
from server.identity.scoping import scoped_select
from server.prescriptions.models import Prescription, PrescriptionStatus


def list_prescriptions(actor: Actor, page: PageRequest, *, resident_id: int | None = None,
                       status: PrescriptionStatus | None = None) -> Page[Prescription]:
    stmt = (scoped_select(Prescription, actor)
            .options(selectinload(Prescription.items), selectinload(Prescription.dispensings))
            .order_by(Prescription.issued_on.desc(), Prescription.id.desc()))
    return paginate(where_given(stmt, (Prescription.resident_id, resident_id), (Prescription.status, status)), page)
