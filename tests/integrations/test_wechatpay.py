"""The WeChat Pay v3 client against the sandbox over HTTP, and the sandbox against the bare SDK."""
from __future__ import annotations

import base64
import gzip
import json
import time
from datetime import date, datetime, timedelta, timezone

import pytest
import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_public_key
from cryptography.x509 import load_pem_x509_certificate
from wechatpayv3 import WeChatPay, WeChatPayType
from wechatpayv3.utils import build_authorization, load_private_key

from server.common.timeutil import local_today, utcnow
from server.integrations.errors import OrderAlreadyPaid, PaymentGatewayError, PaymentGatewayUnavailable
from server.integrations.wechatpay import NotificationRejected, WechatPayClient
from tests.helpers import SANDBOX_TIME_SCALE as TIME_SCALE
from tests.integrations.conftest import closed_port_url, pay_client, unique_no, wait_until

pytestmark = pytest.mark.no_db


def _order(pay: WechatPayClient, *, amount_fen: int = 2000, openid: str = "oSandboxPayer0000000000000001",
           out_trade_no: str | None = None) -> tuple[str, str]:
    out_trade_no = out_trade_no or unique_no()
    prepay_id = pay.create_jsapi_order(out_trade_no=out_trade_no, description="家庭医生签约服务包个人自付",
                                       amount_fen=amount_fen, payer_openid=openid,
                                       expires_at=utcnow() + timedelta(minutes=30))
    return out_trade_no, prepay_id


def _pay(admin, out_trade_no: str, **options) -> dict:
    response = admin("POST", f"/sandbox/pay/{out_trade_no}/pay", json={"deliver": "drop", **options})
    assert response.status_code == 200, response.text
    return response.json()


def _notification(admin, out_trade_no: str, fault: str | None = None) -> tuple[dict, bytes]:
    built = admin("POST", "/sandbox/pay/notification", json={"out_trade_no": out_trade_no, "fault": fault}).json()
    return built["headers"], built["body"].encode("utf-8")


# --- orders -------------------------------------------------------------------------------------

def test_an_order_is_placed_once_for_the_same_parameters(pay):
    out_trade_no, prepay_id = _order(pay)
    assert prepay_id.startswith("wx")
    assert _order(pay, out_trade_no=out_trade_no)[1] == prepay_id
    with pytest.raises(PaymentGatewayError) as conflict:
        _order(pay, out_trade_no=out_trade_no, amount_fen=2100)
    assert (conflict.value.status, conflict.value.wechat_code) == (502, "INVALID_REQUEST")


def test_the_payment_deadline_reaches_wechat_pay_as_the_same_instant(pay, admin):
    """Sent as RFC 3339 in +08:00: a UTC time mislabelled as Beijing time would already be past."""
    def order_expiring(at: datetime) -> str:
        out_trade_no = unique_no()
        pay.create_jsapi_order(out_trade_no=out_trade_no, description="签约", amount_fen=100,
                               payer_openid="oSandboxPayer0000000000000001", expires_at=at)
        return out_trade_no

    now = utcnow()
    assert _pay(admin, order_expiring(now + timedelta(minutes=2)))["trade_state"] == "SUCCESS"
    late = admin("POST", f"/sandbox/pay/{order_expiring(now - timedelta(minutes=2))}/pay", json={"deliver": "drop"})
    assert (late.status_code, late.json()["code"]) == (409, "ORDER_EXPIRED")
    with pytest.raises(ValueError):
        order_expiring(datetime(2030, 1, 1))  # a naive time has no instant


def test_payment_params_are_signed_with_the_merchant_key(pay, sandbox_config, platform_settings):
    _, prepay_id = _order(pay)
    params = pay.request_payment_params(prepay_id)
    assert set(params) == {"timeStamp", "nonceStr", "package", "signType", "paySign"}
    assert params["package"] == f"prepay_id={prepay_id}" and params["signType"] == "RSA"
    assert abs(int(params["timeStamp"]) - time.time()) < 5
    certificate = load_pem_x509_certificate(sandbox_config.keys.merchant_certificate.read_bytes())
    message = f"{platform_settings.wechat_appid}\n{params['timeStamp']}\n{params['nonceStr']}\n{params['package']}\n"
    certificate.public_key().verify(base64.b64decode(params["paySign"]), message.encode(), padding.PKCS1v15(),
                                    hashes.SHA256())


