"""The provincial medical-insurance platform, in the national platform's message format.

Every transaction is one POST to `callService`: an envelope naming the transaction
(`infno`), a unique `msgid`, the institution and operator, and the `input`; the answer
carries `infcode` (0 success, -1 failure), `err_msg` and the `output`. We use 1101
(person information: insurances and identities) and 5301 (outpatient chronic/special
disease registrations, 门诊慢特病备案).

ID numbers travel to the platform, never into our errors or log lines.
"""
from __future__ import annotations

import itertools
import json
import secrets
from dataclasses import dataclass
from datetime import date
from typing import Any

import requests

from server.common.timeutil import SHANGHAI, utcnow
from server.integrations.errors import (
    InsuredNameMismatch,
    InsuredPersonNotFound,
    InsurancePlatformError,
    InsurancePlatformUnavailable,
)

SERVICE_PATH = "/fsi/api/rsfComIfsService/callService"
BASIC_MEDICAL_INSUTYPES = frozenset({"310", "390"})  # employee basic, resident basic
ACTIVE = "1"  # psn_insu_stas 正常参保
# The format has no code for "no such person"; platforms say so in err_msg, in words like these.
_NOT_FOUND_PHRASES = ("未查询到", "不存在")


@dataclass(frozen=True)
class Insurance:
    insutype: str  # "310" employee basic, "390" resident basic, ...
    psn_insu_stas: str  # "1" 正常参保, "2" 暂停参保, "4" 终止参保
    insuplc_admdvs: str  # 参保地医保区划, 6 digits
    psn_insu_date: date | None
    paus_insu_date: date | None


@dataclass(frozen=True)
class PersonInfo:
    psn_no: str
    name: str
    gender: str  # "1" male, "2" female
    birthday: date
    insurances: list[Insurance]
    identities: list[str]  # psn_idet_type codes

    def insured_in(self, admdvs_code: str) -> Insurance | None:
        """The person's active basic medical insurance in that region, if any."""
        return next((i for i in self.insurances if i.insutype in BASIC_MEDICAL_INSUTYPES
                     and i.psn_insu_stas == ACTIVE and i.insuplc_admdvs == admdvs_code), None)


@dataclass(frozen=True)
class ChronicRegistration:
    disease_code: str
    disease_name: str
    begin: date
    end: date | None


class InsuranceClient:
    def __init__(self, *, base_url: str, fixmedins_code: str, fixmedins_name: str, opter_no: str,
                 opter_name: str, admdvs: str, timeout: float = 5.0) -> None:
        self._url = base_url.rstrip("/") + SERVICE_PATH
        self._fixmedins_code = fixmedins_code
        self._fixmedins_name = fixmedins_name
        self._opter_no = opter_no
        self._opter_name = opter_name
        self._admdvs = admdvs
        self._timeout = timeout
        self._http = requests.Session()
        # msgid ends in a 4-digit serial; a random start keeps two workers from counting in step.
        self._serial = itertools.count(secrets.randbelow(10_000))

    def person_info(self, *, id_number: str, name: str) -> PersonInfo:
        """1101: who the person is, where and how they are insured, which identities they hold."""
        try:
            output = self._call("1101", {"data": {
                "mdtrt_cert_type": "02", "mdtrt_cert_no": id_number, "card_sn": "", "begntime": "",
                "psn_cert_type": "01", "certno": id_number, "psn_name": name}})
        except InsurancePlatformError as exc:
            if exc.err_msg and any(phrase in exc.err_msg for phrase in _NOT_FOUND_PHRASES):
                raise InsuredPersonNotFound() from exc
            raise
        base = output.get("baseinfo") or {}
        if not base.get("psn_no"):
            raise InsuredPersonNotFound()
        if (base.get("psn_name") or "").strip() != name.strip():
            raise InsuredNameMismatch()
        try:
            return PersonInfo(
                psn_no=base["psn_no"], name=base["psn_name"], gender=str(base.get("gend") or ""),
                birthday=_required_date(base.get("brdy")),
                insurances=[Insurance(
                    insutype=str(item["insutype"]), psn_insu_stas=str(item["psn_insu_stas"]),
                    insuplc_admdvs=str(item["insuplc_admdvs"]), psn_insu_date=_date(item.get("psn_insu_date")),
                    paus_insu_date=_date(item.get("paus_insu_date"))) for item in output.get("insuinfo") or []],
                identities=[str(item["psn_idet_type"]) for item in output.get("idetinfo") or []])
        except (KeyError, TypeError, ValueError) as exc:
            raise InsurancePlatformError("医保信息平台应答格式有误", code="INSURANCE_PLATFORM_MALFORMED") from exc

    def chronic_registrations(self, psn_no: str) -> list[ChronicRegistration]:
        """5301: the person's outpatient chronic/special disease registrations."""
        output = self._call("5301", {"data": {"psn_no": psn_no}})
        try:
            return [ChronicRegistration(
                disease_code=item["opsp_dise_code"], disease_name=item.get("opsp_dise_name") or "",
                begin=_required_date(item.get("begndate")), end=_date(item.get("enddate")))
                for item in output.get("feedetail") or []]
        except (KeyError, TypeError, ValueError) as exc:
            raise InsurancePlatformError("医保信息平台应答格式有误", code="INSURANCE_PLATFORM_MALFORMED") from exc

    def _call(self, infno: str, input_: dict[str, Any]) -> dict[str, Any]:
        now = utcnow().astimezone(SHANGHAI)
        envelope = {
            "infno": infno,
            "msgid": f"{self._fixmedins_code}{now:%Y%m%d%H%M%S}{next(self._serial) % 10_000:04d}",
            "mdtrtarea_admvs": self._admdvs, "insuplc_admdvs": self._admdvs, "recer_sys_code": "JIAYI",
            "dev_no": "", "dev_safe_info": "", "cainfo": "", "signtype": "", "infver": "V1.0",
            "opter_type": "1", "opter": self._opter_no, "opter_name": self._opter_name,
            "inf_time": f"{now:%Y-%m-%d %H:%M:%S}", "fixmedins_code": self._fixmedins_code,
            "fixmedins_name": self._fixmedins_name, "sign_no": "", "input": input_,
        }
        try:
            response = self._http.post(self._url, data=json.dumps(envelope, ensure_ascii=False).encode("utf-8"),
                                       headers={"Content-Type": "application/json; charset=utf-8"},
                                       timeout=self._timeout)
        except requests.RequestException as exc:
            raise InsurancePlatformUnavailable() from exc
        if response.status_code >= 500:
            raise InsurancePlatformUnavailable()
        try:
            answer = response.json()
        except ValueError as exc:
            raise InsurancePlatformError("医保信息平台应答格式有误", code="INSURANCE_PLATFORM_MALFORMED") from exc
        if response.status_code != 200 or not isinstance(answer, dict):
            raise InsurancePlatformError("医保信息平台应答格式有误", code="INSURANCE_PLATFORM_MALFORMED")
        if str(answer.get("infcode")) != "0":
            raise InsurancePlatformError(infcode=_int_or_none(answer.get("infcode")), err_msg=answer.get("err_msg"))
        output = answer.get("output")
        return output if isinstance(output, dict) else {}


def _date(value: str | None) -> date | None:
    """Platform dates come as `yyyy-MM-dd`, sometimes with a time after them."""
    return date.fromisoformat(value[:10]) if value else None


def _required_date(value: str | None) -> date:
    parsed = _date(value)
    if parsed is None:
        raise ValueError("missing date")
    return parsed


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
