"""The provincial medical-insurance platform as the sandbox serves it (transactions 1101 and 5301).

By default every resident ID number with a valid check digit belongs to a person insured
in `insured_admdvs` under resident basic medical insurance (390), active, with the name
the request gives. `POST /sandbox/insurance/persons` (not the platform's) overrides one
person: another name, insurance, status, region, identities, chronic registrations, or
`absent` for someone the platform has never heard of.
"""
from __future__ import annotations

import hashlib
import secrets
import threading
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from server.common import idcard
from server.common.timeutil import SHANGHAI, utcnow
from server.sandbox.config import SandboxConfig

SERVICE_PATH = "/fsi/api/rsfComIfsService/callService"
_ENVELOPE_FIELDS = ("infno", "msgid", "mdtrtarea_admvs", "insuplc_admdvs", "recer_sys_code", "infver", "opter_type",
                    "opter", "opter_name", "inf_time", "fixmedins_code", "fixmedins_name", "input")
_STATUSES = ("1", "2", "4")  # 正常参保, 暂停参保, 终止参保
INSURED_SINCE = "2015-01-01"


@dataclass(frozen=True)
class _Person:
    admdvs: str
    name: str | None = None  # None: the name the request gives
    insutype: str = "390"
    status: str = "1"
    identities: tuple[str, ...] = ()
    chronic: tuple[dict[str, Any], ...] = ()


def _answer(infcode: int, *, output: dict[str, Any] | None = None, err_msg: str = "") -> ResponseReturnValue:
    now = utcnow().astimezone(SHANGHAI)
    stamp = f"{now:%Y%m%d%H%M%S}{now.microsecond // 1000:03d}"
    return jsonify(infcode=infcode, inf_refmsgid=f"{stamp}{secrets.randbelow(10**10):010d}", refmsg_time=stamp,
                   respond_time=stamp, err_msg=err_msg, warn_msg="", cainfo="", signtype="", output=output or {})


