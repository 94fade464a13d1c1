"""Insurance roster changes (参保状态变更) from the bureau's core system, as a bulk layout.

`chg_type` codes as the bureau's export gives them: 11 参保或恢复参保, 21 暂停参保,
22 终止参保, 31 参保关系转出本统筹地区, 41 死亡. A change about someone the region does
not know is skipped; the rest go to `roster.apply_roster_changes`, which records them and
acts on contracts.
"""
from __future__ import annotations

import sqlalchemy as sa

from server.imports.bulk import DAY, ID_NUMBER, BulkLayout, Column, Staged, code, text
from server.imports.outcome import Applied
from server.residents.models import Resident
from server.residents.roster import apply_roster_changes

CHANGE_TYPES = {"11": "resume", "21": "stop", "22": "stop", "31": "move_out", "41": "death"}

ROSTER_COLUMNS = (
    Column("chg_sn", text(30), required=True),             # 变更流水号
    Column("psn_no", text(30), required=True),             # 人员编号
    Column("certno", ID_NUMBER, required=True),                 # 证件号码, staged as its keyed hash
    Column("chg_type", code(*CHANGE_TYPES), required=True),  # 变更类型
    Column("chg_date", DAY, required=True),                    # 变更日期（死亡、转出…之日）
    Column("insuplc_admdvs", text(6)),                      # 变更后参保地医保区划
    Column("memo", text(200)),                            # 备注
)


def apply_roster(staged: Staged) -> Applied:
    s = staged.table.c
    kind = sa.case(*((s.chg_type == code_, name) for code_, name in CHANGE_TYPES.items()))
    changes = (sa.select(s.line, s.chg_sn, Resident.id.label("resident_id"), kind.label("chg_type"), s.chg_date,
                         s.insuplc_admdvs.label("insu_admdvs"))
               .join(Resident, sa.and_(Resident.id_number_hash == s.certno_hash,
                                       Resident.region_id == staged.region_id))
               .where(staged.rows).subquery("changes"))
    return apply_roster_changes(staged.region_id, staged.batch_id, changes, staged.today)


ROSTER = BulkLayout("roster", ROSTER_COLUMNS, apply_roster)
