"""FHIR export: every resource validates against R4B, carries the right code systems and references
only what the export holds; a resident's Bundle finds each of their records; the Bulk Data
flow answers as the specification says; only bureau staff of the region export, and every
export is audited with its stated purpose."""
from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal

import pytest
from fhir.resources.R4B import get_fhir_model_class

from server.audit.models import AuditEvent
from server.common.timeutil import local_today, utcnow
from server.extensions import db
from server.fhir import services as fhir_services
from server.fhir import systems
from server.fhir.models import ExportPurpose, FhirExportJob
from server.identity.roles import Actor, Role
from server.prescriptions.models import Prescription, PrescriptionItem, PrescriptionStatus
from server.servicerecords.models import Reading
from server.surveys.models import SurveyResponse
from tests.factories import add
from tests.helpers import assert_error_shape

A = "/api/admin/v1/fhir"
EXCHANGE = {"purpose_code": "health_information_exchange", "purpose": "向市全民健康信息平台报送家庭医生签约服务记录"}
RESEARCH = {"purpose_code": "research", "purpose": "高血压签约患者血压控制效果研究"}
ASYNC = {"Prefer": "respond-async", "Accept": "application/fhir+json"}
# Identifier systems as well as code systems: every `system` a resource may name.
KNOWN_SYSTEMS = systems.CODE_SYSTEMS | {
    systems.RESIDENT_ID_NUMBER, systems.FIXMEDINS_CODE, systems.ADMDVS_CODE, systems.CONTRACT_NO,
    systems.PRESCRIPTION_ID, *systems.PRACTISING_LICENCE.values()}


# --- What every export is held to ----------------------------------------------------------------------

def parsed(resource: dict):
    """The resource read back by fhir.resources' R4B model of its type (raises when it does not validate)."""
    return get_fhir_model_class(resource["resourceType"]).model_validate_json(json.dumps(resource))


def _walk(value, path=""):
    if isinstance(value, dict):
        yield path, value
        for key, child in value.items():
            yield from _walk(child, f"{path}.{key}")
    elif isinstance(value, list):
        for child in value:
            yield from _walk(child, path)


def check_resources(resources: list[dict]) -> None:
    """Each resource validates; each system is one we name on purpose (LOINC, UCUM, HL7's, ours); each
    quantity with a code is UCUM; each reference and questionnaire canonical resolves within `resources`."""
    held = {f"{r['resourceType']}/{r['id']}" for r in resources}
    assert len(held) == len(resources), "resource ids repeat"
    canonicals = {r["url"] for r in resources if r["resourceType"] == "Questionnaire"}
    problems = []
    for resource in resources:
        parsed(resource)
        for path, node in _walk(resource):
            if "system" in node:
                if node["system"] not in KNOWN_SYSTEMS:
                    problems.append(f"{resource['resourceType']}{path}: system {node['system']}")
                if "value" in node and "code" in node and node["system"] != systems.UCUM:
                    problems.append(f"{resource['resourceType']}{path}: a coded quantity not in UCUM")
            if "reference" in node and node["reference"] not in held:
                problems.append(f"{resource['resourceType']}/{resource['id']}{path}: {node['reference']} not exported")
        if resource["resourceType"] == "QuestionnaireResponse" and resource["questionnaire"] not in canonicals:
            problems.append(f"QuestionnaireResponse/{resource['id']}: {resource['questionnaire']} not exported")
    assert not problems, "\n".join(problems[:20])


def codes(concept: dict) -> set[tuple[str, str]]:
    return {(c["system"], c["code"]) for c in concept.get("coding", [])}


# --- A world with care to export ----------------------------------------------------------------------

