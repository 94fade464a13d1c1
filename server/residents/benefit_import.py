"""Benefit registrations (两病用药保障登记、门诊慢特病登记) from the bureau's core system, as a bulk layout.

`opsp_type`: 1 两病门诊用药保障, 2 门诊慢特病. The disease is the national outpatient
chronic/special disease code (`opsp_dise_code`), mapped through the region's disease
catalogue (`Disease.opsp_codes`); a code the catalogue does not map is refused. A registration
of someone the region does not know is skipped; the rest go to
`benefit_registrations.apply_benefit_registrations`, which also raises duplicate-benefit alerts.
"""
from __future__ import annotations

import sqlalchemy as sa

from server.extensions import db
from server.imports.bulk import DAY, ID_NUMBER, BulkLayout, Column, Staged, code, text
from server.imports.outcome import Applied
from server.regions.models import Disease
from server.residents.benefit_registrations import apply_benefit_registrations
from server.residents.models import BenefitScheme, Resident

SCHEMES = {"1": BenefitScheme.TWO_DISEASE_DRUG.value, "2": BenefitScheme.CHRONIC_SPECIAL_OUTPATIENT.value}

BENEFIT_COLUMNS = (
    Column("trt_dcla_detl_sn", text(30), required=True),  # 待遇申报明细流水号
    Column("psn_no", text(30), required=True),            # 人员编号
    Column("certno", ID_NUMBER, required=True),                # 证件号码, staged as its keyed hash
    Column("opsp_type", code(*SCHEMES), required=True),    # 待遇类别
    Column("opsp_dise_code", text(20), required=True),    # 门诊慢特病病种代码
    Column("opsp_dise_name", text(100)),                 # 病种名称
    Column("begndate", DAY, required=True),                   # 开始日期
    Column("enddate", DAY),                                   # 结束日期
)

MESSAGES = {
    "DISEASE_UNKNOWN": "本地区病种目录中没有该门诊慢特病病种代码",
    "DATES_OUT_OF_ORDER": "结束日期早于开始日期",
}


def apply_benefits(staged: Staged) -> Applied:
    s = staged.table.c
    by_code = {code_: disease.code for disease in db.session.scalars(sa.select(Disease).order_by(Disease.id))
               for code_ in disease.opsp_codes}
    disease = sa.case(*((s.opsp_dise_code == code_, ours) for code_, ours in by_code.items())) if by_code \
        else sa.null()
    staged.refuse(("opsp_dise_code", "DISEASE_UNKNOWN", disease.is_(None)),
                  ("enddate", "DATES_OUT_OF_ORDER", s.enddate < s.begndate))
    scheme = sa.case(*((s.opsp_type == code_, name) for code_, name in SCHEMES.items()))
    registrations = (sa.select(s.line, s.trt_dcla_detl_sn.label("reg_sn"), Resident.id.label("resident_id"),
                               scheme.label("scheme"), disease.label("disease_code"),
                               s.begndate.label("valid_from"), s.enddate.label("valid_to"))
                     .join(Resident, sa.and_(Resident.id_number_hash == s.certno_hash,
                                             Resident.region_id == staged.region_id))
                     .where(staged.rows).subquery("registrations"))
    return apply_benefit_registrations(staged.region_id, staged.batch_id, registrations, staged.today)


BENEFITS = BulkLayout("benefits", BENEFIT_COLUMNS, apply_benefits, MESSAGES)
