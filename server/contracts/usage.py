"""How much of a contract's package has been used: per item, counted in the database."""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from server.contracts.models import Contract
from server.extensions import db
from server.packages.models import PackageItem
from server.servicerecords.models import Confirmation, ServiceRecord


@dataclass(frozen=True)
class ItemUsage:
    item: PackageItem
    used: int

    @property
    def remaining(self) -> int:
        return max(self.item.yearly_quantity - self.used, 0)


def item_usage(contract: Contract) -> list[ItemUsage]:
    """Each package item with the services delivered against it in this contract (disputed ones excluded)."""
    used = (sa.select(ServiceRecord.package_item_id, sa.func.count().label("used"))
            .where(ServiceRecord.contract_id == contract.id, ServiceRecord.confirmation != Confirmation.DISPUTED)
            .group_by(ServiceRecord.package_item_id).subquery())
    rows = db.session.execute(
        sa.select(PackageItem, sa.func.coalesce(used.c.used, 0))
        .outerjoin(used, used.c.package_item_id == PackageItem.id)
        .where(PackageItem.package_version_id == contract.package_version_id).order_by(PackageItem.id)).all()
    return [ItemUsage(item, count) for item, count in rows]


def unused_share(contract: Contract) -> tuple[int, int]:
    """(value not yet delivered, total value) of the package in fen, for pro-rata refunds."""
    total = unused = 0
    for usage in item_usage(contract):
        total += usage.item.unit_value_fen * usage.item.yearly_quantity
        unused += usage.item.unit_value_fen * usage.remaining
    return unused, total


def services_delivered(contract_id: int) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(ServiceRecord).where(
        ServiceRecord.contract_id == contract_id, ServiceRecord.confirmation != Confirmation.DISPUTED)) or 0