@pytest.fixture
def care(world):
    """R1 with a full set of readings at their visit, a two-drug long-term prescription and a survey answer."""
    record, contract = world.records["R1"], world.contracts["R1"]
    reading = add(Reading(service_record_id=record.id, resident_id=record.resident_id, measured_at=record.served_at,
                          systolic_mmhg=142, diastolic_mmhg=88, fasting_glucose_mmol=Decimal("7.2"),
                          hba1c_percent=Decimal("6.9"), weight_kg=Decimal("68.5"), heart_rate_bpm=76))
    prescription = add(Prescription(contract_id=contract.id, resident_id=contract.resident_id,
                                    region_id=contract.region_id, institution_id=contract.institution_id,
                                    team_id=contract.team_id, prescriber_staff_id=contract.doctor_staff_id,
                                    issued_on=local_today() - timedelta(days=3), weeks=4,
                                    status=PrescriptionStatus.ACTIVE))
    items = [add(PrescriptionItem(prescription_id=prescription.id, drug_code=code, drug_name=name, dosage=dose,
                                  frequency="每日一次", quantity=Decimal("28"), unit="片"))
             for code, name, dose in (("XC08CAA0000", "氨氯地平片", "5mg"), ("XA10BAA0000", "二甲双胍片", "0.5g"))]
    answer = add(SurveyResponse(invitation_id=world.invitations["R1"].id, region_id=contract.region_id,
                                institution_id=contract.institution_id, team_id=contract.team_id,
                                resident_id=contract.resident_id, channel="self", score_ability=5, score_attitude=4,
                                score_timeliness=5, score_overall=5, comment="医生很耐心", answered_at=utcnow()))
    db.session.commit()
    return {"reading": reading.id, "prescription": prescription.id, "items": [i.id for i in items],
            "answer": answer.id, "valid_until": contract.period_end}


def everything(client, world, key="R1", caller="bureau", purpose=EXCHANGE):
    return client.get(f"{A}/Patient/{world.residents[key].id}/$everything", query_string=purpose,
                      headers=world.headers(caller))


def _by_type(bundle: dict) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for entry in bundle["entry"]:
        found.setdefault(entry["resource"]["resourceType"], []).append(entry["resource"])
    return found


# --- A resident's Bundle -------------------------------------------------------------------------------

