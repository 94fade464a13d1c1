"""Fixed reference data of the demo region: places, institutions, packages, drugs, names.

All of it is invented for demonstration, but shaped like the real thing: Zhangzhou's
districts and roads, primary-care institutions of the kinds the policy names, drug codes
in the form of the national insurance drug code (国家医保药品编码), Minnan surnames.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal

from server.packages.models import ItemCategory

REGION_CODE = "350600"
REGION_NAME = "漳州市"

# ID numbers carry the district where they were issued. 龙海 became a district (350604)
# in 2021; numbers issued before keep its old county-level-city code 350681.
DISTRICTS = {"350602": "芗城区", "350603": "龙文区", "350681": "龙海区"}

COMMUNITIES = ("芗城区紧密型医共体", "龙海区紧密型县域医共体")


@dataclass(frozen=True)
class InstitutionSpec:
    code: str  # 定点医药机构编码
    name: str
    short: str  # used in team names
    kind: str
    district: str
    community: int | None  # index into COMMUNITIES; None: outside any medical community
    address: str
    latitude: float
    longitude: float
    localities: tuple[str, ...]  # roads or villages of its catchment, for residents' addresses
    share: float  # share of the demo's residents living in its catchment


# 龙文区's centre sits outside both medical communities: the region widened the scope to it.
INSTITUTIONS = (
    InstitutionSpec(
        "H35060200001", "芗城区西桥街道社区卫生服务中心", "西桥社区", "社区卫生服务中心", "350602", 0,
        "漳州市芗城区西桥街道新华西路168号", 24.5135, 117.6472,
        ("西桥街道新华西路", "西桥街道瑞京路", "西桥街道丹霞路", "西桥街道大通北路", "西桥街道胜利西路"), 0.24),
    InstitutionSpec(
        "H35060200002", "芗城区天宝镇卫生院", "天宝镇", "乡镇卫生院", "350602", 0,
        "漳州市芗城区天宝镇天宝路1号", 24.5626, 117.5790,
        ("天宝镇洪坑村", "天宝镇珠里村", "天宝镇大寨村", "天宝镇墩仔村", "天宝镇五里村"), 0.18),
    InstitutionSpec(
        "H35060300001", "龙文区蓝田街道社区卫生服务中心", "蓝田社区", "社区卫生服务中心", "350603", None,
        "漳州市龙文区蓝田街道建元东路2号", 24.5108, 117.7065,
        ("蓝田街道建元东路", "蓝田街道湖滨路", "蓝田街道九龙大道", "蓝田街道江滨路", "蓝田街道龙文北路"), 0.20),
    InstitutionSpec(
        "H35068100001", "龙海区角美镇中心卫生院", "角美镇", "乡镇卫生院", "350681", 1,
        "漳州市龙海区角美镇建设路12号", 24.5203, 117.8608,
        ("角美镇文圃村", "角美镇锦宅村", "角美镇石美村", "角美镇鸿渐村", "角美镇流传村"), 0.20),
    InstitutionSpec(
        "H35068100002", "龙海区石码街道社区卫生服务中心", "石码社区", "社区卫生服务中心", "350681", 1,
        "漳州市龙海区石码街道人民西路36号", 24.4455, 117.8232,
        ("石码街道人民西路", "石码街道紫泥路", "石码街道榜山路", "石码街道解放路", "石码街道龙海大道"), 0.18),
)

TEAM_ORDINALS = ("一", "二")
TEAM_SPECIALITIES = (
    ["高血压", "糖尿病", "老年人健康管理"],
    ["高血压", "慢病随访"],
    ["糖尿病", "中医药健康管理"],
    ["高血压", "糖尿病", "康复指导"],
)

# Hospitals where residents are admitted or continue prescriptions from (claims, scripts).
HOSPITALS = (
    ("H35060200011", "漳州市医院"),
    ("H35060200012", "漳州市中医院"),
    ("H35060300011", "漳州市第三医院"),
    ("H35068100011", "龙海区第一医院"),
)

# (code, Chinese name) of ICD-10 diagnoses for the chronic diseases and common admissions.
DISEASE_DIAGNOSES = {
    "hypertension": (("I10.x00", "原发性高血压"), ("I11.900", "高血压性心脏病")),
    "diabetes": (("E11.900", "2型糖尿病"), ("E11.200", "2型糖尿病伴肾并发症")),
}
OTHER_ADMISSIONS = (
    ("I63.900", "脑梗死"), ("I25.103", "冠状动脉粥样硬化性心脏病"), ("J18.900", "肺炎"),
    ("I50.900", "心力衰竭"), ("K29.700", "胃炎"), ("N39.000", "泌尿道感染"),
)


class Schedule(str, enum.Enum):
    """When in the year the demo delivers an item; the yearly quantity follows from it."""

    FOLLOW_UP = "follow_up"      # the quarterly follow-up itself, with a reading
    EACH_VISIT = "each_visit"    # at every follow-up
    IN_PERSON = "in_person"      # at follow-ups done face to face
    HALF_YEARLY = "half_yearly"  # at the 2nd and 4th quarter's clinic follow-up
    ANNUAL = "annual"            # at the yearly check


@dataclass(frozen=True)
class ItemSpec:
    code: str
    name: str
    category: ItemCategory
    yearly_quantity: int
    unit_value_fen: int
    schedule: Schedule
    basic_public_health: bool = False


@dataclass(frozen=True)
class PackageSpec:
    code: str
    name: str
    description: str
    disease: str
    items: tuple[ItemSpec, ...]


PACKAGES = (
    PackageSpec(
        "HTN-2026", "高血压签约服务包",
        "在国家基本公共卫生服务高血压患者健康管理基础上，增加检查检验、用药指导等医保服务项目。",
        "hypertension",
        (
            ItemSpec("BP-FU", "血压测量", ItemCategory.FOLLOW_UP, 4, 500, Schedule.FOLLOW_UP),
            ItemSpec("MED-GUIDE", "用药指导", ItemCategory.DRUG, 4, 300, Schedule.EACH_VISIT),
            ItemSpec("CBC", "血常规", ItemCategory.TEST, 1, 2000, Schedule.ANNUAL),
            ItemSpec("URINE", "尿常规", ItemCategory.TEST, 1, 1000, Schedule.ANNUAL),
            ItemSpec("ECG", "心电图", ItemCategory.CHECK, 1, 2500, Schedule.ANNUAL),
            ItemSpec("ASSESS", "健康评估", ItemCategory.HEALTH_MANAGEMENT, 1, 1000, Schedule.ANNUAL,
                     basic_public_health=True),
        ),
    ),
    PackageSpec(
        "DM-2026", "糖尿病签约服务包",
        "在国家基本公共卫生服务2型糖尿病患者健康管理基础上，增加血糖、糖化血红蛋白监测和用药指导。",
        "diabetes",
        (
            ItemSpec("DM-FU", "糖尿病随访", ItemCategory.FOLLOW_UP, 4, 500, Schedule.FOLLOW_UP),
            ItemSpec("MED-GUIDE", "用药指导", ItemCategory.DRUG, 4, 300, Schedule.EACH_VISIT),
            ItemSpec("FBG", "空腹血糖", ItemCategory.TEST, 4, 800, Schedule.IN_PERSON),
            ItemSpec("HBA1C", "糖化血红蛋白", ItemCategory.TEST, 2, 3000, Schedule.HALF_YEARLY),
            ItemSpec("FOOT", "糖尿病足筛查", ItemCategory.CHECK, 1, 500, Schedule.ANNUAL),
            ItemSpec("ASSESS", "健康评估", ItemCategory.HEALTH_MANAGEMENT, 1, 1000, Schedule.ANNUAL,
                     basic_public_health=True),
        ),
    ),
)


@dataclass(frozen=True)
class DrugSpec:
    code: str
    name: str
    drug_class: str
    specification: str
    dosage: str
    frequency: str
    daily_units: Decimal  # tablets or capsules a day
    unit: str


DRUGS = {
    "amlodipine": DrugSpec("XC08CAA014A001010104322", "氨氯地平片", "钙通道阻滞剂", "5mg×28片",
                           "每次5mg（1片）", "每日1次", Decimal(1), "片"),
    "nifedipine": DrugSpec("XC08CAN061A010010102237", "硝苯地平控释片", "钙通道阻滞剂", "30mg×12片",
                           "每次30mg（1片）", "每日1次", Decimal(1), "片"),
    "valsartan": DrugSpec("XC09CAX028E001010101845", "缬沙坦胶囊", "血管紧张素Ⅱ受体拮抗剂", "80mg×28粒",
                          "每次80mg（1粒）", "每日1次", Decimal(1), "粒"),
    "irbesartan": DrugSpec("XC09CAE029A001010203318", "厄贝沙坦片", "血管紧张素Ⅱ受体拮抗剂", "150mg×14片",
                           "每次150mg（1片）", "每日1次", Decimal(1), "片"),
    "enalapril": DrugSpec("XC09AAY065A001010201576", "马来酸依那普利片", "血管紧张素转换酶抑制剂", "10mg×16片",
                          "每次10mg（1片）", "每日1次", Decimal(1), "片"),
    "metoprolol": DrugSpec("XC07ABM085A012010104430", "琥珀酸美托洛尔缓释片", "β受体阻滞剂", "47.5mg×7片",
                           "每次47.5mg（1片）", "每日1次", Decimal(1), "片"),
    "hctz": DrugSpec("XC03AAQ049A001010100671", "氢氯噻嗪片", "利尿剂", "25mg×100片",
                     "每次12.5mg（半片）", "每日1次", Decimal("0.5"), "片"),
    "metformin": DrugSpec("XA10BAE032A001010302563", "盐酸二甲双胍片", "双胍类", "0.5g×48片",
                          "每次0.5g（1片）", "每日3次", Decimal(3), "片"),
    "acarbose": DrugSpec("XA10BFA003A001010103811", "阿卡波糖片", "α-糖苷酶抑制剂", "50mg×30片",
                         "每次50mg（1片），餐时嚼服", "每日3次", Decimal(3), "片"),
    "glimepiride": DrugSpec("XA10BBG041A001010101926", "格列美脲片", "磺脲类促泌剂", "2mg×30片",
                            "每次2mg（1片），早餐前", "每日1次", Decimal(1), "片"),
    "sitagliptin": DrugSpec("XA10BHX072A001010104157", "磷酸西格列汀片", "DPP-4抑制剂", "100mg×7片",
                            "每次100mg（1片）", "每日1次", Decimal(1), "片"),
}

REGIMENS = {
    "hypertension": (("amlodipine",), ("valsartan",), ("amlodipine", "valsartan"), ("nifedipine",),
                     ("irbesartan", "hctz"), ("metoprolol", "amlodipine"), ("enalapril",)),
    "diabetes": (("metformin",), ("metformin", "acarbose"), ("glimepiride",), ("metformin", "sitagliptin")),
}

STABILITY_ASSESSMENTS = {
    "hypertension": "近3个月血压控制在140/90mmHg以下，用药方案稳定，无明显不良反应，可延长处方用量。",
    "diabetes": "近3个月空腹血糖控制在7.0mmol/L以下，用药方案稳定，无低血糖发生，可延长处方用量。",
}

# Zhangzhou's common surnames first (陈、林、黄…), with rough weights.
SURNAMES = (
    ("陈", 12), ("林", 10), ("黄", 7), ("郑", 5), ("吴", 4), ("王", 4), ("李", 4), ("张", 4), ("蔡", 3),
    ("杨", 3), ("许", 3), ("刘", 3), ("曾", 2), ("洪", 2), ("沈", 2), ("苏", 2), ("庄", 2), ("郭", 2),
    ("江", 2), ("卢", 2), ("戴", 1), ("方", 1), ("柯", 1), ("叶", 1), ("何", 1), ("周", 1), ("谢", 1),
    ("徐", 1), ("朱", 1), ("韩", 1), ("邱", 1), ("赖", 1), ("颜", 1), ("阮", 1),
)
MALE_GIVEN = "建国明华文德金水福荣志清海伟强平宗庆添炳坤振泉锦忠良辉成峰斌军东阳俊鸿源瑞进发生"
FEMALE_GIVEN = "秀玉美丽珠凤英兰芳华梅琴霞娟珍桂月雪惠燕红云萍琼素丹婷敏静莲碧淑宝彩"

DISPUTE_REASONS = (
    "本人当天未接受该项服务",
    "未做过这项检查",
    "没有接到随访电话",
    "服务时间与实际不符",
)

SURVEY_NAME = "家庭医生签约服务满意度调查"
SURVEY_QUESTIONS = [
    {"code": "ability", "text": "您对家庭医生团队的业务能力是否满意？", "type": "score", "min": 1, "max": 5},
    {"code": "attitude", "text": "您对家庭医生团队的服务态度是否满意？", "type": "score", "min": 1, "max": 5},
    {"code": "timeliness", "text": "您对服务的及时性是否满意？", "type": "score", "min": 1, "max": 5},
    {"code": "overall", "text": "总体而言，您对本次服务是否满意？", "type": "score", "min": 1, "max": 5},
    {"code": "comment", "text": "您还有什么意见或建议？", "type": "text", "required": False},
]
SURVEY_COMMENTS = (
    "医生很耐心，讲解清楚。",
    "上门随访很方便，谢谢医生。",
    "希望增加上门服务的次数。",
    "取药比以前方便多了。",
    "电话随访时间能否提前告知。",
    "护士量血压很仔细。",
)


# Zhangzhou's local rules (漳州实施细则): 100 yuan = 20 personal + 40 public health + 40 fund,
# the provincial grade bands and payout ratios, 4/12-week prescriptions, 15 working days.
ZHANGZHOU_RULES = dict(
    fee_per_head_fen=10000, personal_share_fen=2000, public_health_share_fen=4000, insurance_fund_share_fen=4000,
    other_fund_populations=[{"code": "poverty_registered", "name": "原建档立卡贫困人口",
                             "fund": "poverty_top_up", "fund_name": "精准扶贫医疗叠加保险", "until": "2022-12-31"}],
    covered_disease_codes=["hypertension", "diabetes"],
    grade_bands=[{"grade": "excellent", "min": "85"}, {"grade": "good", "min": "70"},
                 {"grade": "pass", "min": "60"}, {"grade": "fail", "min": "0"}],
    payout_ratios={"excellent": "1.00", "good": "0.90", "pass": "0.80", "fail": "score"},
    prescription_standard_weeks=4, prescription_max_weeks=12, feedback_deadline_working_days=15,
    appeal_window_working_days=10, assessment_start_mmdd="01-15", duplicate_benefit_policy="refuse",
    prescription_excluded_drug_classes=["toxic", "radioactive", "precursor", "narcotic", "psychotropic_1",
                                        "psychotropic_2", "antimicrobial", "special_storage"],
    services_beyond_quota=False, proxy_max_people=5, guardian_child_max_age=14,
    login_max_failures=5, login_failure_window_seconds=900, login_lockout_seconds=900,
)