def test_an_order_is_notpay_until_paid_then_success(pay, admin, platform_settings):
    out_trade_no, _ = _order(pay, amount_fen=2000)
    unpaid = pay.query_order(out_trade_no)
    assert (unpaid.trade_state, unpaid.transaction_id, unpaid.amount_total_fen) == ("NOTPAY", None, 2000)
    paid_at = utcnow().replace(microsecond=0)
    transaction = _pay(admin, out_trade_no)
    state = pay.query_order(out_trade_no)
    assert state.trade_state == "SUCCESS" and state.transaction_id == transaction["transaction_id"]
    assert (state.amount_total_fen, state.payer_openid) == (2000, "oSandboxPayer0000000000000001")
    assert (state.appid, state.mchid) == (platform_settings.wechat_appid, platform_settings.wechatpay_mchid)
    assert state.success_time.tzinfo == timezone.utc and abs(state.success_time - paid_at) < timedelta(seconds=5)


def test_closing_an_unpaid_order_and_closing_a_paid_one(pay, admin):
    unpaid, _ = _order(pay)
    pay.close_order(unpaid)
    assert pay.query_order(unpaid).trade_state == "CLOSED"
    paid, _ = _order(pay)
    _pay(admin, paid)
    with pytest.raises(OrderAlreadyPaid) as already:
        pay.close_order(paid)
    assert (already.value.status, already.value.code, already.value.wechat_code) == (
        409, "WECHATPAY_ORDER_PAID", "ORDERPAID")


def test_an_unknown_order_is_an_error_with_wechat_pays_code(pay):
    with pytest.raises(PaymentGatewayError) as unknown:
        pay.query_order(unique_no())
    assert unknown.value.wechat_code == "ORDER_NOT_EXIST" and unknown.value.details["wechat_message"]


# --- refunds ------------------------------------------------------------------------------------

def test_a_refund_is_processed_then_succeeds_and_is_idempotent(pay, admin):
    out_trade_no, _ = _order(pay, amount_fen=2000)
    _pay(admin, out_trade_no)
    out_refund_no = unique_no("R")
    refund = pay.refund(out_refund_no=out_refund_no, out_trade_no=out_trade_no, refund_fen=1500, total_fen=2000,
                        reason="签约取消，全额退还未服务部分")
    assert (refund.status, refund.amount_refund_fen, refund.out_refund_no) == ("PROCESSING", 1500, out_refund_no)
    again = pay.refund(out_refund_no=out_refund_no, out_trade_no=out_trade_no, refund_fen=1500, total_fen=2000,
                       reason="签约取消，全额退还未服务部分")
    assert again.refund_id == refund.refund_id
    time.sleep(5.0 * TIME_SCALE + 0.05)
    assert pay.query_refund(out_refund_no).status == "SUCCESS"
    assert pay.query_order(out_trade_no).trade_state == "REFUND"


def test_refunds_never_exceed_what_was_paid(pay, admin):
    out_trade_no, _ = _order(pay, amount_fen=2000)
    _pay(admin, out_trade_no)
    pay.refund(out_refund_no=unique_no("R"), out_trade_no=out_trade_no, refund_fen=1200, total_fen=2000, reason="部分退款")
    with pytest.raises(PaymentGatewayError) as refused:
        pay.refund(out_refund_no=unique_no("R"), out_trade_no=out_trade_no, refund_fen=801, total_fen=2000,
                   reason="超额退款")
    assert refused.value.wechat_code == "NOT_ENOUGH"
    assert pay.refund(out_refund_no=unique_no("R"), out_trade_no=out_trade_no, refund_fen=800, total_fen=2000,
                      reason="余额退款").amount_refund_fen == 800


# --- the trade bill -----------------------------------------------------------------------------

def test_the_trade_bill_lists_payments_and_refunds(pay, admin, platform_settings):
    out_trade_no, _ = _order(pay, amount_fen=12345)
    transaction = _pay(admin, out_trade_no)
    out_refund_no = unique_no("R")
    pay.refund(out_refund_no=out_refund_no, out_trade_no=out_trade_no, refund_fen=345, total_fen=12345, reason="退款")
    today = local_today()
    rows = [row for row in pay.trade_bill(today) if row.out_trade_no == out_trade_no]
    payment, refund = sorted(rows, key=lambda row: row.trade_state != "SUCCESS")
    assert (payment.trade_state, payment.total_fen, payment.refund_fen, payment.refund_id) == (
        "SUCCESS", 12345, 0, None)
    assert (payment.transaction_id, payment.appid, payment.mchid, payment.trade_type) == (
        transaction["transaction_id"], platform_settings.wechat_appid, platform_settings.wechatpay_mchid, "JSAPI")
    assert payment.openid == "oSandboxPayer0000000000000001" and payment.trade_time.tzinfo == timezone.utc
    assert (refund.trade_state, refund.total_fen, refund.refund_fen, refund.out_refund_no) == (
        "REFUND", 0, 345, out_refund_no)
    assert refund.refund_id and refund.refund_state in ("PROCESSING", "SUCCESS")
    assert [row for row in pay.trade_bill(date(2001, 1, 1))] == []


