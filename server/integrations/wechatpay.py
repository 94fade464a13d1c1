"""WeChat Pay API v3 for a direct merchant paying through a mini-program (JSAPI).

Signing requests, verifying responses and AES-GCM are the `wechatpayv3` SDK's; this
module adds what the SDK leaves to its callers: status codes turned into errors with
WeChat Pay's own code, answers turned into typed values, the freshness of a notification's
timestamp, the reason a notification was rejected, and the trade bill's hash and format.
"""
from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import requests
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from cryptography.x509 import Certificate
from requests.structures import CaseInsensitiveDict
from wechatpayv3 import WeChatPay, WeChatPayType
from wechatpayv3.utils import aes_decrypt, rsa_verify

from server.common.timeutil import SHANGHAI
from server.integrations.errors import OrderAlreadyPaid, PaymentGatewayError, PaymentGatewayUnavailable

# WeChat Pay signs notifications with the current time; an older one may be a replay.
NOTIFICATION_MAX_AGE_SECONDS = 300
# An unknown serial makes us download the platform certificates; not more often than this,
# so forged notifications cannot make us hammer WeChat Pay.
CERTIFICATE_REFRESH_INTERVAL_SECONDS = 60
SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"


@dataclass(frozen=True)
class OrderState:
    out_trade_no: str
    trade_state: str  # SUCCESS / NOTPAY / CLOSED / REFUND / USERPAYING / PAYERROR / REVOKED
    transaction_id: str | None
    amount_total_fen: int | None
    payer_openid: str | None
    success_time: datetime | None  # UTC
    appid: str
    mchid: str


@dataclass(frozen=True)
class RefundState:
    out_refund_no: str
    refund_id: str | None
    status: str  # SUCCESS / CLOSED / PROCESSING / ABNORMAL
    amount_refund_fen: int


@dataclass(frozen=True)
class BillRow:
    """One line of the daily trade bill: a payment (`trade_state` SUCCESS) or a refund (REFUND).

    A refund line repeats its order's identifiers, has `total_fen` 0 and the refunded
    amount in `refund_fen`; a payment line has no refund identifiers and `refund_fen` 0.
    """

    trade_time: datetime  # UTC; the bill shows Beijing time
    appid: str
    mchid: str
    transaction_id: str
    out_trade_no: str
    openid: str
    trade_type: str
    trade_state: str
    total_fen: int
    refund_id: str | None
    out_refund_no: str | None
    refund_fen: int
    refund_state: str | None


