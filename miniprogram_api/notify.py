"""WeChat Pay's payment notifications (支付结果通知).

Answers in WeChat Pay's own protocol, not our error shape: 204 when handled (also for a
repeat), 4xx/5xx with `{"code": "FAIL", "message": …}` otherwise, so WeChat retries.
"""
import structlog
from flask import Blueprint, jsonify, request

from server.errors import DomainError
from server.integrations import registry
from server.integrations.wechatpay import NotificationRejected
from server.payments import services as payments

log = structlog.get_logger(__name__)
blp = Blueprint("mp_notify", __name__, url_prefix="/api/mp/v1")


def _fail(status: int, message: str):
    return jsonify(code="FAIL", message=message), status


@blp.post("/payments/notify")
def wechatpay_notify():
    wechatpay = registry.wechatpay()
    try:
        notification = wechatpay.parse_notification(request.headers, request.get_data())
    except NotificationRejected as rejected:
        log.warning("notification_rejected", reason=rejected.reason)
        return _fail(401, f"通知验证失败：{rejected.reason}")
    if notification.get("event_type") != "TRANSACTION.SUCCESS":
        return "", 204
    try:
        payments.handle_notification(wechatpay, notification["resource"])
    except DomainError as error:
        return _fail(400, error.message)
    except Exception:
        log.exception("notification_failed")
        return _fail(500, "处理失败，请重试")
    return "", 204
