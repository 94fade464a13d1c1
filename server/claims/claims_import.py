"""Settled claims (结算信息) from the bureau's core system, applied set-wise in SQL.

Field names are the national medical-insurance platform's, so a bureau's export loads
without remapping. A settlement is identified by `setl_id`:
- sent again unchanged (a resend, in the same file or a later one) it is counted, not stored twice
  (a file is applied in chunks, and a repeat in a later chunk meets the row already stored);
- sent again with other content it is refused (`SETTLEMENT_CONFLICT`): the platform corrects a
  settlement by reversing it, never by editing it;
- a reversal (结算撤销, `refd_setl_flag` 1) names the settlement it cancels in `init_setl_id`;
  whichever of the two arrives second links them, and totals count only what stands.
Claims are kept only for people who hold or held a contract in the region: the indicators
count signed people only, so a stranger's hospital bill has no business here.
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from server.claims.models import Claim
from server.common.sqlfuncs import beijing_to_utc, fen
from server.contracts.models import Contract
from server.extensions import db
from server.imports.bulk import ALREADY_STORED, AMOUNT, BEIJING_TIME, DAY, ID_NUMBER, REPEATED, BulkLayout, Column, \
    Staged, code, text
from server.imports.outcome import Applied
from server.residents.models import Resident

CLAIM_COLUMNS = (
    Column("setl_id", text(30), required=True),          # 结算ID
    Column("mdtrt_id", text(30), required=True),         # 就诊ID
    Column("psn_no", text(30), required=True),           # 人员编号 (not stored: the match is by certno)
    Column("certno", ID_NUMBER, required=True),          # 证件号码, staged as its keyed hash
    Column("fixmedins_code", text(30), required=True),   # 定点医药机构编号
    Column("fixmedins_name", text(200)),                 # 定点医药机构名称
    Column("med_type", text(6), required=True),          # 医疗类别
    Column("begndate", DAY, required=True),              # 开始日期（入院日期）
    Column("enddate", DAY),                              # 结束日期（出院日期）
    Column("setl_time", BEIJING_TIME, required=True),    # 结算时间
    Column("medfee_sumamt", AMOUNT, required=True),      # 医疗费总额
    Column("fund_pay_sumamt", AMOUNT, required=True),    # 基金支付总额
    Column("psn_part_amt", AMOUNT, required=True),       # 个人负担总金额
    Column("acct_pay", AMOUNT),                          # 个人账户支出
    Column("psn_cash_pay", AMOUNT),                      # 个人现金支出
    Column("fulamt_ownpay_amt", AMOUNT),                 # 全自费金额
    Column("refd_setl_flag", code("0", "1")),            # 退费结算标志: 1 a reversal
    Column("init_setl_id", text(30)),                    # 原结算ID, of the settlement reversed
    Column("dise_codg", text(20)),                       # 主诊断编码 (ICD-10)
)

MESSAGES = {
    "AMOUNTS_INCONSISTENT": "医疗费总额应等于基金支付总额与个人负担总金额之和",
    "AMOUNT_SIGN": "结算金额不能为负数，撤销结算的金额不能为正数",
    "DATES_OUT_OF_ORDER": "结束日期早于开始日期",
    "DISCHARGE_REQUIRED": "住院结算须有出院日期",
    "ORIGINAL_REQUIRED": "撤销结算须填写原结算ID（不能是其本身）",
    "DUPLICATE_IN_FILE": "结算ID在文件中重复且内容不同",
    "SETTLEMENT_CONFLICT": "该结算ID已导入且内容不同；更正结算须先撤销",
}

# What a stored claim holds, by staged field; a resend must match all of it.
_STORED_AS = {
    "mdtrt_id": "mdtrt_id", "fixmedins_code": "medins_code", "med_type": "med_type", "begndate": "admitted_on",
    "enddate": "discharged_on", "setl_time": "settled_at", "medfee_sumamt": "total_cost_fen",
    "fund_pay_sumamt": "fund_paid_fen", "psn_part_amt": "personal_paid_fen",
}


def is_inpatient(med_type) -> sa.ColumnElement[bool]:
    """医疗类别 2x (普通住院 21, 外伤住院 22, …) is a stay; everything else a visit."""
    return med_type.like("2%")


_AMOUNTS = ("medfee_sumamt", "fund_pay_sumamt", "psn_part_amt", "acct_pay", "psn_cash_pay", "fulamt_ownpay_amt")


def _typed(staged_columns) -> dict[str, sa.ColumnElement]:
    """Each staged field as the claim holds it: amounts in fen, the settlement time in UTC."""
    typed = {column.staged_as: staged_columns[column.staged_as] for column in CLAIM_COLUMNS}
    typed.update({name: fen(staged_columns[name]) for name in _AMOUNTS})
    typed["setl_time"] = beijing_to_utc(staged_columns.setl_time)
    return typed


def apply_claims(staged: Staged) -> Applied:
    """The rules in one pass over the chunk (the first a row breaks names it), then the insert."""
    s = staged.table.c
    t = _typed(s)
    reversal = s.refd_setl_flag == "1"
    positive, negative = sa.or_(*(t[a] > 0 for a in _AMOUNTS)), sa.or_(*(t[a] < 0 for a in _AMOUNTS))
    staged.refuse(
        ("medfee_sumamt", "AMOUNTS_INCONSISTENT", t["medfee_sumamt"] != t["fund_pay_sumamt"] + t["psn_part_amt"]),
        ("medfee_sumamt", "AMOUNT_SIGN", sa.case((reversal, positive), else_=negative)),
        ("enddate", "DATES_OUT_OF_ORDER", s.enddate < s.begndate),
        ("enddate", "DISCHARGE_REQUIRED", sa.and_(is_inpatient(s.med_type), s.enddate.is_(None))),
        ("init_setl_id", "ORIGINAL_REQUIRED",
         sa.and_(reversal, sa.or_(s.init_setl_id.is_(None), s.init_setl_id == s.setl_id))),
        *_repeats(staged))
    _stored_before(staged)
    stored = db.session.execute(_insert_new(staged)).rowcount
    _keep_statistics(staged, stored)
    return Applied(stored=stored, changes={"claims_reversed": _link_reversals()})


def _same_content(a, b) -> sa.ColumnElement[bool]:
    """Two staged rows say the same, field by field as typed ("10.0" is "10.00")."""
    a, b = _typed(a), _typed(b)
    return sa.and_(*(_same(a[name], b[name]) for name in a if name != "setl_id"))


def _same(a, b) -> sa.ColumnElement[bool]:
    return sa.or_(a == b, sa.and_(a.is_(None), b.is_(None)))


def _repeats(staged: Staged) -> list[tuple[str, str, sa.ColumnElement[bool]]]:
    """A setl_id repeated in the chunk: the first row stands, an identical repeat is set aside (a
    resend), a different one refused. No rules at all when nothing repeats, the usual case."""
    table = staged.table
    if db.session.scalar(sa.select(table.c.setl_id).where(staged.rows).group_by(table.c.setl_id)
                         .having(sa.func.count() > 1).limit(1)) is None:
        return []
    first = sa.select(table.c.setl_id, sa.func.min(table.c.line).label("line")).where(staged.rows) \
        .group_by(table.c.setl_id).having(sa.func.count() > 1).subquery("first")
    original = table.alias("original")
    later = sa.select(table.c.line).join(first, first.c.setl_id == table.c.setl_id) \
        .where(staged.rows, table.c.line > first.c.line)
    identical = later.join(original, original.c.line == first.c.line).where(_same_content(table.c, original.c))
    return [("", REPEATED, table.c.line.in_(identical)), ("setl_id", "DUPLICATE_IN_FILE", table.c.line.in_(later))]


def _stored_before(staged: Staged) -> None:
    """A settlement stored before is set aside when it says the same, refused when it does not.

    Two passes: the first asks the unique index once per row whether the setl_id is stored; the
    second compares only the rows it found (none on a first load, all on a resend)."""
    s = staged.table.c
    t = _typed(s)
    staged.refuse(("setl_id", "SETTLEMENT_CONFLICT", sa.exists().where(Claim.setl_id == s.setl_id)))
    same = sa.exists().where(Claim.setl_id == s.setl_id, *(
        _same(getattr(Claim, column), t[name]) for name, column in _STORED_AS.items()),
        _same(Claim.reversal_of_setl_id, sa.case((s.refd_setl_flag == "1", s.init_setl_id))))
    db.session.execute(sa.update(staged.table).where(s.problem_code == "SETTLEMENT_CONFLICT", same)
                       .values(problem_field="", problem_code=ALREADY_STORED))


def _keep_statistics(staged: Staged, stored: int) -> None:
    """Autovacuum never sees the rows of a transaction still open: as a load doubles the claim
    table, the planner is told, or it keeps planning for the table as it was (PostgreSQL)."""
    if db.session.get_bind().dialect.name != "postgresql":
        return
    memo = staged.memo
    if "claims_before" not in memo:
        memo["claims_before"] = db.session.scalar(sa.text("SELECT reltuples::bigint FROM pg_class "
                                                          "WHERE oid = 'claim'::regclass")) or 0
        memo["stored"] = memo["told"] = 0
    memo["stored"] += stored
    if memo["stored"] - memo["told"] > max(memo["claims_before"], memo["told"], 10_000):
        db.session.execute(sa.text("ANALYZE claim"))
        memo["told"] = memo["stored"]


def _signed_people(staged: Staged) -> sa.Subquery:
    """The region's residents who hold or held a contract there, by ID-number hash."""
    return (sa.select(Resident.id, Resident.id_number_hash)
            .where(Resident.region_id == staged.region_id,
                   sa.exists().where(Contract.resident_id == Resident.id, Contract.region_id == staged.region_id))
            .subquery("signed"))