class NotificationRejected(Exception):
    """A payment notification we must not trust; answer WeChat Pay 4xx with `FAIL`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # BAD_SIGNATURE / UNKNOWN_SERIAL / STALE_TIMESTAMP / BAD_CIPHERTEXT / MALFORMED


class WechatPayClient:
    def __init__(self, *, base_url: str, mchid: str, appid: str, private_key_path: str, cert_serial: str,
                 apiv3_key: str, public_key_path: str, public_key_id: str, notify_url: str,
                 timeout: float = 5.0, clock: Callable[[], float] = time.time) -> None:
        if len(apiv3_key.encode("utf-8")) != 32:
            raise ValueError("the WeChat Pay APIv3 key must be 32 bytes")
        public_key_pem = Path(public_key_path).read_text(encoding="utf-8")
        self.mchid = mchid
        self.appid = appid
        self._notify_url = notify_url
        self._apiv3_key = apiv3_key
        self._public_key_id = public_key_id
        self._public_key = load_pem_public_key(public_key_pem.encode("utf-8"))
        self._clock = clock
        # No notify_url here: the SDK would put it on refunds too, and refunds are settled by querying.
        self._sdk = WeChatPay(
            wechatpay_type=WeChatPayType.MINIPROG, mchid=mchid, appid=appid,
            private_key=Path(private_key_path).read_text(encoding="utf-8"), cert_serial_no=cert_serial,
            apiv3_key=apiv3_key, public_key=public_key_pem, public_key_id=public_key_id, timeout=timeout)
        # The SDK hard-codes the production host and has no setting for another one; the
        # sandbox (development, tests) and any proxy need `base_url`.
        self._gateway = base_url.rstrip("/")
        self._sdk._core._gate_way = self._gateway
        self._certificates_lock = threading.Lock()
        self._certificates_fetched_at = float("-inf")

    # --- orders -----------------------------------------------------------------------------

    def create_jsapi_order(self, *, out_trade_no: str, description: str, amount_fen: int, payer_openid: str,
                           expires_at: datetime) -> str:
        """Place the order and return its `prepay_id`; the same order placed again returns the same one."""
        if expires_at.tzinfo is None:
            raise ValueError("expires_at must be timezone-aware")
        answer = self._json(lambda: self._sdk.pay(
            description=description, out_trade_no=out_trade_no,
            amount={"total": amount_fen, "currency": "CNY"}, payer={"openid": payer_openid},
            time_expire=expires_at.astimezone(SHANGHAI).isoformat(timespec="seconds"),
            notify_url=self._notify_url))
        return _field(answer, "prepay_id")

    def request_payment_params(self, prepay_id: str) -> dict[str, str]:
        """The arguments of `wx.requestPayment`, signed with the merchant key."""
        timestamp = str(int(self._clock()))
        nonce = secrets.token_hex(16)
        package = f"prepay_id={prepay_id}"
        pay_sign = self._sdk.sign([self.appid, timestamp, nonce, package])
        return {"timeStamp": timestamp, "nonceStr": nonce, "package": package, "signType": "RSA",
                "paySign": pay_sign}

    def query_order(self, out_trade_no: str) -> OrderState:
        answer = self._json(lambda: self._sdk.query(out_trade_no=out_trade_no))
        amount = answer.get("amount") or {}
        success_time = answer.get("success_time")
        return OrderState(
            out_trade_no=_field(answer, "out_trade_no"), trade_state=_field(answer, "trade_state"),
            transaction_id=answer.get("transaction_id") or None, amount_total_fen=amount.get("total"),
            payer_openid=(answer.get("payer") or {}).get("openid") or None,
            success_time=_utc(success_time) if success_time else None,
            appid=_field(answer, "appid"), mchid=_field(answer, "mchid"))

    def close_order(self, out_trade_no: str) -> None:
        """Close an unpaid order; raises `OrderAlreadyPaid` when it was paid meanwhile."""
        try:
            self._call(lambda: self._sdk.close(out_trade_no=out_trade_no))
        except PaymentGatewayError as exc:
            if exc.wechat_code == "ORDERPAID":
                raise OrderAlreadyPaid(wechat_code=exc.wechat_code) from exc
            raise

    # --- refunds ----------------------------------------------------------------------------

    def refund(self, *, out_refund_no: str, out_trade_no: str, refund_fen: int, total_fen: int,
               reason: str) -> RefundState:
        """Ask for a refund; the same `out_refund_no` asked again is the same refund, never a second one."""
        answer = self._json(lambda: self._sdk.refund(
            out_refund_no=out_refund_no, out_trade_no=out_trade_no, reason=reason,
            amount={"refund": refund_fen, "total": total_fen, "currency": "CNY"}))
        return _refund_state(answer)

    def query_refund(self, out_refund_no: str) -> RefundState:
        return _refund_state(self._json(lambda: self._sdk.query_refund(out_refund_no=out_refund_no)))

    # --- the daily trade bill ---------------------------------------------------------------

    def trade_bill(self, bill_date: date) -> list[BillRow]:
        """Download the day's trade bill (all payments and refunds), check its SHA1 and parse it."""
        answer = self._json(lambda: self._sdk.trade_bill(bill_date=bill_date.isoformat(), bill_type="ALL",
                                                         tar_type="GZIP"))
        url = _field(answer, "download_url")
        if answer.get("hash_type") != "SHA1":
            raise PaymentGatewayError("账单校验方式不受支持", code="WECHATPAY_BILL_INVALID")
        # The SDK signs the download as a request to its gateway; any other host is not WeChat Pay.
        if not url.startswith(self._gateway + "/"):
            raise PaymentGatewayError("账单下载地址不可信", code="WECHATPAY_BILL_INVALID")
        compressed = self._call(lambda: self._sdk.download_bill(url))
        if not isinstance(compressed, bytes):  # the SDK hands back text only for a JSON answer
            raise PaymentGatewayError("账单文件格式有误", code="WECHATPAY_BILL_INVALID")
        try:
            content = gzip.decompress(compressed)
        except (OSError, EOFError) as exc:
            raise PaymentGatewayError("账单文件无法解压", code="WECHATPAY_BILL_INVALID") from exc
        # WeChat Pay hashes the bill as it was before compression.
        if hashlib.sha1(content).hexdigest().lower() != str(answer.get("hash_value", "")).lower():
            raise PaymentGatewayError("账单文件校验失败", code="WECHATPAY_BILL_HASH_MISMATCH")
        return parse_trade_bill(content.decode("utf-8-sig"))

    # --- notifications ----------------------------------------------------------------------

    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
        """Verify and decrypt a payment notification: `{"event_type", "id", "resource": {...}}`.

        The signature is checked before anything in the body is trusted, the signed
        timestamp must be within 5 minutes of now, and the resource must decrypt with the
        APIv3 key. Raises `NotificationRejected` with the reason otherwise.
        """
        headers = CaseInsensitiveDict(headers)
        try:
            text = body.decode("utf-8")
            timestamp = headers["Wechatpay-Timestamp"]
            nonce = headers["Wechatpay-Nonce"]
            signature = headers["Wechatpay-Signature"]
            serial = headers["Wechatpay-Serial"]
            stamped_at = int(timestamp)
        except (KeyError, ValueError) as exc:
            raise NotificationRejected("MALFORMED") from exc
        if headers.get("Wechatpay-Signature-Type", SIGNATURE_TYPE) != SIGNATURE_TYPE:
            raise NotificationRejected("MALFORMED")
        key = self._verification_key(serial)
        if key is None:
            raise NotificationRejected("UNKNOWN_SERIAL")
        if not rsa_verify(timestamp, nonce, text, signature, key):
            raise NotificationRejected("BAD_SIGNATURE")
        if abs(self._clock() - stamped_at) > NOTIFICATION_MAX_AGE_SECONDS:
            raise NotificationRejected("STALE_TIMESTAMP")
        try:
            envelope = json.loads(text)
            resource = envelope["resource"]
            event = {"event_type": envelope["event_type"], "id": envelope["id"]}
            ciphertext, resource_nonce = resource["ciphertext"], resource["nonce"]
            associated_data = resource.get("associated_data") or ""
            encrypted = (envelope.get("resource_type") == "encrypt-resource"
                         and resource.get("algorithm") == "AEAD_AES_256_GCM")
        except (ValueError, KeyError, TypeError) as exc:
            raise NotificationRejected("MALFORMED") from exc
        if not encrypted:
            raise NotificationRejected("MALFORMED")
        try:
            plaintext = aes_decrypt(nonce=resource_nonce, ciphertext=ciphertext, associated_data=associated_data,
                                    apiv3_key=self._apiv3_key)
        except ValueError as exc:  # bad base64 or nonce length
            raise NotificationRejected("BAD_CIPHERTEXT") from exc
        if plaintext is None:  # the SDK's answer to a failed GCM tag
            raise NotificationRejected("BAD_CIPHERTEXT")
        try:
            decrypted = json.loads(plaintext)
        except ValueError as exc:
            raise NotificationRejected("MALFORMED") from exc
        if not isinstance(decrypted, dict):
            raise NotificationRejected("MALFORMED")
        return {**event, "resource": decrypted}

    def _verification_key(self, serial: str) -> RSAPublicKey | None:
        """The WeChat Pay public key for its ID, else a platform certificate (during a switch-over)."""
        if serial == self._public_key_id:
            return self._public_key
        try:
            number = int(serial, 16)  # certificate serials are hexadecimal
        except ValueError:
            return None
        with self._certificates_lock:
            certificate = self._certificate(number)
            if certificate is None and self._clock() - self._certificates_fetched_at >= \
                    CERTIFICATE_REFRESH_INTERVAL_SECONDS:
                self._certificates_fetched_at = self._clock()
                try:
                    # The SDK's own download, decryption and validity check of /v3/certificates.
                    self._sdk._core._update_certificates()
                except requests.RequestException as exc:
                    raise PaymentGatewayUnavailable() from exc
                certificate = self._certificate(number)
        return certificate.public_key() if certificate is not None else None

    def _certificate(self, serial_number: int) -> Certificate | None:
        return next((c for c in self._sdk._core._certificates if c.serial_number == serial_number), None)

    # --- calling the SDK ----------------------------------------------------------------------

    def _call(self, request: Callable[[], tuple[int, str | bytes]]) -> str | bytes:
        """Run one SDK request and turn every failure into our error; returns the 2xx body."""
        try:
            status, body = request()
        except requests.RequestException as exc:
            raise PaymentGatewayUnavailable() from exc
        except Exception as exc:
            # The SDK raises a bare Exception when a 2xx answer fails signature verification;
            # anything more specific is a bug of ours and must surface as such.
            if type(exc) is not Exception:
                raise
            raise PaymentGatewayError("微信支付应答验签失败", code="WECHATPAY_BAD_SIGNATURE") from exc
        if 200 <= status < 300:
            return body
        error = _error_body(body)
        cls = PaymentGatewayUnavailable if status >= 500 else PaymentGatewayError
        raise cls(wechat_code=error.get("code"), wechat_message=error.get("message"))

    def _json(self, request: Callable[[], tuple[int, str | bytes]]) -> dict[str, Any]:
        body = self._call(request)
        try:
            answer = json.loads(body)
        except ValueError as exc:
            raise PaymentGatewayError("微信支付应答格式有误", code="WECHATPAY_MALFORMED") from exc
        if not isinstance(answer, dict):
            raise PaymentGatewayError("微信支付应答格式有误", code="WECHATPAY_MALFORMED")
        return answer


