"""Roster changes (参保状态变更) from the bureau's core system, applied set-wise.

The import stages a file's rows and checks their fields; this step takes the staged rows as
a SQL selectable and applies them in the caller's transaction, a statement per kind of
effect, never a query per row:
- a serial stored before is not applied again: the same content counts as already stored,
  other content is refused (`ROSTER_CHANGE_CONFLICT`); within a file the first line of a
  serial is the one that counts;
- leaving the region or stopping insurance flags the person's live contracts for the
  settlement's verification (`settlement.models.SettlementCheck`), once per contract and
  reason; resuming clears an open stop;
- a death ends the person's live contracts through the door in `contracts.transitions`, and
  refunds what the rules in force on the day of death say (`LocalRules.refund_on_death`),
  planned here and sent to WeChat Pay later by the refund job;
- each of these writes the contract's history, and the resident's insurance facts follow the
  latest change by date.
"""
from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from server.common.timeutil import utcnow
from server.common.types import UTCDateTime
from server.contracts import lifecycle, transitions
from server.contracts.models import Contract
from server.contracts.states import LIVE_STATES, ContractStatus
from server.extensions import db
from server.imports.outcome import Applied
from server.payments import services as payments
from server.regions.rules import rules_on
from server.residents.models import Resident, RosterChange, RosterChangeType
from server.settlement.models import CheckReason, SettlementCheck

CHANGE_NAMES = {
    RosterChangeType.STOP: "暂停/终止参保",
    RosterChangeType.RESUME: "恢复参保",
    RosterChangeType.MOVE_OUT: "转出本统筹地区",
    RosterChangeType.DEATH: "死亡",
}
# The resident's `insurance_status` after each kind of change; only "active" may sign.
STATUS_AFTER = {
    RosterChangeType.STOP: "stopped",
    RosterChangeType.RESUME: "active",
    RosterChangeType.MOVE_OUT: "moved_out",
    RosterChangeType.DEATH: "deceased",
}
FLAGS = {RosterChangeType.MOVE_OUT: CheckReason.MOVED_OUT, RosterChangeType.STOP: CheckReason.INSURANCE_STOPPED}
# A death ends what the person holds: an active contract is terminated, one waiting for payment cancelled.
DEATH_ENDS = {ContractStatus.ACTIVE: ContractStatus.TERMINATED,
              ContractStatus.PENDING_PAYMENT: ContractStatus.CANCELLED}
_FIELDS = ("resident_id", "chg_type", "chg_date", "insu_admdvs")


def apply_roster_changes(region_id: int, batch_id: int, staged: sa.FromClause, today: date) -> Applied:
    """Apply the staged roster changes of a region's file (columns `line`, `chg_sn`, `resident_id`,
    `chg_type`, `chg_date`, `insu_admdvs`); applying the same rows again changes nothing."""
    applied = Applied()
    first = _first_line_of_each_serial(staged)
    _compare_with_earlier(region_id, staged, first, applied)
    # The changes not stored yet; they are stored last, so every statement below sees the same rows.
    fresh = sa.select(first).where(sa.not_(_stored(region_id, first.c.chg_sn))).subquery("fresh")
    applied.changes["contracts_flagged"] = _flag(region_id, batch_id, fresh)
    applied.changes["flags_cleared"] = _clear_stops(region_id, fresh)
    applied.changes["contracts_ended"], applied.changes["refunds_planned"] = _end_on_death(region_id, fresh)
    now = utcnow()
    applied.stored = db.session.execute(sa.insert(RosterChange).from_select(
        ["region_id", "chg_sn", *_FIELDS, "batch_id", "created_at"],
        sa.select(sa.literal(region_id), fresh.c.chg_sn, *(fresh.c[name] for name in _FIELDS), sa.literal(batch_id),
                  sa.literal(now, UTCDateTime()))).execution_options(preserve_rowcount=True)).rowcount
    _follow_latest_change(batch_id, now)
    return applied


def _stored(region_id: int, chg_sn) -> sa.ColumnElement[bool]:
    return sa.exists().where(RosterChange.region_id == region_id, RosterChange.chg_sn == chg_sn)


def _first_line_of_each_serial(staged: sa.FromClause) -> sa.Subquery:
    firsts = sa.select(staged.c.chg_sn, sa.func.min(staged.c.line).label("line")).group_by(staged.c.chg_sn).subquery()
    return (sa.select(staged.c.line, staged.c.chg_sn, *(staged.c[name] for name in _FIELDS))
            .join(firsts, sa.and_(firsts.c.chg_sn == staged.c.chg_sn, firsts.c.line == staged.c.line))
            .subquery("first_lines"))