def test_a_residents_bundle_holds_each_of_their_records_with_the_right_codes(client, world, care):
    response = everything(client, world)
    assert response.status_code == 200 and response.mimetype == "application/fhir+json"
    bundle = response.get_json()
    assert (bundle["resourceType"], bundle["type"]) == ("Bundle", "searchset")
    get_fhir_model_class("Bundle").model_validate(bundle)
    check_resources([entry["resource"] for entry in bundle["entry"]])
    assert all(entry["fullUrl"].endswith(f"/fhir/{entry['resource']['resourceType']}/{entry['resource']['id']}")
               for entry in bundle["entry"])
    found = _by_type(bundle)
    resident, contract, record = world.residents["R1"], world.contracts["R1"], world.records["R1"]

    [patient] = found["Patient"]
    assert patient["identifier"] == [{
        "use": "official", "system": "urn:oid:2.16.156.10011.1.3", "value": resident.id_number,
        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "NI",
                             "display": "National unique individual identifier"}], "text": "居民身份证号码"}}]
    assert (patient["name"][0]["text"], patient["gender"], patient["birthDate"]) == (
        resident.name, resident.gender, resident.birth_date.isoformat())

    [episode], [coverage] = found["EpisodeOfCare"], found["Coverage"]
    assert episode["id"] == coverage["id"] == str(contract.id)
    assert episode["status"] == "active" and episode["team"] == [{"reference": f"CareTeam/{contract.team_id}"}]
    assert episode["careManager"] == {"reference": f"Practitioner/{contract.doctor_staff_id}"}
    assert coverage["payor"] == [{"reference": f"Organization/region-{contract.region_id}"}]
    assert codes(coverage["type"]) == {("http://terminology.hl7.org/CodeSystem/v3-ActCode", "PUBLICPOL")}

    [visit] = found["Encounter"]
    assert visit["id"] == str(record.id) and visit["episodeOfCare"] == [{"reference": f"EpisodeOfCare/{contract.id}"}]
    assert visit["class"]["code"] == "AMB" and visit["serviceProvider"]["reference"] == \
        f"Organization/{contract.institution_id}"

    readings = {o["id"].rsplit("-", 1)[1]: o for o in found["Observation"]}
    assert set(readings) == {"bp", "glucose", "hba1c", "weight", "pulse"}
    assert all(o["encounter"] == {"reference": f"Encounter/{record.id}"} for o in readings.values())
    bp = readings["bp"]
    assert codes(bp["code"]) == {("http://loinc.org", "85354-9")}
    assert {(next(iter(codes(c["code"])))[1], c["valueQuantity"]["value"], c["valueQuantity"]["code"])
            for c in bp["component"]} == {("8480-6", 142, "mm[Hg]"), ("8462-4", 88, "mm[Hg]")}
    assert codes(bp["category"][0]) == {("http://terminology.hl7.org/CodeSystem/observation-category", "vital-signs")}
    glucose = readings["glucose"]
    assert codes(glucose["code"]) == {("http://loinc.org", "14771-0")}
    assert glucose["valueQuantity"] == {"value": 7.2, "unit": "mmol/L", "system": "http://unitsofmeasure.org",
                                        "code": "mmol/L"}
    assert codes(readings["hba1c"]["code"]) == {("http://loinc.org", "4548-4")}
    assert readings["hba1c"]["valueQuantity"]["code"] == "%"
    assert (next(iter(codes(readings["weight"]["code"]))), readings["weight"]["valueQuantity"]["code"]) == (
        ("http://loinc.org", "29463-7"), "kg")
    assert (next(iter(codes(readings["pulse"]["code"]))), readings["pulse"]["valueQuantity"]["code"]) == (
        ("http://loinc.org", "8867-4"), "/min")

    requests = {r["id"]: r for r in found["MedicationRequest"]}
    assert set(requests) == {str(i) for i in care["items"]}
    for request in requests.values():
        assert request["groupIdentifier"]["value"] == str(care["prescription"])
        assert (request["status"], request["intent"]) == ("active", "order")
        supply = request["dispenseRequest"]
        assert supply["expectedSupplyDuration"] == {"value": 28, "unit": "days", "system": "http://unitsofmeasure.org",
                                                    "code": "d"}
        assert supply["validityPeriod"]["end"] == care["valid_until"].isoformat()
        issued = date.fromisoformat(request["authoredOn"])
        assert supply["numberOfRepeatsAllowed"] == ((care["valid_until"] - issued).days + 1) // 28 - 1
        assert codes(request["courseOfTherapyType"]) == {
            ("http://terminology.hl7.org/CodeSystem/medicationrequest-course-of-therapy", "continuous")}
    assert {next(iter(codes(r["medicationCodeableConcept"])))[1] for r in requests.values()} == {
        "XC08CAA0000", "XA10BAA0000"}

    [answer] = found["QuestionnaireResponse"]
    assert answer["id"] == str(care["answer"]) and answer["encounter"] == {"reference": f"Encounter/{record.id}"}
    assert {item["linkId"]: item["answer"][0] for item in answer["item"]} == {
        "ability": {"valueInteger": 5}, "attitude": {"valueInteger": 4}, "timeliness": {"valueInteger": 5},
        "overall": {"valueInteger": 5}, "comment": {"valueString": "医生很耐心"}}
    assert [q["url"] for q in found["Questionnaire"]] == [answer["questionnaire"]]

    doctor = world.doctors["T1"]
    [practitioner] = found["Practitioner"]
    assert practitioner["identifier"][0]["value"] == doctor.licence_no
    assert practitioner["identifier"][0]["system"] == systems.PRACTISING_LICENCE["doctor"]
    [role] = found["PractitionerRole"]
    assert role["organization"] == {"reference": f"Organization/{doctor.institution_id}"}
    [team] = found["CareTeam"]
    assert team["participant"][0]["member"] == {"reference": f"PractitionerRole/{doctor.id}"}
    assert {o["id"] for o in found["Organization"]} == {str(contract.institution_id), f"region-{contract.region_id}"}
    institution = next(o for o in found["Organization"] if o["id"] == str(contract.institution_id))
    assert institution["identifier"] == [{"use": "official", "system": systems.FIXMEDINS_CODE,
                                          "value": world.institutions["I1"].code}]


def test_the_bundle_holds_no_one_else(client, world, care):
    bundle = everything(client, world, key="R5").get_json()
    found = _by_type(bundle)
    assert [p["id"] for p in found["Patient"]] == [str(world.residents["R5"].id)]
    assert "MedicationRequest" not in found and "Observation" not in found
    assert {e["subject"]["reference"] for e in found["Encounter"]} == {f"Patient/{world.residents['R5'].id}"}


def test_a_research_bundle_leaves_out_name_id_number_and_birthday(client, world, care):
    response = everything(client, world, purpose=RESEARCH)
    text = response.get_data(as_text=True)
    resident = world.residents["R1"]
    assert resident.id_number not in text and resident.name not in text
    [patient] = _by_type(response.get_json())["Patient"]
    assert patient == {"resourceType": "Patient", "id": str(resident.id), "gender": resident.gender,
                       "birthDate": str(resident.birth_date.year)}


