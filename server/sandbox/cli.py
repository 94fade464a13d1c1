"""`jiayi sandbox`: serve the sandbox with the platform's own credentials and dev keys."""
from __future__ import annotations

import os

import click
from flask import current_app
from flask.cli import with_appcontext
from werkzeug.serving import make_server

from server.config import Settings
from server.sandbox import keys
from server.sandbox.app import create_sandbox_app
from server.sandbox.config import SandboxConfig


def config_from_settings(settings: Settings, keys_dir: str | os.PathLike[str]) -> SandboxConfig:
    """The sandbox the platform with these settings talks to: same appid, secret, merchant, keys, region."""
    return SandboxConfig(appid=settings.wechat_appid, secret=settings.wechat_secret, mchid=settings.wechatpay_mchid,
                         apiv3_key=settings.wechatpay_apiv3_key, keys=keys.ensure(keys_dir),
                         insured_admdvs=settings.region_code)


@click.command("sandbox")
@click.option("--host", default="127.0.0.1", show_default=True, help="Keep it on loopback unless you must.")
@click.option("--port", default=5100, show_default=True, type=int)
@with_appcontext
def sandbox_command(host: str, port: int) -> None:
    """Serve stand-ins for WeChat, WeChat Pay v3 and the insurance platform (development only)."""
    settings: Settings = current_app.config["JIAYI_SETTINGS"]
    if settings.env == "production":
        raise click.ClickException("the sandbox accepts any payment and must never run in production")
    config = config_from_settings(settings, os.path.join(current_app.instance_path, "sandbox-keys"))
    server = make_server(host, port, create_sandbox_app(config), threaded=True)
    click.echo(f"沙箱已启动: http://{host}:{server.server_port}  (微信、微信支付 v3、医保信息平台)")
    try:
        server.serve_forever()
    finally:
        server.server_close()
