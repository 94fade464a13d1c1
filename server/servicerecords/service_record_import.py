"""Importing service records (履约记录) with their readings from an institution's own system.

The rules are the doctor's API's (`recording.py`), applied to data loaded set-wise: per chunk
of rows one query each for the contracts, the delivered counts (one GROUP BY), the external
ids already stored and the colliding service moments. The yearly quantity depends on the order
of services, so the check pass keeps, per (contract, item), only the earliest `quota left`
service times of the file, and the store pass decides it in served_at order (a row is within
the quota when its time is among those kept). Readings go in with one bulk INSERT per chunk.
"""
from __future__ import annotations

from bisect import bisect_left, insort
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NamedTuple

import sqlalchemy as sa

from server.contracts.models import Contract
from server.contracts.states import ContractStatus
from server.extensions import db
from server.identity.roles import Actor
from server.identity.scoping import visible
from server.imports.parsing import Fields
from server.imports.pipeline import Parsed, Report, StaffDirectory, plan_with_values
from server.packages.models import PackageItem
from server.regions.models import LocalRules
from server.regions.rules import no_rules_in_force
from server.servicerecords.models import Confirmation, Reading, ServiceRecord, ServiceType
from server.servicerecords.recording import INTEGER_READINGS, READING_RANGES, Delivery, local_date, \
    reading_problems, service_problem

_ONE_DECIMAL = Decimal("0.1")
_SERVICE_TYPES = {t.value: t for t in ServiceType}


class _ContractFacts(NamedTuple):
    """What the rules read of a contract (duck-typing `Contract` for `recording.service_problem`)."""

    id: int
    contract_no: str
    region_id: int
    institution_id: int
    team_id: int
    resident_id: int
    package_version_id: int
    status: ContractStatus
    period_start: date
    period_end: date
    activated_at: datetime | None
    ended_at: datetime | None


class _ItemFacts(NamedTuple):
    id: int
    code: str
    package_version_id: int
    yearly_quantity: int


SERVICE_READINGS = tuple(READING_RANGES)


