"""Follow-up plan and control status of hypertension and diabetes patients, computed in SQL.

By the national basic public-health service definitions: at least four face-to-face
follow-ups a year; a patient is controlled when the latest reading of the year is below
140/90 mmHg (both numbers) for hypertension, or a fasting glucose below 7.0 mmol/L for
diabetes; a patient with no follow-up that year is not controlled. The assessment counts
control rates with these same expressions, so they live in one place.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal

import sqlalchemy as sa

from server.common.timeutil import SHANGHAI
from server.packages.models import ItemCategory, PackageItem
from server.servicerecords.models import Confirmation, Reading, ServiceRecord, ServiceType

FACE_TO_FACE = (ServiceType.CLINIC, ServiceType.HOME_VISIT)
FOLLOW_UPS_PER_YEAR = 4
FOLLOW_UP_INTERVAL = timedelta(days=91)  # a quarter
BP_CONTROLLED_BELOW = (140, 90)
GLUCOSE_CONTROLLED_BELOW = Decimal("7.0")


def year_bounds(year: int) -> tuple[datetime, datetime]:
    start = datetime.combine(date(year, 1, 1), time.min, SHANGHAI)
    return start, datetime.combine(date(year + 1, 1, 1), time.min, SHANGHAI)


def face_to_face_follow_ups(year: int) -> sa.Subquery:
    """Per resident: count and last time of undisputed face-to-face follow-ups in the year."""
    start, end = year_bounds(year)
    return (sa.select(ServiceRecord.resident_id, sa.func.count().label("follow_ups"),
                      sa.func.max(ServiceRecord.served_at).label("last_follow_up"))
            .join(PackageItem, PackageItem.id == ServiceRecord.package_item_id)
            .where(PackageItem.category == ItemCategory.FOLLOW_UP, ServiceRecord.service_type.in_(FACE_TO_FACE),
                   ServiceRecord.confirmation != Confirmation.DISPUTED,
                   ServiceRecord.served_at >= start, ServiceRecord.served_at < end)
            .group_by(ServiceRecord.resident_id).subquery("follow_ups"))


def latest_readings(year: int, *, measure, per_contract: bool = False) -> sa.Subquery:
    """Per resident (or per contract it was taken under): the latest reading of the year that has `measure`."""
    start, end = year_bounds(year)
    owner = ServiceRecord.contract_id if per_contract else Reading.resident_id
    ranked = (sa.select(Reading.id.label("reading_id"), Reading.resident_id, ServiceRecord.contract_id,
                        Reading.systolic_mmhg, Reading.diastolic_mmhg, Reading.fasting_glucose_mmol,
                        sa.func.row_number().over(partition_by=owner,
                                                  order_by=(Reading.measured_at.desc(), Reading.id.desc()))
                        .label("rank"))
              .join(ServiceRecord, ServiceRecord.id == Reading.service_record_id)
              .where(measure.is_not(None), Reading.measured_at >= start, Reading.measured_at < end,
                     ServiceRecord.confirmation != Confirmation.DISPUTED)
              .subquery())
    return sa.select(ranked).where(ranked.c.rank == 1).subquery()


def bp_controlled(latest: sa.Subquery) -> sa.ColumnElement[bool]:
    return sa.and_(latest.c.systolic_mmhg < BP_CONTROLLED_BELOW[0], latest.c.diastolic_mmhg < BP_CONTROLLED_BELOW[1])


def glucose_controlled(latest: sa.Subquery) -> sa.ColumnElement[bool]:
    return latest.c.fasting_glucose_mmol < GLUCOSE_CONTROLLED_BELOW


def next_due(last_follow_up: datetime | None, period_start: date) -> date:
    """The next quarterly follow-up: a quarter after the last, or at the contract's start."""
    if last_follow_up is None:
        return period_start
    return last_follow_up.astimezone(SHANGHAI).date() + FOLLOW_UP_INTERVAL
