"""A stand-in for the mini-program on a resident's phone, for demos, tests and benchmarks.

It calls the platform's API as the real mini-program does, and does through the sandbox
what the phone would do with WeChat: `wx.login` for a code, `wx.requestPayment` to pay.
"""
from __future__ import annotations

import requests


class ApiError(RuntimeError):
    def __init__(self, response: requests.Response) -> None:
        super().__init__(f"{response.request.method} {response.url} → {response.status_code} {response.text[:300]}")
        self.response = response


class MiniProgram:
    def __init__(self, platform_url: str, sandbox_url: str, http: requests.Session | None = None) -> None:
        self.platform = platform_url.rstrip("/")
        self.sandbox = sandbox_url.rstrip("/")
        self.http = http or requests.Session()
        self.token: str | None = None

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}))
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return self.http.request(method, f"{self.platform}/api/mp/v1{path}", headers=headers, timeout=10, **kwargs)

    def ok(self, method: str, path: str, **kwargs):
        response = self.call(method, path, **kwargs)
        if response.status_code >= 400:
            raise ApiError(response)
        return response.json() if response.content else None

    def login(self, openid: str | None = None) -> dict:
        """wx.login on the phone, then our sign-in with its code."""
        code = self._sandbox("/sandbox/wechat/login", {"openid": openid} if openid else {})["code"]
        session = self.ok("POST", "/auth/wechat-login", json={"code": code})
        self.token = session["token"]
        return session

    def bind(self, name: str, id_number: str) -> int:
        """Bind one's own identity; returns the resident id."""
        return self.ok("POST", "/me/identity", json={"name": name, "id_number": id_number,
                                                     "consent": True})["resident"]["id"]

    def sign(self, resident_id: int, team_id: int, package_version_id: int, *, key: str | None = None) -> dict:
        headers = {"Idempotency-Key": key} if key else {}
        return self.ok("POST", "/contracts/sign", headers=headers, json={
            "resident_id": resident_id, "team_id": team_id, "package_version_id": package_version_id,
            "consent": True})

    def start_payment(self, contract_id: int) -> str:
        """Our order for the personal share; returns its out_trade_no."""
        return self.ok("POST", f"/contracts/{contract_id}/payment")["out_trade_no"]

    def pay(self, out_trade_no: str, *, deliver: str = "normal", **options) -> None:
        """wx.requestPayment succeeding: WeChat Pay then notifies the platform (unless `drop`)."""
        self._sandbox(f"/sandbox/pay/{out_trade_no}/pay", {"deliver": deliver, **options})

    def check_payment(self, contract_id: int) -> dict:
        """What the mini-program calls when wx.requestPayment returns: the platform asks WeChat Pay at once."""
        return self.ok("POST", f"/contracts/{contract_id}/payment/check")

    def pay_for(self, contract_id: int, *, deliver: str = "normal", **options) -> dict:
        """The whole payment as the mini-program makes it: our order, wx.requestPayment, then the check."""
        self.pay(self.start_payment(contract_id), deliver=deliver, **options)
        return self.check_payment(contract_id)

    def notification(self, out_trade_no: str, fault: str | None = None) -> tuple[dict, bytes]:
        """The signed, encrypted notification WeChat Pay would send for a paid order (not sent)."""
        built = self._sandbox("/sandbox/pay/notification", {"out_trade_no": out_trade_no, "fault": fault})
        return built["headers"], built["body"].encode("utf-8")

    def deliver(self, headers: dict, body: bytes) -> requests.Response:
        """Post a notification to the platform's notify URL, as WeChat Pay does."""
        return self.http.post(f"{self.platform}/api/mp/v1/payments/notify", data=body, headers=headers, timeout=10)

    def _sandbox(self, path: str, body: dict) -> dict:
        response = self.http.post(f"{self.sandbox}{path}", json=body, timeout=10)
        if response.status_code >= 400:
            raise ApiError(response)
        return response.json()
