"""One client per outside service per app, built from the settings and found through the app."""
from __future__ import annotations

from flask import Flask, current_app

from server.config import Settings
from server.integrations.insurance import InsuranceClient
from server.integrations.wechat import WechatClient
from server.integrations.wechatpay import WechatPayClient

def init_app(app: Flask, settings: Settings) -> None:
    app.extensions["jiayi.wechat"] = WechatClient(
        base_url=settings.wechat_api_base, appid=settings.wechat_appid, secret=settings.wechat_secret)
    app.extensions["jiayi.wechatpay"] = WechatPayClient(
        base_url=settings.wechatpay_api_base, mchid=settings.wechatpay_mchid, appid=settings.wechat_appid,
        private_key_path=settings.wechatpay_private_key_path, cert_serial=settings.wechatpay_cert_serial,
        apiv3_key=settings.wechatpay_apiv3_key, public_key_path=settings.wechatpay_public_key_path,
        public_key_id=settings.wechatpay_public_key_id, notify_url=settings.wechatpay_notify_url)
    app.extensions["jiayi.insurance"] = InsuranceClient(
        base_url=settings.insurance_api_base, fixmedins_code=settings.insurance_fixmedins_code,
        fixmedins_name=settings.insurance_fixmedins_name, opter_no=settings.insurance_opter_no,
        opter_name=settings.insurance_opter_name, admdvs=settings.region_code)


def wechat() -> WechatClient:
    return current_app.extensions["jiayi.wechat"]


def wechatpay() -> WechatPayClient:
    return current_app.extensions["jiayi.wechatpay"]


def insurance() -> InsuranceClient:
    return current_app.extensions["jiayi.insurance"]