def _same(one, other) -> sa.ColumnElement[bool]:
    return sa.and_(*(one[name].is_not_distinct_from(other[name]) for name in _FIELDS))


def _compare_with_earlier(region_id: int, staged: sa.FromClause, first: sa.Subquery, applied: Applied) -> None:
    """Rows whose serial is stored already, or came on an earlier line: the same content is
    already stored; other content is a conflict, reported and not applied."""
    earlier = sa.case((RosterChange.id.is_not(None), _same(RosterChange.__table__.c, staged.c)),
                      else_=_same(first.c, staged.c))
    repeated = (sa.select(staged.c.line, staged.c.chg_sn, earlier.label("same"))
                .join(first, first.c.chg_sn == staged.c.chg_sn)
                .outerjoin(RosterChange, sa.and_(RosterChange.region_id == region_id,
                                                 RosterChange.chg_sn == staged.c.chg_sn))
                .where(sa.or_(RosterChange.id.is_not(None), staged.c.line != first.c.line))
                .subquery("repeated"))
    applied.already_stored = db.session.scalar(
        sa.select(sa.func.count()).select_from(repeated).where(repeated.c.same))
    applied.failures = [
        (line, "chg_sn", "ROSTER_CHANGE_CONFLICT", f"参保状态变更流水号 {chg_sn} 已有内容不同的记录，本行未处理")
        for line, chg_sn in db.session.execute(sa.select(repeated.c.line, repeated.c.chg_sn)
                                               .where(sa.not_(repeated.c.same)).order_by(repeated.c.line))]


def _reason(change_type, change_date, outcome: str) -> sa.ColumnElement[str]:
    """"参保状态变更：死亡（2026-06-10），签约终止" for each row, in SQL."""
    name = sa.case(*[(change_type == kind.value, names) for kind, names in CHANGE_NAMES.items()], else_="")
    return (sa.literal("参保状态变更：") + name + "（" + sa.cast(change_date, sa.String) + "），" + outcome)


def _live_contracts_touched(region_id: int, fresh: sa.Subquery, kinds) -> sa.Select:
    """(contract, change) pairs: the person's live contracts not over before the change."""
    return (sa.select(Contract.id.label("contract_id"), fresh.c.chg_type, fresh.c.chg_date)
            .join(fresh, fresh.c.resident_id == Contract.resident_id)
            .where(Contract.region_id == region_id, Contract.status.in_(LIVE_STATES),
                   Contract.period_end >= fresh.c.chg_date, fresh.c.chg_type.in_([k.value for k in kinds])))


def _flag(region_id: int, batch_id: int, fresh: sa.Subquery) -> int:
    """Flag live contracts for the settlement's verification, once per contract and reason;
    a stop flag cleared by an earlier resumption opens again. Returns the flags raised or reopened."""
    touched = _live_contracts_touched(region_id, fresh, FLAGS).subquery("touched")
    transitions.note_by_system(sa.select(touched.c.contract_id, _reason(
        touched.c.chg_type, touched.c.chg_date, "待结算核验").label("reason")).subquery())
    reason = sa.case(*[(touched.c.chg_type == kind.value, sa.literal(flag.value)) for kind, flag in FLAGS.items()])
    wanted = (sa.select(touched.c.contract_id, reason.label("reason"), sa.func.min(touched.c.chg_date).label("since"))
              .group_by(touched.c.contract_id, reason).subquery("wanted"))
    now = utcnow()
    raised = db.session.execute(sa.insert(SettlementCheck).from_select(
        ["region_id", "contract_id", "reason", "since", "batch_id", "created_at", "updated_at"],
        sa.select(sa.literal(region_id), wanted.c.contract_id, wanted.c.reason, wanted.c.since, sa.literal(batch_id),
                  sa.literal(now, UTCDateTime()), sa.literal(now, UTCDateTime()))
        .where(~sa.exists().where(SettlementCheck.contract_id == wanted.c.contract_id,
                                  SettlementCheck.reason == wanted.c.reason)))
        .execution_options(preserve_rowcount=True)).rowcount
    restopped = (sa.select(wanted.c.since).where(wanted.c.contract_id == SettlementCheck.contract_id,
                                                 wanted.c.reason == SettlementCheck.reason,
                                                 wanted.c.since >= SettlementCheck.cleared_on).scalar_subquery())
    reopened = db.session.execute(
        sa.update(SettlementCheck).where(SettlementCheck.cleared_on.is_not(None), restopped.is_not(None))
        .values(since=restopped, cleared_on=None, batch_id=batch_id, updated_at=now)
        .execution_options(synchronize_session=False)).rowcount
    return raised + reopened


