"""The clients are built once per app from the settings; the sandbox config follows the same settings."""
from __future__ import annotations

import dataclasses

import pytest
from flask import Flask

from server.integrations import registry
from server.integrations.insurance import InsuranceClient
from server.integrations.wechat import WechatClient
from server.integrations.wechatpay import WechatPayClient
from server.sandbox.cli import sandbox_command

pytestmark = pytest.mark.no_db


def test_init_app_builds_the_three_clients(platform_settings):
    app = Flask("registry-test")
    registry.init_app(app, platform_settings)
    with app.app_context():
        assert isinstance(registry.wechat(), WechatClient)
        assert isinstance(registry.wechatpay(), WechatPayClient)
        assert isinstance(registry.insurance(), InsuranceClient)
        assert registry.wechat().appid == registry.wechatpay().appid == platform_settings.wechat_appid
        assert registry.wechatpay().mchid == platform_settings.wechatpay_mchid


def test_the_sandbox_accepts_what_the_platform_is_configured_with(sandbox_config, platform_settings):
    assert (sandbox_config.appid, sandbox_config.secret, sandbox_config.mchid, sandbox_config.apiv3_key) == (
        platform_settings.wechat_appid, platform_settings.wechat_secret, platform_settings.wechatpay_mchid,
        platform_settings.wechatpay_apiv3_key)
    assert sandbox_config.insured_admdvs == platform_settings.region_code
    assert str(sandbox_config.keys.merchant_private_key) == platform_settings.wechatpay_private_key_path
    assert sandbox_config.keys.platform_public_key_id == platform_settings.wechatpay_public_key_id


def test_the_sandbox_command_refuses_production(app, platform_settings, monkeypatch):
    monkeypatch.setitem(app.config, "JIAYI_SETTINGS", dataclasses.replace(platform_settings, env="production"))
    result = app.test_cli_runner().invoke(sandbox_command)
    assert result.exit_code == 1 and "never run in production" in result.output
