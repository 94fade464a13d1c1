"""Sandboxes on free loopback ports, and our clients pointed at them over real HTTP.

The root conftest's sandbox lives for the whole run (the platform app talks to it too); each test
uses its own order numbers, openids and ID numbers, so tests never see each other's state.
"""
from __future__ import annotations

import dataclasses
import itertools
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import date

import pytest
import requests
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from server.common import idcard
from server.config import Settings
from server.integrations.insurance import InsuranceClient
from server.integrations.wechat import WechatClient
from server.integrations.wechatpay import WechatPayClient
from server.sandbox.server import SandboxServer

_sequence = itertools.count(1)


@pytest.fixture(scope="session")
def platform_settings(app) -> Settings:
    """The settings the platform app runs with (development WeChat Pay keys filled in)."""
    return app.config["JIAYI_SETTINGS"]


@pytest.fixture(scope="session")
def certificate_sandbox(sandbox_config) -> Iterator[SandboxServer]:
    """A sandbox that signs with its platform certificate's serial, as during a switch-over."""
    with SandboxServer(dataclasses.replace(sandbox_config, sign_with="certificate")) as server:
        yield server


@pytest.fixture
def admin(sandbox) -> Callable[..., requests.Response]:
    """Call the sandbox's own `/sandbox/...` controls: admin("POST", "/sandbox/...", json=...)."""
    def call(method: str, path: str, **kwargs) -> requests.Response:
        return requests.request(method, sandbox.base_url + path, timeout=5, **kwargs)
    return call


def wechat_client(base_url: str, settings: Settings) -> WechatClient:
    return WechatClient(base_url=base_url, appid=settings.wechat_appid, secret=settings.wechat_secret, timeout=2)


def pay_client(base_url: str, settings: Settings, **overrides) -> WechatPayClient:
    options = dict(base_url=base_url, mchid=settings.wechatpay_mchid, appid=settings.wechat_appid,
                   private_key_path=settings.wechatpay_private_key_path, cert_serial=settings.wechatpay_cert_serial,
                   apiv3_key=settings.wechatpay_apiv3_key, public_key_path=settings.wechatpay_public_key_path,
                   public_key_id=settings.wechatpay_public_key_id, notify_url=settings.wechatpay_notify_url,
                   timeout=2)
    return WechatPayClient(**{**options, **overrides})


def insurance_client(base_url: str, settings: Settings) -> InsuranceClient:
    return InsuranceClient(base_url=base_url, fixmedins_code=settings.insurance_fixmedins_code,
                           fixmedins_name="漳州市测试卫生院", opter_no=settings.insurance_opter_no,
                           opter_name="测试操作员", admdvs=settings.region_code, timeout=2)


@pytest.fixture
def wechat(sandbox, platform_settings) -> WechatClient:
    return wechat_client(sandbox.base_url, platform_settings)


@pytest.fixture
def pay(sandbox, platform_settings) -> WechatPayClient:
    return pay_client(sandbox.base_url, platform_settings)


@pytest.fixture
def insurance(sandbox, platform_settings) -> InsuranceClient:
    return insurance_client(sandbox.base_url, platform_settings)


def unique_no(prefix: str = "T") -> str:
    """An order or refund number no other test uses (6–32 characters, as WeChat Pay wants)."""
    return f"{prefix}{uuid.uuid4().hex[:20].upper()}"


def unique_id_number(born: date = date(1958, 3, 7)) -> str:
    return idcard.make("350602", born, next(_sequence))


def closed_port_url() -> str:
    """A loopback URL nobody listens on, for network-failure tests."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def wait_until(predicate: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


class Receiver:
    """A stand-in notify URL on its own loopback port: records requests, answers as told."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.statuses: list[int] = []  # answers for the next requests; then 204
        self._lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}/notify"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    @Request.application
    def _app(self, request: Request) -> Response:
        with self._lock:
            self.received.append((dict(request.headers), request.get_data()))
            status = self.statuses.pop(0) if self.statuses else 204
        return Response(status=status)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as server:
        yield server
