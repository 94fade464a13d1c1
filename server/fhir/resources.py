"""The platform's rows as FHIR R4B resources, each built and validated by `fhir.resources.R4B`.

Every function takes one row of `server.fhir.queries` and returns a validated model; a row
the model refuses raises at once rather than leaving the platform as invalid FHIR. Resource
ids are the platform's own ids (the region's insurance bureau is `Organization/region-<id>`),
so a reference such as `Patient/12` resolves within any export or Bundle that holds both.

Why the contract is an EpisodeOfCare with a Coverage, not a Contract: a family-doctor contract
(签约) is a year in which one team looks after one person (a care manager, a CareTeam, a
managing institution, a period and a status running from planned through active to
finished), and every visit, reading and prescription is delivered under it. That is
EpisodeOfCare's definition, and `Encounter.episodeOfCare` is exactly the link the assessment
counts visits by; Australia's MyMedicare records a patient's enrolment with a practice the
same way. The insurance side (the package as the plan, the fund as payor, the person as
beneficiary, the same period) is what Coverage describes and what payers read. FHIR's
Contract models legal terms, signatories and offers; filling it would restate the consent
record and the fee split (money the export does not carry) while the health-information
platforms that read this export look for EpisodeOfCare and Coverage.
"""
from __future__ import annotations

from datetime import date, datetime

from fhir.resources.R4B.careteam import CareTeam
from fhir.resources.R4B.coverage import Coverage
from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.episodeofcare import EpisodeOfCare
from fhir.resources.R4B.medicationrequest import MedicationRequest
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.organization import Organization
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.practitioner import Practitioner
from fhir.resources.R4B.practitionerrole import PractitionerRole
from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

from server.common.timeutil import SHANGHAI
from server.contracts.states import ContractStatus
from server.fhir import systems as sid
from server.prescriptions.models import PrescriptionStatus
from server.servicerecords.models import ServiceType
from server.teams.models import StaffKind


def ref(resource_type: str, resource_id) -> dict:
    return {"reference": f"{resource_type}/{resource_id}"}


def bureau_id(region_id: int) -> str:
    """The id of the Organization that stands for a pooling region's insurance bureau (the payor)."""
    return f"region-{region_id}"


def _coding(system: str, code: str, display: str | None = None) -> dict:
    return {"system": system, "code": code, **({"display": display} if display else {})}


def _concept(system: str, code: str, display: str, text: str | None = None) -> dict:
    return {"coding": [_coding(system, code, display)], "text": text or display}


def _instant(moment: datetime) -> str:
    """A stored UTC moment as FHIR dateTime in Shanghai time, as the people involved read it."""
    return moment.astimezone(SHANGHAI).isoformat(timespec="seconds")


def _local_day(moment: datetime) -> date:
    return moment.astimezone(SHANGHAI).date()


# --- People and the directory ------------------------------------------------------------------------

def patient(row, *, identified: bool) -> Patient:
    """A resident. For a purpose that does not identify people, only the platform's id, the sex and
    the year of birth leave: no name, ID number or address."""
    data = {"resourceType": "Patient", "id": str(row.id), "gender": row.gender}
    if identified:
        data |= {
            "identifier": [{"use": "official", "system": sid.RESIDENT_ID_NUMBER, "value": row.id_number,
                            "type": _concept(sid.V2_IDENTIFIER_TYPE, "NI", "National unique individual identifier",
                                             "居民身份证号码")}],
            "name": [{"use": "official", "text": row.name}],
            "birthDate": row.birth_date.isoformat(),
            **({"address": [{"use": "home", "text": row.address}]} if row.address else {}),
        }
    else:
        data["birthDate"] = str(row.birth_date.year)
    return Patient.model_validate(data)


