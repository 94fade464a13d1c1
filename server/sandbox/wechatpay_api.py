"""WeChat Pay API v3 as the sandbox serves it, for one direct merchant and its mini-program.

Every `/v3` request must carry the merchant's signature (else 401 `SIGN_ERROR`) and every
answer is signed with the platform key; errors are `{"code", "message"}` with WeChat Pay's
codes. `/sandbox/pay/...` is not WeChat Pay's: it plays the payer (pay an order, which
sends the notification), builds faulty notifications for tests, and lists deliveries.
"""
from __future__ import annotations

import base64
import csv
import gzip
import hashlib
import io
import json
import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from cryptography.x509 import load_pem_x509_certificate
from flask import Blueprint, Response, jsonify, request
from flask.typing import ResponseReturnValue

from server.common.timeutil import SHANGHAI, utcnow
from server.sandbox import wechatpay_crypto
from server.sandbox.config import SandboxConfig
from server.sandbox.notifier import Notifier

REFUND_PROCESSING_SECONDS = 5.0  # before a refund turns SUCCESS, times the sandbox's time_scale
STALE_BY_SECONDS = 600
UNKNOWN_SERIAL = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
NOTIFICATION_FAULTS = frozenset({"bad_signature", "unknown_serial", "stale_timestamp", "broken_tag", "wrong_amount",
                                 "wrong_mchid"})
_OUT_TRADE_NO = re.compile(r"^[A-Za-z0-9_\-|*]{6,32}$")
_OUT_REFUND_NO = re.compile(r"^[A-Za-z0-9_\-|*@]{1,64}$")
_STATE_DESC = {"NOTPAY": "订单未支付", "SUCCESS": "支付成功", "CLOSED": "订单已关闭", "REFUND": "转入退款"}
_PAID = ("SUCCESS", "REFUND")

_BILL_HEADER = ("交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,"
                "货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,"
                "商户数据包,手续费,费率,订单金额,申请退款金额,费率备注").split(",")
_BILL_SUMMARY_HEADER = "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额".split(",")