# --- parsing ---------------------------------------------------------------------------------

_BILL_COLUMNS = {
    "trade_time": "交易时间", "appid": "公众账号ID", "mchid": "商户号", "transaction_id": "微信订单号",
    "out_trade_no": "商户订单号", "openid": "用户标识", "trade_type": "交易类型", "trade_state": "交易状态",
    "total": "订单金额", "refund_id": "微信退款单号", "out_refund_no": "商户退款单号", "refund": "退款金额",
    "refund_state": "退款状态",
}
_SUMMARY_HEADER = "总交易单数"


def parse_trade_bill(text: str) -> list[BillRow]:
    """Parse the trade bill: a header row, detail rows, then a summary header and summary row.

    Every detail value starts with a backtick (so spreadsheets keep long numbers intact);
    columns are found by their header, as WeChat Pay reserves the right to reorder them.
    """
    lines = list(csv.reader(io.StringIO(text)))
    if not lines:
        raise PaymentGatewayError("账单文件为空", code="WECHATPAY_BILL_INVALID")
    header = [cell.strip() for cell in lines[0]]
    try:
        index = {field: header.index(title) for field, title in _BILL_COLUMNS.items()}
    except ValueError as exc:
        raise PaymentGatewayError("账单表头不符合约定", code="WECHATPAY_BILL_INVALID") from exc
    rows = []
    for line in lines[1:]:
        if not line:
            continue
        if line[0].strip() == _SUMMARY_HEADER:
            break
        cells = [cell.strip().removeprefix("`") for cell in line]
        try:
            value = {field: cells[position] for field, position in index.items()}
            rows.append(BillRow(
                trade_time=datetime.strptime(value["trade_time"], "%Y-%m-%d %H:%M:%S")
                .replace(tzinfo=SHANGHAI).astimezone(timezone.utc),
                appid=value["appid"], mchid=value["mchid"], transaction_id=value["transaction_id"],
                out_trade_no=value["out_trade_no"], openid=value["openid"], trade_type=value["trade_type"],
                trade_state=value["trade_state"], total_fen=_fen(value["total"]),
                refund_id=_optional_id(value["refund_id"]), out_refund_no=_optional_id(value["out_refund_no"]),
                refund_fen=_fen(value["refund"]), refund_state=value["refund_state"] or None))
        except (IndexError, ValueError, InvalidOperation) as exc:
            raise PaymentGatewayError("账单明细格式有误", code="WECHATPAY_BILL_INVALID") from exc
    return rows


