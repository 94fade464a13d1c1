"""The WeChat mini-program server API as the sandbox serves it.

Like WeChat, it answers HTTP 200 and reports failures in `errcode`/`errmsg`. The
`/sandbox/wechat/...` routes are not WeChat's: they stand in for the phone (a `wx.login`
code, a phone-number code, a refusal to subscribe) and let tests inject faults.
"""
from __future__ import annotations

import base64
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from server.sandbox.config import SandboxConfig

CODE_TTL_SECONDS = 300
TOKEN_TTL_SECONDS = 7200


@dataclass
class _Code:
    openid: str
    issued_at: float
    used: bool = False


@dataclass
class _PhoneCode:
    phone: str
    watermark_appid: str
    issued_at: float
    used: bool = False


@dataclass
class _State:
    codes: dict[str, _Code] = field(default_factory=dict)
    phone_codes: dict[str, _PhoneCode] = field(default_factory=dict)
    session_keys: dict[str, str] = field(default_factory=dict)  # openid → session_key
    token: str | None = None
    token_expires_at: float = 0.0
    token_requests: int = 0
    refusals: set[tuple[str, str]] = field(default_factory=set)  # (openid, template_id)
    messages: list[dict[str, Any]] = field(default_factory=list)
    fault_errcode: int = 0
    fault_times: int = 0


def _error(errcode: int, errmsg: str) -> ResponseReturnValue:
    return jsonify(errcode=errcode, errmsg=errmsg)


def _admin_error(message: str, status: int = 400) -> ResponseReturnValue:
    return jsonify(code="INVALID_REQUEST", message=message), status