def _insert_new(staged: Staged):
    """The settlements left, of people the region serves; what is left of other people is skipped."""
    people = _signed_people(staged)
    s = staged.table.c
    t = _typed(s)
    rows = (sa.select(
        sa.literal(staged.region_id), people.c.id, s.setl_id, s.mdtrt_id, s.med_type,
        sa.case((is_inpatient(s.med_type), "inpatient"), else_="outpatient"),
        s.fixmedins_code, sa.func.coalesce(s.fixmedins_name, ""), s.begndate, s.enddate, t["setl_time"],
        _diagnoses(s.dise_codg), t["medfee_sumamt"], t["fund_pay_sumamt"], t["psn_part_amt"],
        sa.func.coalesce(t["acct_pay"], 0), sa.func.coalesce(t["psn_cash_pay"], 0),
        sa.func.coalesce(t["fulamt_ownpay_amt"], 0),
        sa.case((s.refd_setl_flag == "1", s.init_setl_id)), sa.literal(staged.batch_id),
        sa.literal(staged.now, Claim.created_at.type), sa.literal(staged.now, Claim.updated_at.type))
        .join(people, people.c.id_number_hash == s.certno_hash).where(staged.rows))
    names = ["region_id", "resident_id", "setl_id", "mdtrt_id", "med_type", "claim_type", "medins_code", "medins_name",
             "admitted_on", "discharged_on", "settled_at", "diagnosis_codes", "total_cost_fen", "fund_paid_fen",
             "personal_paid_fen", "account_paid_fen", "cash_paid_fen", "self_paid_fen", "reversal_of_setl_id",
             "import_batch_id", "created_at", "updated_at"]
    return sa.insert(Claim.__table__).from_select(names, rows).execution_options(preserve_rowcount=True)


def _diagnoses(dise_codg):
    """The main diagnosis as the one-element JSON list `Claim.diagnosis_codes` holds."""
    if db.session.get_bind().dialect.name == "sqlite":
        return sa.case((dise_codg.is_(None), sa.literal_column("json('[]')")), else_=sa.func.json_array(dise_codg))
    return sa.case((dise_codg.is_(None), sa.literal_column("'[]'::jsonb")), else_=sa.func.jsonb_build_array(dise_codg))


def _link_reversals() -> int:
    """Each standing settlement with a stored reversal names it, whichever of the two came first:
    driven by the (few) reversals not yet linked, through the reversal index."""
    reversal = aliased(Claim, name="reversal")
    return db.session.execute(
        sa.update(Claim).where(reversal.reversal_of_setl_id == Claim.setl_id, Claim.reversed_by_setl_id.is_(None),
                               Claim.reversal_of_setl_id.is_(None))
        .values(reversed_by_setl_id=reversal.setl_id).execution_options(synchronize_session=False)).rowcount


CLAIMS = BulkLayout("claims", CLAIM_COLUMNS, apply_claims, MESSAGES)