def _fen(yuan: str) -> int:
    """`12.34` → 1234; the bill shows yuan with two decimals."""
    return int((Decimal(yuan or "0") * 100).to_integral_exact())


def _optional_id(value: str) -> str | None:
    # A payment line shows `0` where a refund line has its refund identifiers.
    return None if value in ("", "0") else value


def _utc(rfc3339: str) -> datetime:
    try:
        moment = datetime.fromisoformat(rfc3339)
    except ValueError as exc:
        raise PaymentGatewayError("微信支付应答时间格式有误", code="WECHATPAY_MALFORMED") from exc
    if moment.tzinfo is None:
        raise PaymentGatewayError("微信支付应答时间缺少时区", code="WECHATPAY_MALFORMED")
    return moment.astimezone(timezone.utc)


def _field(answer: dict[str, Any], name: str) -> Any:
    value = answer.get(name)
    if value in (None, ""):
        raise PaymentGatewayError("微信支付应答缺少必要字段", code="WECHATPAY_MALFORMED")
    return value


def _refund_state(answer: dict[str, Any]) -> RefundState:
    amount = answer.get("amount") or {}
    refund = amount.get("refund")
    if not isinstance(refund, int):
        raise PaymentGatewayError("微信支付应答缺少必要字段", code="WECHATPAY_MALFORMED")
    return RefundState(out_refund_no=_field(answer, "out_refund_no"), refund_id=answer.get("refund_id") or None,
                       status=_field(answer, "status"), amount_refund_fen=refund)


def _error_body(body: str | bytes) -> dict[str, Any]:
    """WeChat Pay's `{"code", "message"}` error body, or nothing when the body is something else."""
    try:
        error = json.loads(body)
    except ValueError:
        return {}
    return error if isinstance(error, dict) else {}