# --- the protocol itself ------------------------------------------------------------------------

def test_the_sandbox_refuses_a_tampered_request_signature(sandbox, platform_settings):
    private_key = load_private_key(open(platform_settings.wechatpay_private_key_path).read())
    path = "/v3/pay/transactions/jsapi"
    signed = json.dumps({"out_trade_no": unique_no()})
    authorization = build_authorization(path, "POST", platform_settings.wechatpay_mchid,
                                        platform_settings.wechatpay_cert_serial, private_key, data=signed)
    tampered = requests.post(sandbox.base_url + path, data=json.dumps({"out_trade_no": unique_no()}), timeout=5,
                             headers={"Authorization": authorization, "Content-Type": "application/json"})
    assert tampered.status_code == 401 and tampered.json()["code"] == "SIGN_ERROR"
    unsigned = requests.get(sandbox.base_url + "/v3/certificates", timeout=5)
    assert unsigned.status_code == 401 and unsigned.json()["code"] == "SIGN_ERROR"
    # Even the refusal is signed by the platform.
    public_key = load_pem_public_key(open(platform_settings.wechatpay_public_key_path, "rb").read())
    message = (f"{tampered.headers['Wechatpay-Timestamp']}\n{tampered.headers['Wechatpay-Nonce']}\n"
               f"{tampered.text}\n").encode()
    public_key.verify(base64.b64decode(tampered.headers["Wechatpay-Signature"]), message, padding.PKCS1v15(),
                      hashes.SHA256())