def test_the_bundle_read_is_audited_with_its_purpose(client, world, care):
    everything(client, world)
    [event] = db.session.query(AuditEvent).filter_by(action="fhir.patient.everything").all()
    assert (event.entity_type, event.entity_id) == ("resident", str(world.residents["R1"].id))
    assert event.details == EXCHANGE and event.actor_account_id == world.accounts["bureau"].id


@pytest.mark.parametrize("query, field", [
    ({"purpose_code": "research"}, "purpose"),
    ({"purpose": "科研"}, "purpose_code"),
    ({**RESEARCH, "purpose_code": "curiosity"}, "purpose_code"),
    ({**RESEARCH, "purpose": " 　 "}, "purpose"),
    ({**RESEARCH, "purpose": "研究\x1b[2J"}, "purpose"),
    ({**RESEARCH, "purpose": "研究\n第二行"}, "purpose"),
    ({**RESEARCH, "purpose": "研" * 201}, "purpose"),
])
def test_an_export_needs_a_stated_purpose(client, world, query, field):
    response = client.get(f"{A}/Patient/{world.residents['R1'].id}/$everything", query_string=query,
                          headers=world.headers("bureau"))
    body = assert_error_shape(response, 422)
    assert field in json.dumps(body["details"])
    assert db.session.query(AuditEvent).filter(AuditEvent.action.like("fhir.%")).count() == 0


# --- Bulk Data $export ---------------------------------------------------------------------------------

def kick_off(client, world, caller="bureau", headers=ASYNC, **params):
    query = {**EXCHANGE, **params}
    return client.get(f"{A}/$export", query_string=query, headers={**world.headers(caller), **headers})


def bulk(client, world, caller="bureau", **params) -> dict[str, list[dict]]:
    """Kick off, read the manifest, download every file; the resources by type."""
    started = kick_off(client, world, caller, **params)
    assert started.status_code == 202, started.get_data(as_text=True)
    manifest = client.get(started.headers["Content-Location"], headers=world.headers(caller))
    assert manifest.status_code == 200
    files = {}
    for output in manifest.get_json()["output"]:
        response = client.get(output["url"], headers=world.headers(caller))
        assert response.status_code == 200 and response.mimetype == "application/fhir+ndjson"
        files[output["type"]] = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
    return files


def test_kick_off_answers_202_with_a_status_url_whose_manifest_lists_one_file_per_type(client, world):
    started = kick_off(client, world, _type="Patient,Encounter", period_start="2026-01-01", period_end="2026-12-31")
    assert started.status_code == 202 and started.get_data() == b""
    status_url = started.headers["Content-Location"]
    assert status_url.startswith("http://localhost/api/admin/v1/fhir/export-jobs/")
    response = client.get(status_url, headers=world.headers("bureau"))
    manifest = response.get_json()
    assert "Expires" in response.headers
    assert set(manifest) == {"transactionTime", "request", "requiresAccessToken", "output", "error"}
    assert manifest["requiresAccessToken"] is True and manifest["error"] == []
    assert [o["type"] for o in manifest["output"]] == ["Patient", "Encounter"]
    assert manifest["output"][0]["url"].endswith("/Patient.ndjson")
    assert manifest["request"].startswith("http://localhost/api/admin/v1/fhir/$export?_type=Patient%2CEncounter")
    job = db.session.get(FhirExportJob, int(status_url.rsplit("/", 1)[1]))
    assert (job.period_start, job.period_end, job.account_id) == (
        date(2026, 1, 1), date(2026, 12, 31), world.accounts["bureau"].id)
    assert job.expires_at > job.created_at


def test_every_exported_resource_validates_and_references_resolve_across_the_files(client, world, care):
    files = bulk(client, world)
    assert set(files) == {"Organization", "Practitioner", "PractitionerRole", "CareTeam", "Patient",
                          "EpisodeOfCare", "Coverage", "Encounter", "Observation", "MedicationRequest",
                          "Questionnaire", "QuestionnaireResponse"}
    assert all(files.values()), {name for name, rows in files.items() if not rows}
    check_resources([resource for rows in files.values() for resource in rows])
    region_a = {world.residents[k].id for k in ("R1", "R2", "R3", "R5")}
    assert {int(p["id"]) for p in files["Patient"]} == region_a