class ServiceRecordImporter:
    """Service records (履约记录) with their readings, by the rules of `recording.py`."""

    kind = "service_records"
    columns = frozenset({"external_id", "contract_no", "item_code", "service_type", "served_at", "staff_licence_no",
                         "staff_id", "place", "notes", *SERVICE_READINGS})
    required_columns = ("external_id", "contract_no", "item_code", "service_type", "served_at")
    one_of_columns = (("staff_licence_no", "staff_id"),)

    def __init__(self, actor: Actor, now: datetime) -> None:
        self.actor, self.now = actor, now
        self.contracts: dict[str, _ContractFacts | None] = {}
        self.delivered: dict[tuple[int, int], int] = {}  # undisputed services stored, per (contract, item)
        # Per (contract, item): the earliest service times of this file that fit in the quota left.
        self.kept: dict[tuple[int, int], list[datetime]] = {}
        self.moments: set[tuple[int, int, datetime]] = set()  # services of this file, to refuse a second
        self.items: dict[str, list[_ItemFacts]] = {}
        for row in db.session.execute(sa.select(PackageItem.id, PackageItem.code, PackageItem.package_version_id,
                                                PackageItem.yearly_quantity)
                                      .where(PackageItem.region_id == actor.region_id).order_by(PackageItem.id)):
            self.items.setdefault(row.code, []).append(_ItemFacts(*row))
        self.staff = StaffDirectory(actor.institution_id)
        self.rules = [tuple(row) for row in db.session.execute(
            sa.select(LocalRules.effective_from, LocalRules.services_beyond_quota)
            .where(LocalRules.region_id == actor.region_id).order_by(LocalRules.effective_from))]

    # Parsing ------------------------------------------------------------------------------------

    def parse(self, data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        f = Fields(data, self.columns)
        values: dict[str, Any] = {
            "external_id": f.text("external_id", max_length=64, required=True),
            "contract_no": f.text("contract_no", max_length=32, required=True),
            "item_code": f.text("item_code", max_length=32, required=True),
            "served_at": f.moment("served_at"),
            "place": f.text("place", max_length=255, default=""),
            "notes": f.text("notes", max_length=2000, default="", free_text=True),
            "staff_licence_no": f.text("staff_licence_no", max_length=64),
            "staff_id": f.integer("staff_id"),
        }
        service_type = f.text("service_type", max_length=16, required=True)
        values["service_type"] = _SERVICE_TYPES.get(service_type or "")
        if service_type and values["service_type"] is None:
            f.problems["service_type"] = "应为 " + "、".join(_SERVICE_TYPES) + " 之一"
        if values["staff_licence_no"] is None and values["staff_id"] is None and "staff_id" not in f.problems:
            f.problems["staff_licence_no"] = "必填（或填写 staff_id）"
        values["reading"] = {name: number for name in SERVICE_READINGS
                             if (number := f.number(name)) is not None}
        return values, f.problems

    # Pass 1 -------------------------------------------------------------------------------------

    def check(self, rows: list[Parsed], report: Report) -> list[int]:
        """Every rule except the yearly quantity; returns the ordinals of the rows to store."""
        if not rows:
            return []
        stored_ids = self._stored_external_ids([row.values["external_id"] for row in rows])
        new = [row for row in rows if row.values["external_id"] not in stored_ids]
        report.rows_already_stored += len(rows) - len(new)
        if not new:
            return []
        self._load_contracts({row.values["contract_no"] for row in new})
        taken = self._stored_moments(new)
        passed = []
        for ordinal, line, values in new:
            external_id = values["external_id"]
            code, message = self._problem(values, taken)
            if code:
                report.fail(line, external_id, code, message)
                continue
            contract, item = self.contracts[values["contract_no"]], self._item(values)
            self.moments.add((contract.id, item.id, values["served_at"]))
            key = (contract.id, item.id)
            left = item.yearly_quantity - self.delivered.get(key, 0)
            if left > 0:
                kept = self.kept.setdefault(key, [])
                insort(kept, values["served_at"])
                if len(kept) > left:
                    kept.pop()
            passed.append(ordinal)
        return passed

    def _problem(self, values: dict[str, Any], taken: set[tuple[int, int, datetime]]) -> tuple[str | None, str]:
        contract = self.contracts.get(values["contract_no"])
        if contract is None:
            return "CONTRACT_NOT_FOUND", "签约协议不存在或不在本人管理范围内"
        item = self._item(values)
        if item is None:
            return "ITEM_NOT_FOUND", "本地区服务包中没有该服务项目编码"
        if self.staff.find(values) is None:
            return "STAFF_NOT_FOUND", "本机构没有该医务人员（执业证书编号或人员 id）"
        problems = reading_problems(values["reading"])
        if problems:
            return "READING_IMPLAUSIBLE", "体征数据不合理：" + "；".join(f"{k}：{v}" for k, v in problems.items())
        served_at = values["served_at"]
        if self._rules_on(local_date(served_at)) is None:
            return "RULES_NOT_IN_FORCE", no_rules_in_force(local_date(served_at)).message
        # The quantity is decided in pass 2, in served_at order; here every other rule.
        problem = service_problem(Delivery(contract, item, served_at, 0), now=self.now,  # type: ignore[arg-type]
                                  beyond_quota_allowed=True)
        if problem is not None:
            return problem.code, problem.message
        moment = (contract.id, item.id, served_at)
        if moment in taken or moment in self.moments:
            return "DUPLICATE_SERVICE", "同一项目同一时间已有服务记录"
        return None, ""

    def _item(self, values: dict[str, Any]) -> _ItemFacts | None:
        """The item of the contract's package with that code; else one of another package of the
        region, which the rules then refuse as not in the package."""
        candidates = self.items.get(values["item_code"])
        if not candidates:
            return None
        version_id = self.contracts[values["contract_no"]].package_version_id
        return next((item for item in candidates if item.package_version_id == version_id), candidates[-1])

    def _rules_on(self, day: date) -> bool | None:
        """Whether the rules in force on `day` allow services beyond the quota; None: no rules."""
        allowed = None
        for effective_from, beyond_quota in self.rules:
            if effective_from > day:
                break
            allowed = beyond_quota
        return allowed

    def _stored_external_ids(self, external_ids: list[str]) -> set[str]:
        return set(db.session.scalars(sa.select(ServiceRecord.external_id).where(
            ServiceRecord.institution_id == self.actor.institution_id, ServiceRecord.external_id.in_(external_ids))))

    def _load_contracts(self, numbers: set[str]) -> None:
        """The actor's contracts among `numbers` not seen yet, and their delivered counts (one GROUP BY)."""
        new = sorted(numbers - self.contracts.keys())
        if not new:
            return
        for number in new:
            self.contracts[number] = None  # unknown or outside the actor's scope, unless found now
        found = [_ContractFacts(*row) for row in db.session.execute(
            sa.select(Contract.id, Contract.contract_no, Contract.region_id, Contract.institution_id, Contract.team_id,
                      Contract.resident_id, Contract.package_version_id, Contract.status, Contract.period_start,
                      Contract.period_end, Contract.activated_at, Contract.ended_at)
            .where(visible(Contract, self.actor), Contract.institution_id == self.actor.institution_id,
                   Contract.contract_no.in_(new)))]
        for contract in found:
            self.contracts[contract.contract_no] = contract
        if found:
            counts = db.session.execute(
                sa.select(ServiceRecord.contract_id, ServiceRecord.package_item_id, sa.func.count())
                .where(ServiceRecord.contract_id.in_([c.id for c in found]),
                       ServiceRecord.confirmation != Confirmation.DISPUTED)
                .group_by(ServiceRecord.contract_id, ServiceRecord.package_item_id))
            for contract_id, item_id, count in counts:
                self.delivered[(contract_id, item_id)] = count

    def _stored_moments(self, rows: list[Parsed]) -> set[tuple[int, int, datetime]]:
        """Stored services of these rows' contracts at these rows' times (one query per chunk)."""
        contract_ids = {c.id for row in rows if (c := self.contracts.get(row.values["contract_no"]))}
        if not contract_ids:
            return set()
        times = {row.values["served_at"] for row in rows}
        return {tuple(row) for row in db.session.execute(
            sa.select(ServiceRecord.contract_id, ServiceRecord.package_item_id, ServiceRecord.served_at)
            .where(ServiceRecord.contract_id.in_(sorted(contract_ids)), ServiceRecord.served_at.in_(sorted(times))))}

    # Pass 2 -------------------------------------------------------------------------------------

    def store(self, rows: list[Parsed], report: Report) -> None:
        """Decide the yearly quantity in served_at order, then one INSERT per table for the chunk."""
        records, readings = [], {}
        for _ordinal, line, values in rows:
            contract, item = self.contracts[values["contract_no"]], self._item(values)
            served_at = values["served_at"]
            key = (contract.id, item.id)
            kept = self.kept.get(key, [])
            rank = bisect_left(kept, served_at)
            earlier = rank if rank < len(kept) and kept[rank] == served_at else len(kept)
            problem = service_problem(
                Delivery(contract, item, served_at, self.delivered.get(key, 0) + earlier),  # type: ignore[arg-type]
                now=self.now, beyond_quota_allowed=bool(self._rules_on(local_date(served_at))))
            if problem is not None:
                report.fail(line, values["external_id"], problem.code, problem.message)
                continue
            records.append({
                "contract_id": contract.id, "package_item_id": item.id, "resident_id": contract.resident_id,
                "region_id": contract.region_id, "institution_id": contract.institution_id,
                "team_id": contract.team_id, "staff_id": self.staff.find(values),
                "service_type": values["service_type"], "served_at": served_at, "served_on": local_date(served_at),
                "place": values["place"], "notes": values["notes"], "source": "import",
                "external_id": values["external_id"], "confirmation": Confirmation.PENDING, "confirmed_at": None,
                "dispute_reason": "", "created_at": self.now, "updated_at": self.now,
            })
            if values["reading"]:
                readings[values["external_id"]] = (contract.resident_id, served_at, _reading_values(values["reading"]))
        if not records:
            return
        # A plain executemany, then the new ids by external id (one indexed query): RETURNING over
        # thousands of rows makes the driver rewrite a statement of tens of thousands of parameters.
        db.session.execute(sa.insert(ServiceRecord.__table__), records)
        if readings:
            plan_with_values(True)
            ids = dict(db.session.execute(sa.select(ServiceRecord.external_id, ServiceRecord.id).where(
                ServiceRecord.institution_id == self.actor.institution_id,
                ServiceRecord.external_id.in_(list(readings)))).all())
            plan_with_values(False)
            db.session.execute(sa.insert(Reading.__table__), [
                {"service_record_id": ids[external_id], "resident_id": resident_id, "measured_at": measured_at,
                 **{name: reading.get(name) for name in SERVICE_READINGS}}
                for external_id, (resident_id, measured_at, reading) in readings.items()])
        report.rows_stored += len(records)


def _reading_values(reading: dict[str, Decimal]) -> dict[str, Any]:
    """Readings as stored: whole numbers for pressures and pulse, one decimal otherwise
    (rounded as the doctor's API rounds them)."""
    return {name: int(value) if name in INTEGER_READINGS else value.quantize(_ONE_DECIMAL)
            for name, value in reading.items()}
