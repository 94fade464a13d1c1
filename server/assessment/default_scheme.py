"""The default assessment scheme: every basic indicator the provincial annex lists [S-A.2], 100 points.

Regions copy it and edit points and targets through the admin API; this is data, not logic.
Automatic indicators name a metric computed from platform data and a linear scoring rule:
full points at or beyond `full_at`, none at or beyond `zero_at`, linear between; below
`min_denominator` people the `fallback` applies instead.
"""
from __future__ import annotations

from server.assessment.metrics import DEFAULT_ATTRIBUTION

# Who counts where when a patient moved between institutions (see metrics.ATTRIBUTIONS).
DEFAULT_SETTINGS = {"moved_patients": DEFAULT_ATTRIBUTION}

# (code, group, name, points, method, rule)
DEFAULT_INDICATORS: list[tuple[str, str, str, str, str, dict]] = [
    # 1 制度建设 (setup) — 10
    ("S1", "setup", "成立机构、配备人员", "3", "manual", {}),
    ("S2", "setup", "团队人员职责与服务流程", "3", "manual", {}),
    ("S3", "setup", "考核奖惩办法与分配方案", "4", "manual", {}),
    # 2 服务质量 (service quality) — 30
    ("Q1", "service_quality", "健康档案管理（年内更新的签约居民比例）", "10", "auto",
     {"metric": "health_records_kept", "full_at": "0.90", "zero_at": "0.50", "min_denominator": 30,
      "fallback": "proportional"}),
    ("Q2", "service_quality", "人均服务次数", "12", "auto",
     {"metric": "services_per_person", "full_at": "4", "zero_at": "1", "min_denominator": 30,
      "fallback": "proportional"}),
    ("Q3", "service_quality", "药品保障（长期处方按时取药比例）", "8", "auto",
     {"metric": "prescriptions_filled", "full_at": "0.90", "zero_at": "0.50", "min_denominator": 10,
      "fallback": "full"}),
    # 3 服务效果 (outcomes) — 25
    ("E1", "outcomes", "高血压签约参保人员血压控制率", "8", "auto",
     {"metric": "bp_control_rate", "full_at": "0.60", "zero_at": "0.30", "min_denominator": 30,
      "fallback": "proportional"}),
    ("E2", "outcomes", "高血压签约参保人员住院率", "4.5", "auto",
     {"metric": "htn_hospitalisation_rate", "full_at": "0.05", "zero_at": "0.20", "min_denominator": 30,
      "fallback": "full"}),
    ("E3", "outcomes", "糖尿病签约参保人员血糖控制率", "8", "auto",
     {"metric": "glucose_control_rate", "full_at": "0.60", "zero_at": "0.30", "min_denominator": 30,
      "fallback": "proportional"}),
    ("E4", "outcomes", "糖尿病签约参保人员住院率", "4.5", "auto",
     {"metric": "dm_hospitalisation_rate", "full_at": "0.05", "zero_at": "0.20", "min_denominator": 30,
      "fallback": "full"}),
    # 4 医疗费用 (cost) — 10
    ("C1", "cost", "签约参保人员人均住院费用（元）", "5", "auto",
     {"metric": "inpatient_cost_per_person_yuan", "full_at": "300", "zero_at": "1500", "min_denominator": 30,
      "fallback": "full"}),
    ("C2", "cost", "个人负担（住院费用个人支付占比）", "5", "auto",
     {"metric": "personal_burden_share", "full_at": "0.30", "zero_at": "0.50", "min_denominator": 5,
      "fallback": "full"}),
    # 5 基金监管 (fund supervision) — 15
    ("F1", "fund_supervision", "违法违规使用医保基金（每千名签约人员查实件数）", "10", "auto",
     {"metric": "confirmed_violations_per_1000", "full_at": "0", "zero_at": "5", "min_denominator": 1,
      "fallback": "full"}),
    ("F2", "fund_supervision", "转嫁费用", "5", "auto",
     {"metric": "cost_shifting_cases", "full_at": "0", "zero_at": "3", "min_denominator": 1, "fallback": "full"}),
    # 6 其他 (other) — 10
    ("O1", "other", "政策宣传", "2", "manual", {}),
    ("O2", "other", "家庭医生服务团队培训", "2", "manual", {}),
    ("O3", "other", "签约参保人员满意度", "6", "auto",
     {"metric": "satisfaction", "full_at": "0.90", "zero_at": "0.60", "min_denominator": 20,
      "fallback": "proportional", "weights": {"self": "0.7", "phone": "0.3"}}),
]