def institution(row) -> Organization:
    """A primary-care institution, identified by its designated medical institution code."""
    return Organization.model_validate({
        "resourceType": "Organization", "id": str(row.id), "active": True,
        "identifier": [{"use": "official", "system": sid.FIXMEDINS_CODE, "value": row.code}],
        "type": [_concept(sid.ORGANIZATION_TYPE, "prov", "Healthcare Provider", row.kind)],
        "name": row.name,
        **({"address": [{"text": row.address}]} if row.address else {}),
    })


def bureau(row) -> Organization:
    """The pooling region's medical-insurance bureau, which pays the fund's share of every contract."""
    return Organization.model_validate({
        "resourceType": "Organization", "id": bureau_id(row.id), "active": True,
        "identifier": [{"use": "official", "system": sid.ADMDVS_CODE, "value": row.admdvs_code}],
        "type": [_concept(sid.ORGANIZATION_TYPE, "pay", "Payer", "医疗保障部门")],
        "name": f"{row.name}医疗保障局",
    })


# The identifier type of each kind's practising certificate (HL7 v2 table 0203), and its role.
_LICENCE_TYPE = {
    StaffKind.DOCTOR: ("MD", "Medical License number"),
    StaffKind.NURSE: ("RN", "Registered Nurse Number"),
    StaffKind.VILLAGE_DOCTOR: ("LN", "License number"),
    StaffKind.PUBLIC_HEALTH: ("LN", "License number"),
}
_ROLE = {StaffKind.DOCTOR: ("doctor", "Doctor"), StaffKind.NURSE: ("nurse", "Nurse")}
_KIND_NAMES = {StaffKind.DOCTOR: "医生", StaffKind.NURSE: "护士", StaffKind.PUBLIC_HEALTH: "公卫人员",
               StaffKind.VILLAGE_DOCTOR: "乡村医生"}


def practitioner(row) -> Practitioner:
    """A staff member, identified by their practising certificate number (执业证书编号) when recorded."""
    data = {"resourceType": "Practitioner", "id": str(row.id), "active": row.is_active,
            "name": [{"use": "official", "text": row.name}]}
    if row.licence_no:
        code, display = _LICENCE_TYPE[row.kind]
        data["identifier"] = [{"use": "official", "system": sid.PRACTISING_LICENCE[row.kind.value],
                               "value": row.licence_no,
                               "type": _concept(sid.V2_IDENTIFIER_TYPE, code, display, "执业证书编号")}]
    return Practitioner.model_validate(data)


def practitioner_role(row) -> PractitionerRole:
    """A staff member's place at their institution; HL7's role codes name doctors and nurses, the
    other kinds are named in text."""
    role = _ROLE.get(row.kind)
    code = _concept(sid.PRACTITIONER_ROLE, *role, _KIND_NAMES[row.kind]) if role else {"text": _KIND_NAMES[row.kind]}
    return PractitionerRole.model_validate({
        "resourceType": "PractitionerRole", "id": str(row.id), "active": row.is_active,
        "practitioner": ref("Practitioner", row.id), "organization": ref("Organization", row.institution_id),
        "code": [code],
    })


def care_team(row, members) -> CareTeam:
    """A family-doctor team with its members (each a PractitionerRole) and the dates they served."""
    return CareTeam.model_validate({
        "resourceType": "CareTeam", "id": str(row.id), "status": "active" if row.is_active else "inactive",
        "name": row.name, "category": [{"text": "家庭医生签约服务团队"}],
        "managingOrganization": [ref("Organization", row.institution_id)],
        "participant": [{
            "member": ref("PractitionerRole", m.staff_id),
            "role": [{"text": "团队长" if m.is_leader else "团队成员"}],
            "period": {"start": m.joined_on.isoformat(), **({"end": m.left_on.isoformat()} if m.left_on else {})},
        } for m in members],
    })


# --- The contract ------------------------------------------------------------------------------------