def test_an_institutions_export_for_a_period_holds_only_its_care_in_that_period(client, world, care):
    files = bulk(client, world, institution=world.institutions["I2"].id)
    assert [p["id"] for p in files["Patient"]] == [str(world.residents["R3"].id)]
    assert {o["id"] for o in files["Organization"]} == {str(world.institutions["I2"].id),
                                                       f"region-{world.regions['A'].id}"}
    check_resources([resource for rows in files.values() for resource in rows])
    served = world.records["R1"].served_on
    later = bulk(client, world, period_start=(served + timedelta(days=1)).isoformat())
    assert later["Encounter"] == [] and later["Observation"] == [] and later["QuestionnaireResponse"] == []
    assert len(later["EpisodeOfCare"]) == 4  # the contracts still run after that day
    check_resources([resource for rows in later.values() for resource in rows])


def test_every_kick_off_and_download_is_audited_with_the_purpose(client, world):
    bulk(client, world, _type="Patient,Coverage")
    events = db.session.query(AuditEvent).filter(AuditEvent.action.like("fhir.export.%")).order_by(AuditEvent.id).all()
    assert [(e.action, e.details.get("resource_type")) for e in events] == [
        ("fhir.export.start", None), ("fhir.export.download", "Patient"), ("fhir.export.download", "Coverage")]
    assert all(e.details["purpose"] == EXCHANGE["purpose"] and e.details["purpose_code"] == EXCHANGE["purpose_code"]
               for e in events)
    assert events[0].details["resource_types"] == ["Patient", "Coverage"]


@pytest.mark.parametrize("headers, params, status, code", [
    ({"Prefer": "return=representation"}, {}, 422, "VALIDATION_ERROR"),
    (ASYNC, {"period_start": "1900-01-01"}, 422, "VALIDATION_ERROR"),
    (ASYNC, {"_type": "Patient,Claim"}, 422, "VALIDATION_ERROR"),
    (ASYNC, {"period_start": "2026-07-01", "period_end": "2026-06-30"}, 422, "PERIOD_INVALID"),
    (ASYNC, {"purpose": "x" * 201}, 422, "VALIDATION_ERROR"),
])
def test_a_bad_kick_off_is_refused_and_leaves_no_job(client, world, headers, params, status, code):
    body = assert_error_shape(kick_off(client, world, headers=headers, **params), status)
    assert body["code"] == code
    assert db.session.query(FhirExportJob).count() == 0


def test_an_institution_outside_the_region_is_not_found(client, world):
    assert_error_shape(kick_off(client, world, institution=world.institutions["I3"].id), 404)
    assert db.session.query(FhirExportJob).count() == 0


def test_only_the_staff_member_who_asked_downloads_and_only_until_it_expires(client, world, app):
    started = kick_off(client, world, _type="Patient")
    status_url = started.headers["Content-Location"]
    file_url = f"{status_url}/Patient.ndjson"
    assert_error_shape(client.get(file_url, headers=world.headers("bureau_b")), 404)
    assert_error_shape(client.get(f"{status_url}/Encounter.ndjson", headers=world.headers("bureau")), 404)
    for caller in ("manager", "assessor"):
        assert_error_shape(client.get(file_url, headers=world.headers(caller)), 403)
    job = db.session.get(FhirExportJob, int(status_url.rsplit("/", 1)[1]))
    job.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert assert_error_shape(client.get(file_url, headers=world.headers("bureau")), 410)["code"] == "EXPORT_EXPIRED"
    assert assert_error_shape(client.get(status_url, headers=world.headers("bureau")), 410)["code"] == "EXPORT_EXPIRED"


def test_a_kick_off_without_prefer_is_answered_asynchronously_all_the_same(client, world):
    started = kick_off(client, world, headers={})
    assert started.status_code == 202 and "Content-Location" in started.headers


def export_job_path(w, suffix: str = "") -> str:
    """The status path of a de-identified export of region A's patients started by region A's bureau
    account (the scope matrix's target)."""
    actor = Actor(role=Role.BUREAU_STAFF, account_id=w.accounts["bureau"].id, region_id=w.regions["A"].id)
    job = fhir_services.start_export(actor, resource_types=["Patient"], institution_id=None, period_start=None,
                                period_end=None, purpose_code=ExportPurpose.RESEARCH, purpose=RESEARCH["purpose"])
    return f"{A}/export-jobs/{job.id}{suffix}"
