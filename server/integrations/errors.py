"""Errors of the outside services, each with a stable code and a Chinese message.

The codes are what the mini-program and the admin console switch on; the messages are
shown to residents and staff. Raw exceptions of `requests` or of the WeChat Pay SDK never
leave the clients: a network failure is a 503 with a clear message, a bad answer a 502.
"""
from __future__ import annotations

from typing import Any

from server.common import pii
from server.errors import DomainError


class IntegrationError(DomainError):
    """An outside service failed or answered something we cannot use."""

    status = 502
    code = "INTEGRATION_ERROR"
    message = "外部服务异常，请稍后再试"


# --- WeChat (mini-program server API) ---------------------------------------------------

class WechatError(IntegrationError):
    """WeChat answered with an `errcode` we have no more specific error for."""

    code = "WECHAT_ERROR"
    message = "微信服务异常，请稍后再试"

    def __init__(self, message: str | None = None, *, errcode: int | None = None, errmsg: str | None = None,
                 code: str | None = None) -> None:
        details: dict[str, Any] = {}
        if errcode is not None:
            details["errcode"] = errcode
        if errmsg:
            details["errmsg"] = errmsg
        super().__init__(message, code=code, details=details)
        self.errcode = errcode


class WechatCodeInvalid(WechatError):
    status = 422
    code = "WECHAT_CODE_INVALID"
    message = "登录凭证无效，请重新登录"


class WechatCodeUsed(WechatError):
    status = 422
    code = "WECHAT_CODE_USED"
    message = "登录凭证已使用，请重新登录"


class WechatRateLimited(WechatError):
    status = 429
    code = "WECHAT_RATE_LIMITED"
    message = "微信接口调用过于频繁，请稍后再试"


class WechatBusy(WechatError):
    status = 503
    code = "WECHAT_BUSY"
    message = "微信系统繁忙，请稍后再试"


class WechatUnavailable(WechatError):
    """The network failed or timed out before WeChat answered."""

    status = 503
    code = "WECHAT_UNAVAILABLE"
    message = "暂时无法连接微信服务，请稍后再试"


class WechatTokenInvalid(WechatError):
    """The access token was refused even after one refresh."""

    code = "WECHAT_TOKEN_INVALID"
    message = "微信接口调用凭证无效，请稍后再试"


class SubscriptionRefused(WechatError):
    """The resident refused this template (43101): never retry, record the refusal."""

    status = 422
    code = "WECHAT_SUBSCRIBE_REFUSED"
    message = "用户未订阅或已拒绝接收该类消息"


_WECHAT_ERRORS: dict[int, type[WechatError]] = {
    40029: WechatCodeInvalid,
    40163: WechatCodeUsed,
    45011: WechatRateLimited,
    -1: WechatBusy,
    43101: SubscriptionRefused,
    40001: WechatTokenInvalid,
    42001: WechatTokenInvalid,
}


def wechat_error(errcode: int, errmsg: str | None) -> WechatError:
    """Our error for a WeChat `errcode` (0 is success and never comes here)."""
    return _WECHAT_ERRORS.get(errcode, WechatError)(errcode=errcode, errmsg=errmsg)


# --- WeChat Pay v3 -----------------------------------------------------------------------

class PaymentGatewayError(IntegrationError):
    """WeChat Pay refused a request or answered something unverifiable.

    `wechat_code` is WeChat Pay's own error code (e.g. `NOT_ENOUGH`, `ORDER_NOT_EXIST`),
    kept so callers can tell a refused refund from an unknown order.
    """

    code = "WECHATPAY_ERROR"
    message = "微信支付服务异常，请稍后再试"

    def __init__(self, message: str | None = None, *, wechat_code: str | None = None,
                 wechat_message: str | None = None, code: str | None = None) -> None:
        details: dict[str, Any] = {}
        if wechat_code:
            details["wechat_code"] = wechat_code
        if wechat_message:
            details["wechat_message"] = wechat_message
        super().__init__(message, code=code, details=details)
        self.wechat_code = wechat_code


class PaymentGatewayUnavailable(PaymentGatewayError):
    """No answer (network, timeout) or a 5xx from WeChat Pay: safe to retry later."""

    status = 503
    code = "WECHATPAY_UNAVAILABLE"
    message = "暂时无法连接微信支付，请稍后再试"


class OrderAlreadyPaid(PaymentGatewayError):
    """Closing an order that was paid meanwhile (`ORDERPAID`): settle it instead."""

    status = 409
    code = "WECHATPAY_ORDER_PAID"
    message = "订单已支付，无法关闭"


# --- Provincial medical-insurance platform -----------------------------------------------

class InsurancePlatformError(IntegrationError):
    """The platform answered `infcode` -1 or something we cannot read."""

    code = "INSURANCE_PLATFORM_ERROR"
    message = "医保信息平台返回错误，请稍后再试"

    def __init__(self, message: str | None = None, *, infcode: int | None = None, err_msg: str | None = None,
                 code: str | None = None) -> None:
        # The platform may echo an ID number in err_msg; errors end up in logs and answers.
        safe_err_msg = pii.scrub(err_msg) if err_msg else None
        details: dict[str, Any] = {}
        if infcode is not None:
            details["infcode"] = infcode
        if safe_err_msg:
            details["err_msg"] = safe_err_msg
        super().__init__(message, code=code, details=details)
        self.infcode = infcode
        self.err_msg = safe_err_msg


class InsurancePlatformUnavailable(InsurancePlatformError):
    status = 503
    code = "INSURANCE_PLATFORM_UNAVAILABLE"
    message = "暂时无法连接医保信息平台，请稍后再试"


class InsuredPersonNotFound(DomainError):
    """The platform knows no insured person with this ID number: an answer, not a failure."""

    status = 422
    code = "INSURED_PERSON_NOT_FOUND"
    message = "未查询到参保信息"


class InsuredNameMismatch(DomainError):
    status = 422
    code = "INSURED_NAME_MISMATCH"
    message = "姓名与身份证号码不一致，请核对后重试"