_EPISODE_STATUS = {
    ContractStatus.PENDING_PAYMENT: "planned", ContractStatus.ACTIVE: "active", ContractStatus.EXPIRED: "finished",
    ContractStatus.CANCELLED: "cancelled", ContractStatus.TERMINATED: "finished",
    ContractStatus.TRANSFERRED: "finished",
}
# Coverage has no "ended": an expired contract's coverage stays active for the period it names;
# one ended early was withdrawn.
_COVERAGE_STATUS = {
    ContractStatus.PENDING_PAYMENT: "draft", ContractStatus.ACTIVE: "active", ContractStatus.EXPIRED: "active",
    ContractStatus.CANCELLED: "cancelled", ContractStatus.TERMINATED: "cancelled",
    ContractStatus.TRANSFERRED: "cancelled",
}
_ENDED_EARLY = (ContractStatus.CANCELLED, ContractStatus.TERMINATED, ContractStatus.TRANSFERRED)


def _contract_period(row) -> dict:
    end = row.period_end
    if row.status in _ENDED_EARLY and row.ended_at is not None:
        end = max(row.period_start, min(end, _local_day(row.ended_at)))
    return {"start": row.period_start.isoformat(), "end": end.isoformat()}


def _contract_identifier(row) -> list[dict]:
    return [{"use": "official", "system": sid.CONTRACT_NO, "value": row.contract_no}]


def episode_of_care(row) -> EpisodeOfCare:
    """The contract as care: the person, the team and its institution, the responsible doctor, the period."""
    return EpisodeOfCare.model_validate({
        "resourceType": "EpisodeOfCare", "id": str(row.id), "identifier": _contract_identifier(row),
        "status": _EPISODE_STATUS[row.status], "type": [{"text": "家庭医生签约服务"}],
        "patient": ref("Patient", row.resident_id), "managingOrganization": ref("Organization", row.institution_id),
        "period": _contract_period(row), "team": [ref("CareTeam", row.team_id)],
        **({"careManager": ref("Practitioner", row.doctor_staff_id)} if row.doctor_staff_id else {}),
    })


def coverage(row) -> Coverage:
    """The contract as insurance: the package (the plan) paid in part by the region's fund."""
    return Coverage.model_validate({
        "resourceType": "Coverage", "id": str(row.id), "identifier": _contract_identifier(row),
        "status": _COVERAGE_STATUS[row.status],
        "type": _concept(sid.V3_ACT_CODE, "PUBLICPOL", "public healthcare", "基本医疗保险家庭医生签约服务"),
        "beneficiary": ref("Patient", row.resident_id),
        "relationship": _concept(sid.SUBSCRIBER_RELATIONSHIP, "self", "Self"),
        "period": _contract_period(row), "payor": [ref("Organization", bureau_id(row.region_id))],
        "class": [{"type": _concept(sid.COVERAGE_CLASS, "plan", "Plan"), "value": row.package_code,
                   "name": f"{row.package_name}（第{row.package_version}版）"}],
    })


# --- Care delivered ------------------------------------------------------------------------------------

_ENCOUNTER_CLASS = {
    ServiceType.CLINIC: ("AMB", "ambulatory"), ServiceType.HOME_VISIT: ("HH", "home health"),
    ServiceType.PHONE: ("VR", "virtual"), ServiceType.ONLINE: ("VR", "virtual"),
}


def encounter(row) -> Encounter:
    """A service record (履约记录): the package item delivered, by whom, where, under which contract."""
    code, display = _ENCOUNTER_CLASS[row.service_type]
    return Encounter.model_validate({
        "resourceType": "Encounter", "id": str(row.id), "status": "finished",
        "class": _coding(sid.V3_ACT_CODE, code, display),
        "type": [{"coding": [_coding(sid.PACKAGE_ITEM, row.item_code, row.item_name)], "text": row.item_name}],
        "subject": ref("Patient", row.resident_id), "episodeOfCare": [ref("EpisodeOfCare", row.contract_id)],
        "participant": [{"individual": ref("Practitioner", row.staff_id)}],
        "period": {"start": _instant(row.served_at)}, "serviceProvider": ref("Organization", row.institution_id),
    })


def _category(code: str, display: str) -> list[dict]:
    return [{"coding": [_coding(sid.OBSERVATION_CATEGORY, code, display)]}]