class InsuranceSandbox:
    def __init__(self, config: SandboxConfig) -> None:
        self._config = config
        self._lock = threading.Lock()
        self._overrides: dict[str, _Person | None] = {}  # ID number → person, or None when absent
        self._psn_numbers: dict[str, str] = {}  # psn_no → ID number, as the platform's own key

    def blueprints(self) -> list[Blueprint]:
        bp = Blueprint("sandbox_insurance", __name__)
        bp.post(SERVICE_PATH)(self._call_service)
        bp.post("/sandbox/insurance/persons")(self._admin_person)
        return [bp]

    def _call_service(self) -> ResponseReturnValue:
        envelope = request.get_json(silent=True)
        if not isinstance(envelope, dict):
            return _answer(-1, err_msg="报文格式错误：须为 JSON 对象")
        missing = [name for name in _ENVELOPE_FIELDS if name not in envelope]
        if missing:
            return _answer(-1, err_msg="报文缺少字段：" + ",".join(missing))
        msgid, code = str(envelope["msgid"]), str(envelope["fixmedins_code"])
        if len(msgid) != 30 or not msgid.startswith(code) or not msgid[len(code):].isdigit():
            return _answer(-1, err_msg="报文ID[msgid]格式错误：应为定点机构编号+14位时间+4位顺序号，共30位")
        data = (envelope["input"] or {}).get("data") if isinstance(envelope["input"], dict) else None
        if not isinstance(data, dict):
            return _answer(-1, err_msg="输入参数[input.data]缺失")
        if envelope["infno"] == "1101":
            return self._person_info(data)
        if envelope["infno"] == "5301":
            return self._chronic_registrations(data)
        return _answer(-1, err_msg=f"交易编号[{envelope['infno']}]不存在")

    def _person(self, number: str) -> _Person | None:
        if number in self._overrides:
            return self._overrides[number]
        return _Person(admdvs=self._config.insured_admdvs) if idcard.is_valid(number) else None

    def _person_info(self, data: dict[str, Any]) -> ResponseReturnValue:
        number = idcard.normalise(str(data.get("certno") or data.get("mdtrt_cert_no") or ""))
        with self._lock:
            person = self._person(number)
            if person is None:
                return _answer(-1, err_msg="未查询到该人员的参保信息")
            psn_no = _psn_no(number, person.admdvs)
            self._psn_numbers[psn_no] = number
        born = idcard.birth_date(number)
        today = utcnow().astimezone(SHANGHAI).date()
        return _answer(0, output={
            "baseinfo": {"psn_no": psn_no, "psn_cert_type": "01", "certno": number,
                         "psn_name": person.name or str(data.get("psn_name") or ""),
                         "gend": "1" if idcard.gender(number) == "male" else "2", "naty": "01",
                         "brdy": born.isoformat(),
                         "age": today.year - born.year - ((today.month, today.day) < (born.month, born.day))},
            "insuinfo": [{"balc": 0, "insutype": person.insutype, "psn_type": "1401",
                          "psn_insu_stas": person.status, "psn_insu_date": INSURED_SINCE,
                          "paus_insu_date": None if person.status == "1" else today.isoformat(),
                          "cvlserv_flag": "0", "insuplc_admdvs": person.admdvs, "emp_name": ""}],
            "idetinfo": [{"psn_idet_type": code, "psn_type_lv": "", "memo": "", "begntime": "2020-01-01 00:00:00",
                          "endtime": None} for code in person.identities],
        })

    def _chronic_registrations(self, data: dict[str, Any]) -> ResponseReturnValue:
        psn_no = str(data.get("psn_no") or "")
        with self._lock:
            number = self._psn_numbers.get(psn_no)
            person = self._person(number) if number is not None else None
        if person is None:
            return _answer(-1, err_msg="未查询到该人员信息")
        return _answer(0, output={"feedetail": [{
            "psn_no": psn_no, "opsp_dise_code": item["disease_code"], "opsp_dise_name": item["disease_name"],
            "begndate": item["begin"], "enddate": item.get("end"), "hosp_appy_opnn": "", "ide_fixmedins_no": "",
        } for item in person.chronic]})

    def _admin_person(self) -> ResponseReturnValue:
        body = request.get_json(silent=True) or {}
        number = idcard.normalise(str(body.get("id_number", "")))
        if not idcard.is_valid(number):
            return jsonify(code="INVALID_REQUEST", message="id_number must be a valid resident ID number"), 400
        if body.get("absent"):
            person = None
        else:
            try:
                person = _person_from(body, self._config.insured_admdvs)
            except (KeyError, TypeError, ValueError) as exc:
                return jsonify(code="INVALID_REQUEST", message=f"invalid person: {exc}"), 400
        with self._lock:
            self._overrides[number] = person
        return jsonify(ok=True)


def _person_from(body: dict[str, Any], default_admdvs: str) -> _Person:
    status = str(body.get("status", "1"))
    admdvs = str(body.get("admdvs", default_admdvs))
    if status not in _STATUSES or len(admdvs) != 6 or not admdvs.isdigit():
        raise ValueError("status must be 1, 2 or 4 and admdvs 6 digits")
    chronic = []
    for item in body.get("chronic") or []:
        begin = date.fromisoformat(item["begin"]).isoformat()
        end = date.fromisoformat(item["end"]).isoformat() if item.get("end") else None
        chronic.append({"disease_code": str(item["disease_code"]), "disease_name": str(item["disease_name"]),
                        "begin": begin, "end": end})
    return _Person(admdvs=admdvs, name=body.get("name") or None, insutype=str(body.get("insutype", "390")),
                   status=status, identities=tuple(str(code) for code in body.get("identities") or []),
                   chronic=tuple(chronic))


def _psn_no(number: str, admdvs: str) -> str:
    """A stable person number (人员编号) per ID number, as the platform would keep it."""
    return f"{admdvs[:2]}{int(hashlib.sha256(number.encode()).hexdigest(), 16) % 10**18:018d}"