def test_answers_signed_by_another_key_are_refused(sandbox, platform_settings, sandbox_config, tmp_path):
    # The merchant's own public key stands in for "some key other than WeChat Pay's".
    certificate = load_pem_x509_certificate(sandbox_config.keys.merchant_certificate.read_bytes())
    wrong = tmp_path / "not_the_platform_key.pem"
    wrong.write_bytes(certificate.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    client = pay_client(sandbox.base_url, platform_settings, public_key_path=str(wrong))
    with pytest.raises(PaymentGatewayError) as refused:
        _order(client)
    assert refused.value.code == "WECHATPAY_BAD_SIGNATURE"


def test_an_unreachable_gateway_is_a_503(platform_settings):
    client = pay_client(closed_port_url(), platform_settings)
    with pytest.raises(PaymentGatewayUnavailable) as unavailable:
        client.query_order(unique_no())
    assert (unavailable.value.status, unavailable.value.code) == (503, "WECHATPAY_UNAVAILABLE")


# --- notifications ------------------------------------------------------------------------------

def test_a_good_notification_parses(pay, admin, platform_settings):
    out_trade_no, _ = _order(pay, amount_fen=2000)
    transaction = _pay(admin, out_trade_no)
    headers, body = _notification(admin, out_trade_no)
    event = pay.parse_notification(headers, body)
    assert set(event) == {"event_type", "id", "resource"} and event["event_type"] == "TRANSACTION.SUCCESS"
    resource = event["resource"]
    assert (resource["out_trade_no"], resource["transaction_id"], resource["trade_state"]) == (
        out_trade_no, transaction["transaction_id"], "SUCCESS")
    assert (resource["appid"], resource["mchid"]) == (platform_settings.wechat_appid, platform_settings.wechatpay_mchid)
    assert resource["amount"]["total"] == 2000 and resource["payer"]["openid"] == "oSandboxPayer0000000000000001"
    # Header names arrive in any case through proxies; they are matched case-insensitively.
    assert pay.parse_notification({k.lower(): v for k, v in headers.items()}, body)["id"] == event["id"]


@pytest.mark.parametrize(("fault", "reason"), [
    ("bad_signature", "BAD_SIGNATURE"),
    ("unknown_serial", "UNKNOWN_SERIAL"),
    ("stale_timestamp", "STALE_TIMESTAMP"),
    ("broken_tag", "BAD_CIPHERTEXT"),
])
def test_untrustworthy_notifications_are_rejected_with_the_reason(pay, admin, fault, reason):
    out_trade_no, _ = _order(pay)
    _pay(admin, out_trade_no)
    headers, body = _notification(admin, out_trade_no, fault)
    with pytest.raises(NotificationRejected) as rejected:
        pay.parse_notification(headers, body)
    assert rejected.value.reason == reason


def test_a_body_changed_after_signing_or_missing_headers_are_rejected(pay, admin):
    out_trade_no, _ = _order(pay)
    _pay(admin, out_trade_no)
    headers, body = _notification(admin, out_trade_no)
    with pytest.raises(NotificationRejected) as changed:
        pay.parse_notification(headers, body.replace(b"TRANSACTION.SUCCESS", b"TRANSACTION.SUCCESs"))
    assert changed.value.reason == "BAD_SIGNATURE"
    without = {k: v for k, v in headers.items() if k != "Wechatpay-Signature"}
    with pytest.raises(NotificationRejected) as missing:
        pay.parse_notification(without, body)
    assert missing.value.reason == "MALFORMED"


def test_our_clock_decides_staleness(sandbox, platform_settings, admin, pay):
    out_trade_no, _ = _order(pay)
    _pay(admin, out_trade_no)
    headers, body = _notification(admin, out_trade_no)
    ahead = pay_client(sandbox.base_url, platform_settings, clock=lambda: time.time() + 301)
    with pytest.raises(NotificationRejected) as rejected:
        ahead.parse_notification(headers, body)
    assert rejected.value.reason == "STALE_TIMESTAMP"


def test_wrong_amount_and_mchid_are_authentic_but_say_so(pay, admin, platform_settings):
    """These verify and decrypt; the notify endpoint must compare them with the order."""
    out_trade_no, _ = _order(pay, amount_fen=2000)
    _pay(admin, out_trade_no)
    amount = pay.parse_notification(*_notification(admin, out_trade_no, "wrong_amount"))["resource"]["amount"]
    assert amount["total"] == 2001
    mchid = pay.parse_notification(*_notification(admin, out_trade_no, "wrong_mchid"))["resource"]["mchid"]
    assert mchid != platform_settings.wechatpay_mchid


def test_a_certificate_serial_is_verified_through_the_platform_certificates(certificate_sandbox, platform_settings):
    """During a switch-over WeChat Pay signs with certificate serials; we fetch /v3/certificates."""
    client = pay_client(certificate_sandbox.base_url, platform_settings)
    out_trade_no, _ = _order(client)
    assert client.query_order(out_trade_no).trade_state == "NOTPAY"  # answers signed by certificate
    requests.post(f"{certificate_sandbox.base_url}/sandbox/pay/{out_trade_no}/pay", json={"deliver": "drop"},
                  timeout=5)
    built = requests.post(certificate_sandbox.base_url + "/sandbox/pay/notification",
                          json={"out_trade_no": out_trade_no}, timeout=5).json()
    assert built["headers"]["Wechatpay-Serial"] != platform_settings.wechatpay_public_key_id
    event = client.parse_notification(built["headers"], built["body"].encode())
    assert event["resource"]["out_trade_no"] == out_trade_no


# --- deliveries: the sandbox sends notifications on its own -------------------------------------

def _deliveries(admin, out_trade_no):
    return admin("GET", "/sandbox/pay/deliveries", params={"out_trade_no": out_trade_no}).json()["deliveries"]


def test_a_payment_notification_is_delivered_to_the_notify_url(sandbox, platform_settings, receiver, admin):
    client = pay_client(sandbox.base_url, platform_settings, notify_url=receiver.url)
    out_trade_no, _ = _order(client)
    _pay(admin, out_trade_no, deliver="normal")
    wait_until(lambda: len(receiver.received) == 1)
    headers, body = receiver.received[0]
    assert client.parse_notification(headers, body)["resource"]["out_trade_no"] == out_trade_no
    wait_until(lambda: len(_deliveries(admin, out_trade_no)) == 1)
    [delivery] = _deliveries(admin, out_trade_no)
    assert (delivery["status"], delivery["delivered"], delivery["attempt"]) == (204, True, 1)


def test_a_failed_delivery_is_retried_on_the_wechat_schedule(sandbox, platform_settings, receiver, admin):
    client = pay_client(sandbox.base_url, platform_settings, notify_url=receiver.url)
    out_trade_no, _ = _order(client)
    receiver.statuses = [500, 503]
    _pay(admin, out_trade_no, deliver="normal")
    wait_until(lambda: len(receiver.received) == 3)
    # The sandbox records an attempt after the receiver has answered it, so wait for its record too.
    wait_until(lambda: len(_deliveries(admin, out_trade_no)) == 3)
    deliveries = _deliveries(admin, out_trade_no)
    assert [(d["attempt"], d["status"], d["delivered"]) for d in deliveries] == [
        (1, 500, False), (2, 503, False), (3, 204, True)]
    # Each attempt is signed afresh, and every copy is the same notification.
    bodies = {body for _, body in receiver.received}
    nonces = {headers["Wechatpay-Nonce"] for headers, _ in receiver.received}
    assert len(bodies) == 1 and len(nonces) == 3
    times = [datetime.fromisoformat(delivery["at"]) for delivery in deliveries]
    gaps = [later - earlier for earlier, later in zip(times, times[1:])]
    assert all(gap >= timedelta(seconds=15 * TIME_SCALE) for gap in gaps)


def test_deliveries_can_be_duplicated_delayed_reordered_or_dropped(sandbox, platform_settings, receiver, admin):
    client = pay_client(sandbox.base_url, platform_settings, notify_url=receiver.url)
    duplicated, _ = _order(client)
    _pay(admin, duplicated, deliver="duplicate", copies=3)
    wait_until(lambda: len(receiver.received) == 3)
    assert len({client.parse_notification(h, b)["id"] for h, b in receiver.received}) == 1
    delayed, prompt, dropped = _order(client)[0], _order(client)[0], _order(client)[0]
    asked = time.monotonic()
    _pay(admin, delayed, deliver="normal", delay_seconds=0.3)
    _pay(admin, prompt, deliver="normal")
    _pay(admin, dropped, deliver="drop")
    wait_until(lambda: len(receiver.received) == 5)
    assert time.monotonic() - asked >= 0.3
    arrived = [client.parse_notification(h, b)["resource"]["out_trade_no"] for h, b in receiver.received[3:]]
    assert arrived == [prompt, delayed]  # paid first, notified last
    assert _deliveries(admin, dropped) == []


# --- the independent check: the SDK alone speaks to the sandbox ---------------------------------

def test_the_bare_sdk_talks_to_the_sandbox_and_verifies_its_answers(sandbox, platform_settings, admin):
    """No wrapper of ours: the SDK signs, the sandbox checks; the sandbox signs, the SDK checks."""
    settings = platform_settings
    sdk = WeChatPay(wechatpay_type=WeChatPayType.MINIPROG, mchid=settings.wechatpay_mchid,
                    private_key=open(settings.wechatpay_private_key_path).read(),
                    cert_serial_no=settings.wechatpay_cert_serial, appid=settings.wechat_appid,
                    apiv3_key=settings.wechatpay_apiv3_key, notify_url=settings.wechatpay_notify_url,
                    public_key=open(settings.wechatpay_public_key_path).read(),
                    public_key_id=settings.wechatpay_public_key_id, timeout=5)
    sdk._core._gate_way = sandbox.base_url
    out_trade_no = unique_no()
    code, text = sdk.pay(description="签约", out_trade_no=out_trade_no, amount={"total": 100},
                         payer={"openid": "oSdkPayer"})
    assert code == 200 and json.loads(text)["prepay_id"]
    _pay(admin, out_trade_no)
    code, text = sdk.query(out_trade_no=out_trade_no)
    assert code == 200 and json.loads(text)["trade_state"] == "SUCCESS"
    headers, body = _notification(admin, out_trade_no)
    assert sdk.callback(headers, body)["resource"]["out_trade_no"] == out_trade_no
    code, text = sdk.refund(out_refund_no=unique_no("R"), amount={"refund": 100, "total": 100, "currency": "CNY"},
                            out_trade_no=out_trade_no)
    assert code == 200 and json.loads(text)["status"] == "PROCESSING"
    code, text = sdk.trade_bill(bill_date=local_today().isoformat())
    assert code == 200
    code, content = sdk.download_bill(json.loads(text)["download_url"])
    assert code == 200 and out_trade_no in gzip.decompress(content).decode()
    unpaid = unique_no()
    sdk.pay(description="签约", out_trade_no=unpaid, amount={"total": 100}, payer={"openid": "oSdkPayer"})
    assert sdk.close(out_trade_no=unpaid)[0] == 204