def _loinc(code: str, display: str, text: str) -> dict:
    return _concept(sid.LOINC, code, display, text)


def _quantity(value, unit: str, ucum: str) -> dict:
    return {"value": value, "unit": unit, "system": sid.UCUM, "code": ucum}


VITAL_SIGNS = _category("vital-signs", "Vital Signs")
LABORATORY = _category("laboratory", "Laboratory")
BLOOD_PRESSURE = _loinc("85354-9", "Blood pressure panel with all children optional", "血压")
SYSTOLIC = _loinc("8480-6", "Systolic blood pressure", "收缩压")
DIASTOLIC = _loinc("8462-4", "Diastolic blood pressure", "舒张压")
# Glucose is stored in mmol/L, a substance concentration: LOINC 14771-0, not 1558-6 (mass, mg/dL).
FASTING_GLUCOSE = _loinc("14771-0", "Fasting glucose [Moles/volume] in Serum or Plasma", "空腹血糖")
HBA1C = _loinc("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "糖化血红蛋白")
BODY_WEIGHT = _loinc("29463-7", "Body weight", "体重")
HEART_RATE = _loinc("8867-4", "Heart rate", "心率")


def observations(row) -> list[Observation]:
    """A reading (体征) as one Observation per measurement taken: the blood-pressure panel with its
    systolic and diastolic components, fasting glucose, HbA1c, weight and heart rate."""
    common = {"resourceType": "Observation", "status": "final", "subject": ref("Patient", row.resident_id),
              "encounter": ref("Encounter", row.service_record_id), "effectiveDateTime": _instant(row.measured_at),
              "performer": [ref("Practitioner", row.staff_id)]}
    found = []
    if row.systolic_mmhg is not None or row.diastolic_mmhg is not None:
        components = [{"code": code, "valueQuantity": _quantity(value, "mmHg", "mm[Hg]")}
                      for code, value in ((SYSTOLIC, row.systolic_mmhg), (DIASTOLIC, row.diastolic_mmhg))
                      if value is not None]
        found.append(("bp", VITAL_SIGNS, BLOOD_PRESSURE, {"component": components}))
    for suffix, value, category, code, unit, ucum in (
            ("glucose", row.fasting_glucose_mmol, LABORATORY, FASTING_GLUCOSE, "mmol/L", "mmol/L"),
            ("hba1c", row.hba1c_percent, LABORATORY, HBA1C, "%", "%"),
            ("weight", row.weight_kg, VITAL_SIGNS, BODY_WEIGHT, "kg", "kg"),
            ("pulse", row.heart_rate_bpm, VITAL_SIGNS, HEART_RATE, "beats/minute", "/min")):
        if value is not None:
            found.append((suffix, category, code, {"valueQuantity": _quantity(value, unit, ucum)}))
    return [Observation.model_validate({**common, "id": f"reading-{row.id}-{suffix}", "category": category,
                                        "code": code, **value})
            for suffix, category, code, value in found]


_REQUEST_STATUS = {PrescriptionStatus.ACTIVE: "active", PrescriptionStatus.COMPLETED: "completed",
                   PrescriptionStatus.CANCELLED: "cancelled"}


def repeats_allowed(issued_on: date, valid_until: date, weeks: int) -> int:
    """Fillings after the first that fit between issue and the contract's end: each filling of a
    long-term prescription supplies `weeks`, and it is filled again while the contract serves."""
    days = (valid_until - issued_on).days + 1
    return max(0, days // (weeks * 7) - 1)


def medication_request(row) -> MedicationRequest:
    """One drug of a long-term prescription (长期处方): each filling supplies `weeks`, repeated while the
    contract serves; the drugs of one prescription share its group identifier."""
    dosage = " ".join(part for part in (row.dosage, row.frequency) if part)
    medication = f"{row.drug_name} {row.specification}".strip()
    data = {
        "resourceType": "MedicationRequest", "id": str(row.id),
        "identifier": [{"system": sid.PRESCRIPTION_ID, "value": f"{row.prescription_id}-{row.id}"}],
        "groupIdentifier": {"system": sid.PRESCRIPTION_ID, "value": str(row.prescription_id)},
        "status": _REQUEST_STATUS[row.status], "intent": "order",
        "category": [_concept(sid.MEDICATION_REQUEST_CATEGORY, "community", "Community", "长期处方")],
        "courseOfTherapyType": _concept(sid.MEDICATION_REQUEST_COURSE, "continuous",
                                        "Continuous long term therapy", "长期用药"),
        "medicationCodeableConcept": {"coding": [_coding(sid.NHSA_DRUG_CODE, row.drug_code, row.drug_name)],
                                      "text": medication},
        "subject": ref("Patient", row.resident_id), "authoredOn": row.issued_on.isoformat(),
        "requester": ref("Practitioner", row.prescriber_staff_id),
        "dispenseRequest": {
            "validityPeriod": {"start": row.issued_on.isoformat(), "end": row.valid_until.isoformat()},
            "numberOfRepeatsAllowed": repeats_allowed(row.issued_on, row.valid_until, row.weeks),
            "quantity": {"value": row.quantity, **({"unit": row.unit} if row.unit else {})},
            "expectedSupplyDuration": _quantity(row.weeks * 7, "days", "d"),
        },
        **({"dosageInstruction": [{"text": dosage}]} if dosage else {}),
    }
    if row.source_prescription_no:
        source = " ".join(part for part in (row.source_institution_name, row.source_prescription_no) if part)
        data["note"] = [{"text": f"接续上级医疗机构处方：{source}"}]
    return MedicationRequest.model_validate(data)


# --- Satisfaction ------------------------------------------------------------------------------------

# The scores every response holds, by the survey question code that asks for each.
SCORES = (("ability", "专业能力"), ("attitude", "服务态度"), ("timeliness", "服务及时性"), ("overall", "总体满意度"))
COMMENT = ("comment", "意见或建议")


def questionnaire(row) -> Questionnaire:
    """A region's satisfaction survey (满意度问卷): four scores of 1 to 5 and a comment."""
    asked = {q.get("code"): q.get("text") for q in row.questions or [] if isinstance(q, dict)}
    items = [{"linkId": code, "text": asked.get(code) or name, "type": "integer", "required": True}
             for code, name in SCORES]
    items.append({"linkId": COMMENT[0], "text": asked.get(COMMENT[0]) or COMMENT[1], "type": "text",
                  "required": False})
    return Questionnaire.model_validate({
        "resourceType": "Questionnaire", "id": str(row.id), "url": questionnaire_url(row.id),
        "title": row.name, "status": "active" if row.is_active else "retired", "subjectType": ["Patient"],
        "item": items,
    })


def questionnaire_url(survey_id: int) -> str:
    return f"{sid.QUESTIONNAIRE}{survey_id}"


def questionnaire_response(row) -> QuestionnaireResponse:
    """A satisfaction response; a phone follow-up's answers are authored by the staff member who entered them."""
    items = [{"linkId": code, "text": name, "answer": [{"valueInteger": getattr(row, f"score_{code}")}]}
             for code, name in SCORES]
    if row.comment:
        items.append({"linkId": COMMENT[0], "text": COMMENT[1], "answer": [{"valueString": row.comment}]})
    author = (ref("Practitioner", row.entered_by_staff_id) if row.entered_by_staff_id
              else ref("Patient", row.resident_id))
    return QuestionnaireResponse.model_validate({
        "resourceType": "QuestionnaireResponse", "id": str(row.id),
        "questionnaire": questionnaire_url(row.survey_id), "status": "completed",
        "subject": ref("Patient", row.resident_id), "authored": _instant(row.answered_at), "author": author,
        "source": ref("Patient", row.resident_id),
        **({"encounter": ref("Encounter", row.service_record_id)} if row.service_record_id else {}),
        "item": items,
    })

