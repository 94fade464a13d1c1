"""Every code system and identifier system the FHIR export writes, in one place.

Identifier systems (`Identifier.system`):
- The resident ID number (居民身份证号码, GB 11643) is `urn:oid:2.16.156.10011.1.3`, the OID the
  national health-information standards give "患者身份证号标识": WS/T 500 (电子病历共享文档规范)
  and WS/T 483 (健康档案共享文档规范) identify a patient by `<id root="2.16.156.10011.1.3"
  extension="身份证号"/>`, under the National Health Commission's arc 2.16.156.10011. FHIR
  writes an OID as `urn:oid:…` (FHIR R4B §2.24.0.1, "Identifier systems").
- The designated medical institution code (定点医药机构编码, e.g. H35060200002) of the
  national medical-insurance coding standard (医疗保障信息业务编码标准), the practising
  certificates (医师/护士/乡村医生执业证书编号), contract numbers, prescription ids and the
  national drug code (国家医保药品编码) have no OID or URI published for FHIR. They are named
  under the platform's own namespace `urn:jiayi:` so they cannot be mistaken for anyone
  else's; a region that registers OIDs changes them here and nowhere else.

Code systems (`Coding.system`) are HL7's and LOINC's canonical URIs.
"""
from __future__ import annotations

RESIDENT_ID_NUMBER = "urn:oid:2.16.156.10011.1.3"
FIXMEDINS_CODE = "urn:jiayi:sid:nhsa-fixmedins-code"        # 定点医药机构编码
ADMDVS_CODE = "urn:jiayi:sid:nhsa-admdvs-code"              # 医保区划 (the pooling region's division code)
PRACTISING_LICENCE = {                                       # 执业证书编号, by the kind of certificate
    "doctor": "urn:jiayi:sid:physician-practising-certificate",      # 医师执业证书
    "nurse": "urn:jiayi:sid:nurse-practising-certificate",           # 护士执业证书
    "village_doctor": "urn:jiayi:sid:village-doctor-certificate",    # 乡村医生执业证书
    "public_health": "urn:jiayi:sid:practising-certificate",         # 其他执业资格
}
CONTRACT_NO = "urn:jiayi:sid:contract-no"                  # 签约协议编号
PRESCRIPTION_ID = "urn:jiayi:sid:long-term-prescription"   # 长期处方
NHSA_DRUG_CODE = "urn:jiayi:cs:nhsa-drug-code"             # 国家医保药品编码 (a code system)
PACKAGE_ITEM = "urn:jiayi:cs:package-item"                 # 服务包项目编码 (a region's own codes)
QUESTIONNAIRE = "urn:jiayi:Questionnaire/"                 # a survey's canonical URL, by its id

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
V2_IDENTIFIER_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0203"
V3_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
PRACTITIONER_ROLE = "http://terminology.hl7.org/CodeSystem/practitioner-role"
ORGANIZATION_TYPE = "http://terminology.hl7.org/CodeSystem/organization-type"
COVERAGE_CLASS = "http://terminology.hl7.org/CodeSystem/coverage-class"
SUBSCRIBER_RELATIONSHIP = "http://terminology.hl7.org/CodeSystem/subscriber-relationship"
MEDICATION_REQUEST_CATEGORY = "http://terminology.hl7.org/CodeSystem/medicationrequest-category"
MEDICATION_REQUEST_COURSE = "http://terminology.hl7.org/CodeSystem/medicationrequest-course-of-therapy"

# Every code system a resource may carry in a Coding: what the tests hold the export to.
CODE_SYSTEMS = frozenset({
    LOINC, UCUM, V2_IDENTIFIER_TYPE, V3_ACT_CODE, OBSERVATION_CATEGORY, PRACTITIONER_ROLE, ORGANIZATION_TYPE,
    COVERAGE_CLASS, SUBSCRIBER_RELATIONSHIP, MEDICATION_REQUEST_CATEGORY, MEDICATION_REQUEST_COURSE, NHSA_DRUG_CODE,
    PACKAGE_ITEM,
})
