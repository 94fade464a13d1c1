"""The insurance-platform client against the sandbox over HTTP (1101 person information, 5301 registrations)."""
from __future__ import annotations

from datetime import date

import pytest
import requests

from server.common.timeutil import local_today
from server.integrations.errors import (
    InsuredNameMismatch,
    InsuredPersonNotFound,
    InsurancePlatformError,
    InsurancePlatformUnavailable,
)
from tests.integrations.conftest import closed_port_url, insurance_client, unique_id_number

pytestmark = pytest.mark.no_db


def _register(admin, **person) -> None:
    response = admin("POST", "/sandbox/insurance/persons", json=person)
    assert response.status_code == 200, response.text


def test_an_insured_resident_is_insured_in_the_region(insurance, platform_settings):
    number = unique_id_number(date(1958, 3, 7))
    person = insurance.person_info(id_number=number, name="林秀英")
    assert (person.name, person.birthday) == ("林秀英", date(1958, 3, 7))
    assert person.gender in ("1", "2") and person.psn_no and person.identities == []
    insured = person.insured_in(platform_settings.region_code)
    assert insured is not None and (insured.insutype, insured.psn_insu_stas) == ("390", "1")
    assert insured.psn_insu_date == date(2015, 1, 1) and insured.paus_insu_date is None
    assert person.insured_in("350100") is None


@pytest.mark.parametrize("registration", [
    {"status": "2"},  # 暂停参保
    {"status": "4"},  # 终止参保
    {"admdvs": "350100"},  # insured in Fuzhou, not here
    {"insutype": "510"},  # maternity insurance only: not basic medical insurance
])
def test_suspended_elsewhere_or_other_insurance_is_not_insured_here(insurance, admin, platform_settings, registration):
    number = unique_id_number()
    _register(admin, id_number=number, **registration)
    person = insurance.person_info(id_number=number, name="陈建国")
    assert person.insured_in(platform_settings.region_code) is None
    if registration.get("status") == "2":
        assert person.insurances[0].paus_insu_date == local_today()


def test_an_unknown_person_is_not_found(insurance, admin):
    number = unique_id_number()
    _register(admin, id_number=number, absent=True)
    with pytest.raises(InsuredPersonNotFound) as absent:
        insurance.person_info(id_number=number, name="黄美玲")
    assert (absent.value.status, absent.value.code, absent.value.message) == (
        422, "INSURED_PERSON_NOT_FOUND", "未查询到参保信息")
    assert number not in str(absent.value) and number not in str(absent.value.details)
    with pytest.raises(InsuredPersonNotFound):
        insurance.person_info(id_number="350602195803070000", name="黄美玲")  # fails the check digit


def test_a_name_that_does_not_match_the_id_number_is_refused(insurance, admin):
    number = unique_id_number()
    _register(admin, id_number=number, name="郑丽华")
    with pytest.raises(InsuredNameMismatch) as mismatch:
        insurance.person_info(id_number=number, name="郑立华")
    assert (mismatch.value.status, mismatch.value.code) == (422, "INSURED_NAME_MISMATCH")
    assert insurance.person_info(id_number=number, name="郑丽华").name == "郑丽华"


def test_identities_and_chronic_registrations(insurance, admin, platform_settings):
    number = unique_id_number(date(1949, 10, 1))
    _register(admin, id_number=number, insutype="310", identities=["2301", "2506"], chronic=[
        {"disease_code": "M03900", "disease_name": "高血压", "begin": "2024-01-01", "end": None},
        {"disease_code": "M01600", "disease_name": "糖尿病", "begin": "2023-06-01", "end": "2025-05-31"},
    ])
    person = insurance.person_info(id_number=number, name="王桂兰")
    assert person.identities == ["2301", "2506"]
    assert person.insured_in(platform_settings.region_code).insutype == "310"
    registrations = insurance.chronic_registrations(person.psn_no)
    assert [(r.disease_code, r.disease_name, r.begin, r.end) for r in registrations] == [
        ("M03900", "高血压", date(2024, 1, 1), None),
        ("M01600", "糖尿病", date(2023, 6, 1), date(2025, 5, 31)),
    ]
    plain = insurance.person_info(id_number=unique_id_number(), name="李明")
    assert insurance.chronic_registrations(plain.psn_no) == []


def test_a_platform_failure_keeps_its_infcode_and_message(insurance):
    with pytest.raises(InsurancePlatformError) as failed:
        insurance.chronic_registrations("no-such-person-number")
    assert (failed.value.status, failed.value.code, failed.value.infcode) == (502, "INSURANCE_PLATFORM_ERROR", -1)
    assert failed.value.err_msg


def test_the_sandbox_speaks_the_national_message_format(sandbox, platform_settings):
    envelope = {"infno": "9999", "msgid": platform_settings.insurance_fixmedins_code + "20261123093000" + "0001",
                "mdtrtarea_admvs": "350600", "insuplc_admdvs": "350600", "recer_sys_code": "JIAYI", "dev_no": "",
                "dev_safe_info": "", "cainfo": "", "signtype": "", "infver": "V1.0", "opter_type": "1",
                "opter": "JIAYI", "opter_name": "测试", "inf_time": "2026-11-23 09:30:00",
                "fixmedins_code": platform_settings.insurance_fixmedins_code, "fixmedins_name": "测试",
                "sign_no": "", "input": {"data": {}}}
    url = sandbox.base_url + "/fsi/api/rsfComIfsService/callService"
    unknown = requests.post(url, json=envelope, timeout=5).json()
    assert unknown["infcode"] == -1 and "9999" in unknown["err_msg"]
    assert {"inf_refmsgid", "refmsg_time", "respond_time", "output"} <= set(unknown)
    short = requests.post(url, json={**envelope, "infno": "1101", "msgid": "123"}, timeout=5).json()
    assert short["infcode"] == -1 and "msgid" in short["err_msg"]


def test_an_id_number_in_a_platform_message_is_masked():
    number = "350602195803070012"
    error = InsurancePlatformError(infcode=-1, err_msg=f"证件号码{number}状态异常")
    assert number not in error.err_msg and number not in str(error.details)
    assert error.err_msg == "证件号码3506**********0012状态异常"


def test_an_unreachable_platform_is_a_503(platform_settings):
    client = insurance_client(closed_port_url(), platform_settings)
    with pytest.raises(InsurancePlatformUnavailable) as unavailable:
        client.person_info(id_number=unique_id_number(), name="李明")
    assert (unavailable.value.status, unavailable.value.message) == (503, "暂时无法连接医保信息平台，请稍后再试")