class WechatSandbox:
    def __init__(self, config: SandboxConfig) -> None:
        self._config = config
        self._state = _State()
        self._lock = threading.Lock()

    def blueprints(self) -> list[Blueprint]:
        bp = Blueprint("sandbox_wechat", __name__)
        bp.before_request(self._inject_fault)
        bp.get("/sns/jscode2session")(self._code_to_session)
        bp.post("/cgi-bin/stable_token")(self._stable_token)
        bp.post("/cgi-bin/message/subscribe/send")(self._subscribe_send)
        bp.post("/wxa/business/getuserphonenumber")(self._phone_number)
        bp.post("/sandbox/wechat/login")(self._admin_login)
        bp.post("/sandbox/wechat/phone-code")(self._admin_phone_code)
        bp.post("/sandbox/wechat/refuse")(self._admin_refuse)
        bp.get("/sandbox/wechat/messages")(self._admin_messages)
        bp.post("/sandbox/wechat/fault")(self._admin_fault)
        bp.get("/sandbox/wechat/stats")(self._admin_stats)
        return [bp]

    # --- WeChat's API -----------------------------------------------------------------------

    def _inject_fault(self) -> ResponseReturnValue | None:
        if request.path.startswith("/sandbox/"):
            return None
        with self._lock:
            if self._state.fault_times <= 0:
                return None
            self._state.fault_times -= 1
            errcode = self._state.fault_errcode
        return _error(errcode, {45011: "api minute-quota reach limit", -1: "system error"}.get(errcode, "fault"))

    def _code_to_session(self) -> ResponseReturnValue:
        args = request.args
        if args.get("appid") != self._config.appid:
            return _error(40013, "invalid appid")
        if args.get("secret") != self._config.secret:
            return _error(40125, "invalid appsecret")
        if args.get("grant_type") != "authorization_code":
            return _error(40002, "invalid grant_type")
        with self._lock:
            code = self._state.codes.get(args.get("js_code", ""))
            if code is None or time.monotonic() - code.issued_at > CODE_TTL_SECONDS:
                return _error(40029, "invalid code")
            if code.used:
                return _error(40163, "code been used")
            code.used = True
            session_key = self._state.session_keys.setdefault(
                code.openid, base64.b64encode(secrets.token_bytes(16)).decode())
        return jsonify(openid=code.openid, session_key=session_key, unionid="o6_bm" + code.openid[5:])

    def _stable_token(self) -> ResponseReturnValue:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return _error(47001, "data format error")
        with self._lock:
            self._state.token_requests += 1
            if body.get("appid") != self._config.appid:
                return _error(40013, "invalid appid")
            if body.get("secret") != self._config.secret:
                return _error(40125, "invalid appsecret")
            if body.get("grant_type") != "client_credential":
                return _error(40002, "invalid grant_type")
            now = time.time()
            # Normal mode hands out the current token while it lasts; force_refresh replaces it,
            # and from then on the old one is refused (40001).
            if body.get("force_refresh") is True or self._state.token is None or now >= self._state.token_expires_at:
                self._state.token = secrets.token_urlsafe(96)
                self._state.token_expires_at = now + TOKEN_TTL_SECONDS
            return jsonify(access_token=self._state.token, expires_in=int(self._state.token_expires_at - now))

    def _token_error(self) -> ResponseReturnValue | None:
        token = request.args.get("access_token", "")
        with self._lock:
            if not token or token != self._state.token:
                return _error(40001, "invalid credential, access_token is invalid or not latest")
            if time.time() >= self._state.token_expires_at:
                return _error(42001, "access_token expired")
        return None

    def _subscribe_send(self) -> ResponseReturnValue:
        if (refused := self._token_error()) is not None:
            return refused
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not body.get("touser") or not body.get("template_id"):
            return _error(47003, "argument invalid! touser or template_id missing")
        data = body.get("data")
        if not isinstance(data, dict) or not all(
                isinstance(item, dict) and isinstance(item.get("value"), str) for item in data.values()):
            return _error(47003, "argument invalid! data.value invalid")
        with self._lock:
            if (body["touser"], body["template_id"]) in self._state.refusals:
                return _error(43101, "user refuse to accept the msg")
            self._state.messages.append({"touser": body["touser"], "template_id": body["template_id"],
                                         "page": body.get("page"), "data": data, "at": time.time()})
        return _error(0, "ok")

    def _phone_number(self) -> ResponseReturnValue:
        if (refused := self._token_error()) is not None:
            return refused
        body = request.get_json(silent=True) or {}
        with self._lock:
            code = self._state.phone_codes.get(str(body.get("code", "")))
            if code is None or code.used or time.monotonic() - code.issued_at > CODE_TTL_SECONDS:
                return _error(40029, "invalid code")
            code.used = True
        return jsonify(errcode=0, errmsg="ok", phone_info={
            "phoneNumber": code.phone, "purePhoneNumber": code.phone, "countryCode": "86",
            "watermark": {"timestamp": int(time.time()), "appid": code.watermark_appid}})

    # --- the phone's side and test controls -------------------------------------------------

    def _admin_login(self) -> ResponseReturnValue:
        """What `wx.login` gives the mini-program: a fresh code for this (or a new) user."""
        body = request.get_json(silent=True) or {}
        openid = body.get("openid") or "o" + secrets.token_urlsafe(21)[:27]
        code = secrets.token_hex(16)
        with self._lock:
            self._state.codes[code] = _Code(openid=openid, issued_at=time.monotonic())
        return jsonify(code=code, openid=openid)

    def _admin_phone_code(self) -> ResponseReturnValue:
        """What the `getPhoneNumber` button gives; `watermark_appid` fakes a number released to another app."""
        body = request.get_json(silent=True) or {}
        phone = body.get("phone")
        if not isinstance(phone, str) or not phone.isdigit():
            return _admin_error("phone must be digits")
        code = secrets.token_hex(16)
        with self._lock:
            self._state.phone_codes[code] = _PhoneCode(
                phone=phone, watermark_appid=body.get("watermark_appid") or self._config.appid,
                issued_at=time.monotonic())
        return jsonify(code=code)

    def _admin_refuse(self) -> ResponseReturnValue:
        body = request.get_json(silent=True) or {}
        if not body.get("openid") or not body.get("template_id"):
            return _admin_error("openid and template_id are required")
        with self._lock:
            self._state.refusals.add((body["openid"], body["template_id"]))
        return jsonify(ok=True)

    def _admin_messages(self) -> ResponseReturnValue:
        openid = request.args.get("openid")
        with self._lock:
            messages = [m for m in self._state.messages if openid is None or m["touser"] == openid]
        return jsonify(messages=messages)

    def _admin_fault(self) -> ResponseReturnValue:
        body = request.get_json(silent=True) or {}
        errcode, times = body.get("errcode"), body.get("times", 1)
        if not isinstance(errcode, int) or not isinstance(times, int) or times < 0:
            return _admin_error("errcode (int) and times (int ≥ 0) are required")
        with self._lock:
            self._state.fault_errcode, self._state.fault_times = errcode, times
        return jsonify(ok=True)

    def _admin_stats(self) -> ResponseReturnValue:
        with self._lock:
            return jsonify(token_requests=self._state.token_requests)
