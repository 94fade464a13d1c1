"""The sandbox app: WeChat, WeChat Pay v3 and the insurance platform behind one loopback address.

A Flask app of its own, never the platform's: it stands where the outside services stand,
so the platform reaches it only through its configured base URLs.
"""
from __future__ import annotations

from flask import Flask

from server.sandbox.config import SandboxConfig
from server.sandbox.insurance_api import InsuranceSandbox
from server.sandbox.wechat_api import WechatSandbox
from server.sandbox.wechatpay_api import WechatPaySandbox

__all__ = ["SandboxConfig", "create_sandbox_app"]


def create_sandbox_app(config: SandboxConfig) -> Flask:
    app = Flask("jiayi_sandbox")
    app.json.ensure_ascii = False  # as the real services answer: Chinese as UTF-8
    pay = WechatPaySandbox(config)
    for part in (WechatSandbox(config), pay, InsuranceSandbox(config)):
        for blueprint in part.blueprints():
            app.register_blueprint(blueprint)
    app.extensions["jiayi.sandbox.wechatpay"] = pay  # its pending notifications stop with the server
    return app