def _clear_stops(region_id: int, fresh: sa.Subquery) -> int:
    """A resumption clears the open stop flags it follows (the row stays, dated). Returns how many."""
    resumed = (sa.select(SettlementCheck.id, SettlementCheck.contract_id, sa.func.max(fresh.c.chg_date).label("on"))
               .join(Contract, Contract.id == SettlementCheck.contract_id)
               .join(fresh, fresh.c.resident_id == Contract.resident_id)
               .where(Contract.region_id == region_id, fresh.c.chg_type == RosterChangeType.RESUME.value,
                      SettlementCheck.reason == CheckReason.INSURANCE_STOPPED, SettlementCheck.cleared_on.is_(None),
                      SettlementCheck.since <= fresh.c.chg_date)
               .group_by(SettlementCheck.id, SettlementCheck.contract_id).subquery("resumed"))
    transitions.note_by_system(sa.select(resumed.c.contract_id, _reason(
        sa.literal(RosterChangeType.RESUME.value), resumed.c.on, "解除暂停参保核验标记").label("reason")).subquery())
    cleared_on = sa.select(resumed.c.on).where(resumed.c.id == SettlementCheck.id).scalar_subquery()
    return db.session.execute(
        sa.update(SettlementCheck).where(SettlementCheck.id.in_(sa.select(resumed.c.id)))
        .values(cleared_on=cleared_on, updated_at=utcnow())
        .execution_options(synchronize_session=False)).rowcount


def _end_on_death(region_id: int, fresh: sa.Subquery) -> tuple[int, int]:
    """End the dead's live contracts through the door, then plan the refunds the rules of the day of
    death give. Returns (contracts ended, refunds planned)."""
    deaths = (sa.select(fresh.c.resident_id, sa.func.min(fresh.c.chg_date).label("died_on"))
              .where(fresh.c.chg_type == RosterChangeType.DEATH.value).group_by(fresh.c.resident_id)
              .subquery("deaths"))
    dying = (sa.select(Contract.id.label("contract_id"), deaths.c.died_on,
                       _reason(sa.literal(RosterChangeType.DEATH.value), deaths.c.died_on, "签约终止").label("reason"))
             .join(deaths, deaths.c.resident_id == Contract.resident_id)
             .where(Contract.region_id == region_id, Contract.status.in_(LIVE_STATES),
                    Contract.period_end >= deaths.c.died_on))
    dying = dying.subquery("dying")
    died_on = dict(db.session.execute(sa.select(dying.c.contract_id, dying.c.died_on)).all())
    moved = transitions.end_by_system(dying, DEATH_ENDS)
    refunds = 0
    # Deaths are few in a file; the refund is the cancellation's own money rule, one contract at a time.
    for contract_id, left in sorted(moved.items()):
        if left is not ContractStatus.ACTIVE:
            continue  # nothing was paid while it waited for payment; a payment landing later is refunded there
        contract = db.session.get(Contract, contract_id, populate_existing=True)
        rules = rules_on(region_id, died_on[contract_id])
        share = lifecycle.refund_share(contract, rules.refund_on_death if rules else "none")
        owed = payments.refund_paid_share(contract, share, f"参保人死亡终止签约退费（{died_on[contract_id]}）")
        refunds += len(owed.refund_ids)
    return len(moved), refunds


def _follow_latest_change(batch_id: int, now) -> None:
    """The insurance facts of the residents this batch changed, as their latest change by date says."""
    def latest(column):
        return (sa.select(column).where(RosterChange.resident_id == Resident.id)
                .order_by(RosterChange.chg_date.desc(), RosterChange.id.desc()).limit(1).scalar_subquery())

    status = sa.case(*[(latest(RosterChange.chg_type) == kind.value, value) for kind, value in STATUS_AFTER.items()],
                     else_=Resident.insurance_status)
    db.session.execute(
        sa.update(Resident)
        .where(Resident.id.in_(sa.select(RosterChange.resident_id).where(RosterChange.batch_id == batch_id,
                                                                         RosterChange.created_at == now)))
        .values(insurance_status=status,
                insured_admdvs=sa.func.coalesce(latest(RosterChange.insu_admdvs), Resident.insured_admdvs),
                insurance_verified_at=now, updated_at=now)
        .execution_options(synchronize_session=False))