class PayError(Exception):
    """An error answer in WeChat Pay's shape."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(code)
        self.status, self.code, self.message = status, code, message


@dataclass
class _Order:
    request: dict[str, Any]  # the JSAPI body as placed, to tell a repeat from a conflicting reuse
    prepay_id: str
    trade_state: str = "NOTPAY"
    transaction_id: str | None = None
    success_time: datetime | None = None

    @property
    def total(self) -> int:
        return self.request["amount"]["total"]


@dataclass
class _Refund:
    request: dict[str, Any]
    order: _Order
    refund_id: str
    created_at: datetime
    settles_at: datetime  # when PROCESSING becomes SUCCESS

    @property
    def refund(self) -> int:
        return self.request["amount"]["refund"]

    def status(self) -> str:
        return "SUCCESS" if utcnow().astimezone(SHANGHAI) >= self.settles_at else "PROCESSING"


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).isoformat(timespec="seconds")


def _is_rfc3339(value: Any) -> bool:
    try:
        return datetime.fromisoformat(value).tzinfo is not None
    except (TypeError, ValueError):
        return False


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def _admin_error(message: str, status: int = 400, code: str = "INVALID_REQUEST") -> ResponseReturnValue:
    return jsonify(code=code, message=message), status


class WechatPaySandbox:
    def __init__(self, config: SandboxConfig) -> None:
        self._config = config
        self._verifier = wechatpay_crypto.MerchantVerifier(config.keys, config.mchid)
        self._signer = wechatpay_crypto.PlatformSigner(config.keys, config.signing_serial())
        self._notifier = Notifier(self._signer.headers, config.time_scale)
        self._lock = threading.Lock()
        self._orders: dict[str, _Order] = {}
        self._refunds: dict[str, _Refund] = {}
        self._bills: dict[str, bytes] = {}

    def stop(self) -> None:
        """Cancel notification deliveries still waiting for their turn."""
        self._notifier.stop()

    def blueprints(self) -> list[Blueprint]:
        api = Blueprint("sandbox_wechatpay", __name__, url_prefix="/v3")
        api.before_request(self._authenticate)
        api.after_request(self._sign)
        api.register_error_handler(PayError, self._error)
        api.post("/pay/transactions/jsapi")(self._jsapi)
        api.get("/pay/transactions/out-trade-no/<out_trade_no>")(self._query)
        api.post("/pay/transactions/out-trade-no/<out_trade_no>/close")(self._close)
        api.post("/refund/domestic/refunds")(self._refund)
        api.get("/refund/domestic/refunds/<out_refund_no>")(self._query_refund)
        api.get("/bill/tradebill")(self._trade_bill)
        api.get("/billdownload/file")(self._download_bill)
        api.get("/certificates")(self._certificates)

        admin = Blueprint("sandbox_pay_admin", __name__, url_prefix="/sandbox/pay")
        admin.post("/<out_trade_no>/pay")(self._admin_pay)
        admin.post("/notification")(self._admin_notification)
        admin.get("/deliveries")(self._admin_deliveries)
        return [api, admin]

    # --- protocol: every request signed by the merchant, every answer by the platform ------

    def _authenticate(self) -> None:
        # The merchant signed the path and query exactly as sent; werkzeug's server keeps them raw.
        url = request.environ.get("REQUEST_URI") or request.full_path.rstrip("?")
        problem = self._verifier.problem(request.headers.get("Authorization", ""), request.method, url,
                                         request.get_data(as_text=True))
        if problem is not None:
            raise PayError(401, "SIGN_ERROR", problem)

    def _sign(self, response: Response) -> Response:
        # Bill files are the exception, as at WeChat Pay: their hash stands in for a signature.
        if request.endpoint == "sandbox_wechatpay._download_bill" and response.status_code == 200:
            return response
        response.headers.update(self._signer.headers(response.get_data(as_text=True)))
        response.headers["Request-ID"] = uuid.uuid4().hex
        response.mimetype = "application/json"
        return response

    def _error(self, error: PayError) -> ResponseReturnValue:
        return jsonify(code=error.code, message=error.message), error.status

    @staticmethod
    def _body() -> dict[str, Any]:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise PayError(400, "PARAM_ERROR", "请求体须为 JSON 对象")
        return body

    def _order(self, out_trade_no: str) -> _Order:
        order = self._orders.get(out_trade_no)
        if order is None:
            raise PayError(404, "ORDER_NOT_EXIST", "订单不存在")
        return order

    # --- orders -------------------------------------------------------------------------------

    def _jsapi(self) -> ResponseReturnValue:
        body = self._body()
        self._check_order_request(body)
        with self._lock:
            order = self._orders.get(body["out_trade_no"])
            if order is None:
                prepay_id = f"wx{utcnow().astimezone(SHANGHAI):%d%H%M%S}{secrets.token_hex(13)}"
                order = self._orders[body["out_trade_no"]] = _Order(request=body, prepay_id=prepay_id)
            elif order.request != body:
                raise PayError(400, "INVALID_REQUEST", "商户订单号重复，且请求参数与原订单不一致")
            elif order.trade_state in _PAID:
                raise PayError(400, "ORDERPAID", "该订单已支付")
            elif order.trade_state == "CLOSED":
                raise PayError(400, "ORDER_CLOSED", "订单已关闭")
            return jsonify(prepay_id=order.prepay_id)

    def _check_order_request(self, body: dict[str, Any]) -> None:
        if body.get("appid") != self._config.appid or body.get("mchid") != self._config.mchid:
            raise PayError(400, "APPID_MCHID_NOT_MATCH", "appid 和 mchid 不匹配")
        amount, payer, description = body.get("amount"), body.get("payer"), body.get("description")
        valid = {
            "description": isinstance(description, str) and 0 < len(description) <= 127,
            "out_trade_no": isinstance(body.get("out_trade_no"), str)
            and _OUT_TRADE_NO.match(body["out_trade_no"]) is not None,
            "notify_url": isinstance(body.get("notify_url"), str)
            and body["notify_url"].startswith(("http://", "https://")),
            "amount": isinstance(amount, dict) and type(amount.get("total")) is int and amount["total"] > 0
            and amount.get("currency", "CNY") == "CNY",
            "payer": isinstance(payer, dict) and isinstance(payer.get("openid"), str) and payer["openid"] != "",
            "time_expire": "time_expire" not in body or _is_rfc3339(body["time_expire"]),
        }
        wrong = [name for name, ok in valid.items() if not ok]
        if wrong:
            raise PayError(400, "PARAM_ERROR", "参数错误：" + "、".join(wrong))

    def _query(self, out_trade_no: str) -> ResponseReturnValue:
        if request.args.get("mchid") != self._config.mchid:
            raise PayError(400, "PARAM_ERROR", "mchid 与商户号不一致")
        with self._lock:
            return jsonify(self._transaction(self._order(out_trade_no)))

    def _close(self, out_trade_no: str) -> ResponseReturnValue:
        if self._body().get("mchid") != self._config.mchid:
            raise PayError(400, "PARAM_ERROR", "mchid 与商户号不一致")
        with self._lock:
            order = self._order(out_trade_no)
            if order.trade_state in _PAID:
                raise PayError(400, "ORDERPAID", "订单已支付")
            order.trade_state = "CLOSED"
        return "", 204

    def _transaction(self, order: _Order) -> dict[str, Any]:
        """The transaction object, as the query answers it and a notification carries it."""
        placed = order.request
        transaction: dict[str, Any] = {
            "appid": placed["appid"], "mchid": placed["mchid"], "out_trade_no": placed["out_trade_no"],
            "trade_state": order.trade_state, "trade_state_desc": _STATE_DESC[order.trade_state],
            "attach": placed.get("attach", ""), "amount": {"total": order.total, "currency": "CNY",
                                                            "payer_currency": "CNY"},
        }
        if order.transaction_id is not None and order.success_time is not None:
            transaction.update(transaction_id=order.transaction_id, trade_type="JSAPI", bank_type="OTHERS",
                               success_time=_rfc3339(order.success_time), payer={"openid": placed["payer"]["openid"]})
            transaction["amount"]["payer_total"] = order.total
        return transaction

    # --- refunds ------------------------------------------------------------------------------

    def _refund(self) -> ResponseReturnValue:
        body = self._body()
        amount = body.get("amount")
        if not (isinstance(body.get("out_refund_no"), str) and _OUT_REFUND_NO.match(body["out_refund_no"])
                and isinstance(amount, dict) and type(amount.get("refund")) is int and amount["refund"] > 0
                and type(amount.get("total")) is int and amount.get("currency", "CNY") == "CNY"):
            raise PayError(400, "PARAM_ERROR", "参数错误：out_refund_no 或 amount")
        with self._lock:
            transaction_id = body.get("transaction_id")
            order = self._orders.get(body.get("out_trade_no", "")) or next(
                (o for o in self._orders.values() if transaction_id and o.transaction_id == transaction_id), None)
            if order is None:
                raise PayError(404, "RESOURCE_NOT_EXISTS", "订单不存在")
            existing = self._refunds.get(body["out_refund_no"])
            if existing is not None:
                if existing.request != body:
                    raise PayError(400, "INVALID_REQUEST", "退款单号重复，且请求参数与原退款单不一致")
                return jsonify(self._refund_object(existing))
            if order.trade_state not in _PAID:
                raise PayError(400, "INVALID_REQUEST", "订单未支付，不能退款")
            if amount["total"] != order.total:
                raise PayError(400, "PARAM_ERROR", "订单金额与原订单不一致")
            refunded = sum(r.refund for r in self._refunds.values() if r.order is order)
            if refunded + amount["refund"] > order.total:
                raise PayError(400, "NOT_ENOUGH", "退款金额超过订单可退金额")
            now = utcnow().astimezone(SHANGHAI)
            refund = self._refunds[body["out_refund_no"]] = _Refund(
                request=body, order=order, refund_id=f"50{secrets.randbelow(10**30):030d}", created_at=now,
                settles_at=now + timedelta(seconds=REFUND_PROCESSING_SECONDS * self._config.time_scale))
            order.trade_state = "REFUND"
            return jsonify(self._refund_object(refund))

    def _query_refund(self, out_refund_no: str) -> ResponseReturnValue:
        with self._lock:
            refund = self._refunds.get(out_refund_no)
            if refund is None:
                raise PayError(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
            return jsonify(self._refund_object(refund))

    @staticmethod
    def _refund_object(refund: _Refund) -> dict[str, Any]:
        status = refund.status()
        answer: dict[str, Any] = {
            "refund_id": refund.refund_id, "out_refund_no": refund.request["out_refund_no"],
            "transaction_id": refund.order.transaction_id, "out_trade_no": refund.order.request["out_trade_no"],
            "channel": "ORIGINAL", "user_received_account": "支付用户零钱", "create_time": _rfc3339(refund.created_at),
            "status": status, "funds_account": "AVAILABLE",
            "amount": {"total": refund.order.total, "refund": refund.refund, "payer_total": refund.order.total,
                       "payer_refund": refund.refund, "settlement_total": refund.order.total,
                       "settlement_refund": refund.refund, "discount_refund": 0, "currency": "CNY"},
        }
        if status == "SUCCESS":
            answer["success_time"] = _rfc3339(refund.settles_at)
        return answer

    # --- the trade bill -----------------------------------------------------------------------

    def _trade_bill(self) -> ResponseReturnValue:
        try:
            bill_date = date.fromisoformat(request.args.get("bill_date", ""))
        except ValueError:
            raise PayError(400, "PARAM_ERROR", "bill_date 格式应为 yyyy-MM-dd") from None
        if request.args.get("bill_type", "ALL") != "ALL":
            raise PayError(400, "PARAM_ERROR", "沙箱仅提供 ALL 类型的交易账单")
        tar_type = request.args.get("tar_type")
        if tar_type not in (None, "GZIP"):
            raise PayError(400, "PARAM_ERROR", "tar_type 仅支持 GZIP")
        with self._lock:
            content = self._bill_text(bill_date).encode("utf-8")
            token = secrets.token_urlsafe(24)
            self._bills[token] = gzip.compress(content) if tar_type == "GZIP" else content
        # The hash is of the bill itself, before any compression.
        return jsonify(hash_type="SHA1", hash_value=hashlib.sha1(content).hexdigest(),
                       download_url=f"{request.host_url}v3/billdownload/file?token={token}")

    def _download_bill(self) -> ResponseReturnValue:
        with self._lock:
            content = self._bills.get(request.args.get("token", ""))
        if content is None:
            raise PayError(404, "RESOURCE_NOT_EXISTS", "账单文件不存在或下载地址已失效")
        return Response(content, mimetype="application/octet-stream")

    def _bill_text(self, bill_date: date) -> str:
        """The day's payments (by success time) and refunds (by acceptance time), Beijing dates."""
        def on_day(moment: datetime) -> bool:
            return moment.astimezone(SHANGHAI).date() == bill_date

        payments = [(order, order.success_time) for order in self._orders.values()
                    if order.success_time is not None and on_day(order.success_time)]
        refunds = [refund for refund in self._refunds.values() if on_day(refund.created_at)]
        lines = [self._bill_line(order, paid_at, "SUCCESS", order.total, None) for order, paid_at in payments]
        lines += [self._bill_line(refund.order, refund.created_at, "REFUND", 0, refund) for refund in refunds]
        paid, refunded = sum(order.total for order, _ in payments), sum(refund.refund for refund in refunds)
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(_BILL_HEADER)
        writer.writerows(["`" + cell for cell in line] for line in lines)
        writer.writerow(_BILL_SUMMARY_HEADER)
        writer.writerow("`" + cell for cell in (str(len(lines)), _yuan(paid), _yuan(refunded), "0.00", "0.00000",
                                                _yuan(paid), _yuan(refunded)))
        return out.getvalue()

    @staticmethod
    def _bill_line(order: _Order, at: datetime, state: str, total: int, refund: _Refund | None) -> list[str]:
        placed = order.request
        refund_fen = refund.refund if refund is not None else 0
        return [
            at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S"), placed["appid"], placed["mchid"], "0", "",
            order.transaction_id or "", placed["out_trade_no"], placed["payer"]["openid"], "JSAPI", state, "OTHERS",
            "CNY", _yuan(total), "0.00", refund.refund_id if refund else "0",
            refund.request["out_refund_no"] if refund else "0", _yuan(refund_fen), "0.00",
            "ORIGINAL" if refund else "", refund.status() if refund else "", placed["description"],
            placed.get("attach", ""), "0.00000", "0.60%", _yuan(total), _yuan(refund_fen), "",
        ]

    # --- platform certificates (for merchants still verifying by certificate) -------------------

    def _certificates(self) -> ResponseReturnValue:
        pem = self._config.keys.platform_certificate.read_text(encoding="utf-8")
        certificate = load_pem_x509_certificate(pem.encode())
        return jsonify(data=[{
            "serial_no": self._config.keys.platform_cert_serial(),
            "effective_time": _rfc3339(certificate.not_valid_before_utc),
            "expire_time": _rfc3339(certificate.not_valid_after_utc),
            "encrypt_certificate": wechatpay_crypto.encrypt(self._config.apiv3_key, pem, "certificate"),
        }])

    # --- the payer's side and test controls ---------------------------------------------------

    def _admin_pay(self, out_trade_no: str) -> ResponseReturnValue:
        """The resident pays: SUCCESS now, then the notification, unless `deliver` says otherwise."""
        body = request.get_json(silent=True) or {}
        deliver = body.get("deliver", "normal")
        copies = body.get("copies", 2) if deliver == "duplicate" else 1
        delay = body.get("delay_seconds", 0)
        if deliver not in ("normal", "drop", "duplicate") or type(copies) is not int or copies < 1 \
                or not isinstance(delay, (int, float)) or delay < 0:
            return _admin_error("deliver: normal | drop | duplicate; copies ≥ 1; delay_seconds ≥ 0")
        with self._lock:
            order = self._orders.get(out_trade_no)
            if order is None:
                return _admin_error("订单不存在", 404, "ORDER_NOT_EXIST")
            expire = order.request.get("time_expire")
            if order.trade_state != "NOTPAY":
                return _admin_error(f"订单状态为 {order.trade_state}，不能支付", 409, "ORDER_NOT_PAYABLE")
            if expire and utcnow().astimezone(SHANGHAI) > datetime.fromisoformat(expire):
                return _admin_error("订单已超过支付截止时间", 409, "ORDER_EXPIRED")
            order.trade_state = "SUCCESS"
            order.transaction_id = f"4200{secrets.randbelow(10**24):024d}"
            order.success_time = utcnow().astimezone(SHANGHAI)
            transaction = self._transaction(order)
            notify_url = order.request["notify_url"]
        if deliver != "drop":
            self._notifier.send(out_trade_no, url=notify_url, body=self._notification_body(transaction),
                                copies=copies, delay_seconds=delay)
        return jsonify(transaction)

    def _admin_notification(self) -> ResponseReturnValue:
        """A notification for a paid order, built with the fault asked for, returned unsent."""
        body = request.get_json(silent=True) or {}
        fault = body.get("fault")
        if fault is not None and fault not in NOTIFICATION_FAULTS:
            return _admin_error("fault: null | " + " | ".join(sorted(NOTIFICATION_FAULTS)))
        with self._lock:
            order = self._orders.get(str(body.get("out_trade_no", "")))
            if order is None:
                return _admin_error("订单不存在", 404, "ORDER_NOT_EXIST")
            if order.transaction_id is None:
                return _admin_error("订单尚未支付", 409, "ORDER_NOT_PAID")
            transaction = self._transaction(order)
        if fault == "wrong_amount":
            transaction["amount"]["total"] += 1
            transaction["amount"]["payer_total"] += 1
        if fault == "wrong_mchid":
            transaction["mchid"] = str(int(self._config.mchid) + 1)
        text = self._notification_body(transaction, broken_tag=fault == "broken_tag")
        headers = self._signer.headers(
            text, timestamp=int(time.time()) - STALE_BY_SECONDS if fault == "stale_timestamp" else None,
            serial=UNKNOWN_SERIAL if fault == "unknown_serial" else None,
            signed_body=text + " " if fault == "bad_signature" else None)
        return jsonify(headers={"Content-Type": "application/json", **headers}, body=text)

    def _admin_deliveries(self) -> ResponseReturnValue:
        return jsonify(deliveries=self._notifier.attempts(request.args.get("out_trade_no", "")))

    def _notification_body(self, transaction: dict[str, Any], *, broken_tag: bool = False) -> str:
        # A notification is about the payment, whatever happened to the order since.
        plaintext = json.dumps({**transaction, "trade_state": "SUCCESS", "trade_state_desc": _STATE_DESC["SUCCESS"]},
                               ensure_ascii=False, separators=(",", ":"))
        resource = wechatpay_crypto.encrypt(self._config.apiv3_key, plaintext, "transaction")
        if broken_tag:
            resource["ciphertext"] = _flip_last_byte(resource["ciphertext"])
        envelope = {
            "id": str(uuid.uuid4()), "create_time": _rfc3339(utcnow().astimezone(SHANGHAI)),
            "resource_type": "encrypt-resource", "event_type": "TRANSACTION.SUCCESS", "summary": "支付成功",
            "resource": {"original_type": "transaction", **resource},
        }
        return json.dumps(envelope, ensure_ascii=False, separators=(",", ":"))


def _flip_last_byte(ciphertext_b64: str) -> str:
    raw = bytearray(base64.b64decode(ciphertext_b64))
    raw[-1] ^= 0x01  # the last byte belongs to the GCM tag
    return base64.b64encode(bytes(raw)).decode()
