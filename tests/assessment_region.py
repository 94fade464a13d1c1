"""A small region for 2025 whose every assessment number is worked out by hand in the tests.

Institution X: P1 (hypertension) and P2 (hypertension and diabetes). Institution Y: P4
(diabetes) and P3 (hypertension), who moved from X to Y in July. P5 cancelled at X and
counts nowhere. What each person has in 2025:

  P1  health record updated 2025-03-01; services 10 Mar (150/95), 10 Sep (130/85), 1 Nov,
      and 1 Dec (120/70, disputed: neither the service nor its reading counts); an inpatient
      stay in May (5,000 yuan, 1,500 personal), an outpatient claim and a 2024 stay that do not count
  P2  health record updated 2024-12-30; services 1 Apr (glucose 6.9), 1 Aug (140/80)
  P3  health record updated 2025-07-01; at X: 1 Feb (160/100); at Y: 1 Oct (128/80)
  P4  no health record; service 1 May (glucose 7.0); an inpatient stay in Nov (2,000 yuan, 1,000 personal)
  P5  a service at X under a contract cancelled in March

X issued two long-term prescriptions (one filled), Y one (filled). X has one supervision
case closed with a deduction and one escalated cost-shifting alert in 2025 (and a case
closed in 2024 that does not count). Satisfaction at X: self 5 and 4, phone 3; at Y: self 4.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from server.assessment.models import AssessmentIndicator, AssessmentScheme, IndicatorGroup
from server.claims.models import Claim
from server.common.timeutil import SHANGHAI
from server.contracts.models import Contract
from server.contracts.states import ContractStatus
from server.extensions import db
from server.identity.models import UserAccount
from server.identity.roles import Role
from server.prescriptions.models import Dispensing, Prescription, PrescriptionItem, PrescriptionStatus
from server.residents.models import ChronicCondition
from server.servicerecords.models import Confirmation, Reading, ServiceRecord, ServiceType
from server.supervision.models import AlertKind, CaseAction, SupervisionAlert, SupervisionCase
from server.surveys.models import Survey, SurveyInvitation, SurveyResponse
from tests import factories
from tests.factories import add

YEAR = 2025

# code, group, points, rule (None: manual). Automatic points total 30, so the manual M1 (70)
# can move a total onto any grade boundary.
INDICATORS = [
    ("M1", "setup", "70", None),
    ("Q1", "service_quality", "3", {"metric": "health_records_kept", "full_at": "1", "zero_at": "0"}),
    ("Q2", "service_quality", "3", {"metric": "services_per_person", "full_at": "4", "zero_at": "0"}),
    ("Q3", "service_quality", "3", {"metric": "prescriptions_filled", "full_at": "1", "zero_at": "0"}),
    ("E1", "outcomes", "3", {"metric": "bp_control_rate", "full_at": "1", "zero_at": "0"}),
    ("E2", "outcomes", "2", {"metric": "htn_hospitalisation_rate", "full_at": "0", "zero_at": "1"}),
    ("E3", "outcomes", "3", {"metric": "glucose_control_rate", "full_at": "1", "zero_at": "0"}),
    ("E4", "outcomes", "2", {"metric": "dm_hospitalisation_rate", "full_at": "0", "zero_at": "1"}),
    ("C1", "cost", "3", {"metric": "inpatient_cost_per_person_yuan", "full_at": "1000", "zero_at": "3000"}),
    ("C2", "cost", "2", {"metric": "personal_burden_share", "full_at": "0.2", "zero_at": "0.6"}),
    ("F1", "fund_supervision", "2", {"metric": "confirmed_violations_per_1000", "full_at": "0", "zero_at": "1000"}),
    ("F2", "fund_supervision", "2", {"metric": "cost_shifting_cases", "full_at": "0", "zero_at": "2"}),
    ("O3", "other", "2", {"metric": "satisfaction", "full_at": "1", "zero_at": "0.5", "min_denominator": 2,
                          "fallback": "proportional", "weights": {"self": "0.75", "phone": "0.25"}}),
]

# (numerator, denominator, value, points) per indicator, worked out from the story above.
EXPECTED = {
    "X": {
        "Q1": ("1", "2", "0.5", "1.500"),         # P1 updated in 2025, P2 in 2024
        "Q2": ("5", "2", "2.5", "1.875"),         # P1 three (the disputed one left out), P2 two
        "Q3": ("1", "2", "0.5", "1.500"),         # two prescriptions, one filled
        "E1": ("1", "2", "0.5", "1.500"),         # P1's latest 130/85 controlled, P2's 140/80 not
        "E2": ("1", "2", "0.5", "1.000"),         # P1 admitted in May
        "E3": ("1", "1", "1", "3.000"),           # P2's glucose 6.9 is controlled
        "E4": ("0", "1", "0", "2.000"),
        "C1": ("5000", "2", "2500", "0.750"),     # 5,000 yuan over two people
        "C2": ("150000", "500000", "0.3", "1.500"),  # personal 1,500 of 5,000 yuan (in fen)
        "F1": ("1000", "2", "500", "1.000"),      # one case per two people, per thousand
        "F2": ("1", "1", "1", "1.000"),           # one escalated cost-shifting alert
        "O3": ("2.475", "3", "0.825", "1.300"),   # 0.75 × 0.9 + 0.25 × 0.6 over three answers
    },
    "Y": {
        "Q1": ("1", "2", "0.5", "1.500"),         # P3 updated, P4 no record
        "Q2": ("3", "2", "1.5", "1.125"),         # P3's whole year (X's visit too) and P4's one
        "Q3": ("1", "1", "1", "3.000"),
        "E1": ("1", "1", "1", "3.000"),           # P3's latest reading 128/80, taken at Y
        "E2": ("0", "1", "0", "2.000"),
        "E3": ("0", "1", "0", "0.000"),           # glucose 7.0 is not controlled
        "E4": ("1", "1", "1", "0.000"),
        "C1": ("2000", "2", "1000", "3.000"),
        "C2": ("100000", "200000", "0.5", "0.500"),
        "F1": ("0", "2", "0", "2.000"),
        "F2": ("0", "1", "0", "2.000"),
        "O3": ("0.8", "1", None, "1.275"),        # one answer, below two: the region's 3.275 / 4 = 0.81875
    },
}
AUTO_TOTAL = {"X": Decimal("17.925"), "Y": Decimal("19.400")}


@dataclass
class Region25:
    region_id: int
    institutions: dict[str, int]
    residents: dict[str, int]
    contracts: dict[str, int] = field(default_factory=dict)
    accounts: dict[str, UserAccount] = field(default_factory=dict)
    scheme_id: int | None = None
    staff: dict[str, int] = field(default_factory=dict)


def at(day: date, hour: int = 9) -> datetime:
    return datetime.combine(day, time(hour), SHANGHAI)


def build(code: str = "350681") -> Region25:
    region = factories.make_region(code, "龙海区")
    x, y = factories.make_institution(region, "X镇卫生院"), factories.make_institution(region, "Y镇卫生院")
    team_x, doctor_x = factories.make_team(x, "X团队")
    team_y, doctor_y = factories.make_team(y, "Y团队")
    version, item = factories.make_package(region)
    world = Region25(region.id, {"X": x.id, "Y": y.id}, {}, staff={"X": doctor_x.id, "Y": doctor_y.id})
    bureau = factories.make_account(Role.BUREAU_STAFF, region)
    world.accounts = {"bureau": bureau, "manager_x": factories.make_account(Role.INSTITUTION_MANAGER, region,
                                                                              institution=x),
                      "assessor": factories.make_account(Role.ASSESSOR, region)}

    def person(key, diseases, updated_on):
        resident = factories.make_resident(region, f"居民{key}")
        if "hypertension" not in diseases:
            db.session.query(ChronicCondition).filter_by(resident_id=resident.id).delete()
        if "diabetes" in diseases:
            add(ChronicCondition(resident_id=resident.id, disease_code="diabetes", diagnosed_on=date(2021, 1, 1)))
        resident.health_record_updated_on = updated_on
        world.residents[key] = resident.id
        return resident

    def contract(key, resident, team, doctor, status, **changes):
        signed = factories.make_contract(resident, team, doctor, version, status=status, year=YEAR)
        for name, value in changes.items():
            setattr(signed, name, value)
        world.contracts[key] = signed.id
        return signed

    def served(signed: Contract, day: date, reading: dict | None = None, disputed: bool = False):
        record = add(ServiceRecord(
            contract_id=signed.id, package_item_id=item.id, resident_id=signed.resident_id, region_id=region.id,
            institution_id=signed.institution_id, team_id=signed.team_id, staff_id=signed.doctor_staff_id,
            service_type=ServiceType.CLINIC, served_at=at(day), served_on=day,
            confirmation=Confirmation.DISPUTED if disputed else Confirmation.CONFIRMED))
        if reading:
            add(Reading(service_record_id=record.id, resident_id=signed.resident_id, measured_at=at(day), **reading))
        return record

    def bp(high, low):
        return {"systolic_mmhg": high, "diastolic_mmhg": low}

    def glucose(value):
        return {"fasting_glucose_mmol": Decimal(value)}

    def stay(resident, admitted, total, personal, kind="inpatient"):
        add(Claim(region_id=region.id, resident_id=resident.id, setl_id=f"SETL{resident.id}{admitted:%Y%m%d}{kind[0]}",
                  claim_type=kind, medins_code="H35068100001", admitted_on=admitted,
                  discharged_on=admitted + timedelta(days=5), settled_at=at(admitted + timedelta(days=5)),
                  total_cost_fen=total, fund_paid_fen=total - personal, personal_paid_fen=personal))

    p1 = person("P1", {"hypertension"}, date(2025, 3, 1))
    c1 = contract("P1", p1, team_x, doctor_x, ContractStatus.EXPIRED)
    served(c1, date(2025, 3, 10), bp(150, 95))
    served(c1, date(2025, 9, 10), bp(130, 85))
    served(c1, date(2025, 11, 1))
    served(c1, date(2025, 12, 1), bp(120, 70), disputed=True)
    stay(p1, date(2025, 5, 2), 500000, 150000)
    stay(p1, date(2025, 6, 2), 30000, 10000, kind="outpatient")
    stay(p1, date(2024, 11, 2), 900000, 300000)

    p2 = person("P2", {"hypertension", "diabetes"}, date(2024, 12, 30))
    c2 = contract("P2", p2, team_x, doctor_x, ContractStatus.EXPIRED)
    served(c2, date(2025, 4, 1), glucose("6.9"))
    served(c2, date(2025, 8, 1), bp(140, 80))

    p3 = person("P3", {"hypertension"}, date(2025, 7, 1))
    moved_at = at(date(2025, 7, 15))
    c3a = contract("P3@X", p3, team_x, doctor_x, ContractStatus.TRANSFERRED, ended_at=moved_at,
                   end_reason="更换团队")
    db.session.flush()  # the live-contract index allows one live contract per person and year
    c3b = contract("P3@Y", p3, team_y, doctor_y, ContractStatus.EXPIRED, period_start=date(2025, 7, 15),
                   transferred_from_id=c3a.id)
    served(c3a, date(2025, 2, 1), bp(160, 100))
    served(c3b, date(2025, 10, 1), bp(128, 80))

    p4 = person("P4", {"diabetes"}, None)
    c4 = contract("P4", p4, team_y, doctor_y, ContractStatus.EXPIRED)
    served(c4, date(2025, 5, 1), glucose("7.0"))
    stay(p4, date(2025, 11, 3), 200000, 100000)

    p5 = person("P5", {"hypertension"}, date(2025, 2, 1))
    c5 = contract("P5", p5, team_x, doctor_x, ContractStatus.CANCELLED, ended_at=at(date(2025, 3, 1)))
    served(c5, date(2025, 2, 10), bp(120, 70))

    def prescription(signed, doctor, issued, filled, status=PrescriptionStatus.ACTIVE):
        script = add(Prescription(contract_id=signed.id, resident_id=signed.resident_id, region_id=region.id,
                                  institution_id=signed.institution_id, team_id=signed.team_id,
                                  prescriber_staff_id=doctor.id, issued_on=issued, weeks=4,
                                  status=status))
        drug = add(PrescriptionItem(prescription_id=script.id, drug_code="XC08CAA", drug_name="氨氯地平片",
                                    quantity=Decimal(28), unit="片"))
        if filled:
            add(Dispensing(prescription_id=script.id, prescription_item_id=drug.id,
                           institution_id=signed.institution_id, dispensed_on=issued, quantity=Decimal(28)))

    prescription(c1, doctor_x, date(2025, 4, 1), filled=True)
    prescription(c2, doctor_x, date(2025, 5, 1), filled=False)
    prescription(c4, doctor_y, date(2025, 6, 1), filled=True)
    prescription(c1, doctor_x, date(2024, 6, 1), filled=False,  # last year's: not counted
                 status=PrescriptionStatus.COMPLETED)  # replaced by this year's: one active per contract

    add(SupervisionCase(region_id=region.id, institution_id=x.id, title="虚记随访", status="closed",
                        action=CaseAction.DEDUCTION, deduction_fen=50000, opened_by_account_id=bureau.id,
                        closed_at=at(date(2025, 8, 20))))
    add(SupervisionCase(region_id=region.id, institution_id=x.id, title="上年案件", status="closed",
                        action=CaseAction.DEDUCTION, opened_by_account_id=bureau.id, closed_at=at(date(2024, 8, 20))))
    add(SupervisionCase(region_id=region.id, institution_id=y.id, title="查无问题", status="closed",
                        action=CaseAction.NONE, opened_by_account_id=bureau.id, closed_at=at(date(2025, 8, 20))))
    alert = add(SupervisionAlert(region_id=region.id, institution_id=x.id, kind=AlertKind.COST_SHIFTING,
                                 subject_type="claim", subject_id="SETL-X-1", status="escalated"))
    alert.created_at = at(date(2025, 9, 1))
    add(SupervisionAlert(region_id=region.id, institution_id=y.id, kind=AlertKind.COST_SHIFTING,
                         subject_type="claim", subject_id="SETL-Y-1", status="dismissed"))

    survey = add(Survey(region_id=region.id, name="满意度调查"))

    def answer(signed, score, channel):
        invitation = add(SurveyInvitation(survey_id=survey.id, contract_id=signed.id, invited_at=at(date(2025, 6, 1)),
                                          expires_at=at(date(2025, 6, 15))))
        add(SurveyResponse(invitation_id=invitation.id, region_id=region.id, institution_id=signed.institution_id,
                           team_id=signed.team_id, resident_id=signed.resident_id, channel=channel,
                           entered_by_staff_id=signed.doctor_staff_id if channel == "phone" else None,
                           score_ability=score, score_attitude=score, score_timeliness=score, score_overall=score,
                           answered_at=at(date(2025, 6, 2))))

    answer(c1, 5, "self")
    answer(c2, 4, "self")
    answer(c1, 3, "phone")
    answer(c4, 4, "self")

    scheme = add(AssessmentScheme(region_id=region.id, year=YEAR, name="2025年度考核方案（手算）",
                                  settings={"moved_patients": "year_end"}))
    for code, group, points, rule in INDICATORS:
        add(AssessmentIndicator(scheme_id=scheme.id, code=code, group=IndicatorGroup(group), name=f"指标{code}",
                                points=Decimal(points), method="manual" if rule is None else "auto",
                                rule=rule or {}))
    world.scheme_id = scheme.id
    db.session.commit()
    return world


def institution_ids(world: Region25) -> dict[int, str]:
    return {v: k for k, v in world.institutions.items()}

