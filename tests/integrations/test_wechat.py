"""The WeChat client against the sandbox over HTTP: login codes, the shared token, messages, phone numbers."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import requests
import sqlalchemy as sa

from server.common.timeutil import utcnow
from server.extensions import db
from server.integrations.errors import (
    SubscriptionRefused,
    WechatBusy,
    WechatCodeInvalid,
    WechatCodeUsed,
    WechatError,
    WechatRateLimited,
    WechatUnavailable,
)
from server.integrations.models import AccessToken
from tests.integrations.conftest import closed_port_url, wechat_client


def _token_requests(admin) -> int:
    return admin("GET", "/sandbox/wechat/stats").json()["token_requests"]


def _login(admin, openid: str | None = None) -> dict:
    return admin("POST", "/sandbox/wechat/login", json={"openid": openid} if openid else {}).json()


def _token_row(session) -> AccessToken:
    return session.scalars(sa.select(AccessToken)).one()


def test_a_login_code_becomes_the_residents_openid(wechat, admin, session):
    login = _login(admin)
    result = wechat.code_to_session(login["code"])
    assert result.openid == login["openid"] and result.session_key and result.unionid
    again = _login(admin, login["openid"])
    assert wechat.code_to_session(again["code"]).openid == login["openid"]


def test_a_reused_code_and_an_unknown_code_are_our_errors(wechat, admin, session):
    code = _login(admin)["code"]
    wechat.code_to_session(code)
    with pytest.raises(WechatCodeUsed) as used:
        wechat.code_to_session(code)
    assert (used.value.status, used.value.code, used.value.errcode) == (422, "WECHAT_CODE_USED", 40163)
    with pytest.raises(WechatCodeInvalid) as unknown:
        wechat.code_to_session("no-such-code")
    assert (unknown.value.status, unknown.value.code, unknown.value.message) == (
        422, "WECHAT_CODE_INVALID", "登录凭证无效，请重新登录")


def test_the_token_is_fetched_once_and_shared_through_the_database(app, sandbox, platform_settings, admin, session):
    before = _token_requests(admin)
    first = wechat_client(sandbox.base_url, platform_settings)
    second = wechat_client(sandbox.base_url, platform_settings)  # another worker, same appid
    token = first.access_token()
    assert second.access_token() == token == first.access_token()
    assert _token_requests(admin) == before + 1
    row = _token_row(session)
    assert row.name == f"wechat:{platform_settings.wechat_appid}" and row.token == token
    assert row.expires_at > utcnow() + timedelta(hours=1)
    # Stored encrypted, like every other secret at rest.
    stored = session.execute(sa.text("SELECT token FROM access_token")).scalar_one()
    assert token not in stored


def test_an_expired_token_is_refreshed(wechat, admin, session):
    wechat.access_token()
    session.execute(sa.update(AccessToken).values(expires_at=utcnow() + timedelta(minutes=4)))
    session.commit()  # within 5 minutes of expiry counts as expired
    before = _token_requests(admin)
    wechat.access_token()
    assert _token_requests(admin) == before + 1
    assert _token_row(session).expires_at > utcnow() + timedelta(hours=1)


def test_force_refresh_replaces_the_token(wechat, session):
    old = wechat.access_token()
    new = wechat.access_token(force_refresh=True)
    assert new != old and wechat.access_token() == new


def test_a_refused_token_is_refreshed_once_and_the_call_retried(wechat, sandbox, platform_settings, admin, session):
    stale = wechat.access_token()
    # Someone else forces a refresh (another system on the same appid): our stored token dies.
    current = requests.post(sandbox.base_url + "/cgi-bin/stable_token", timeout=5, json={
        "grant_type": "client_credential", "appid": platform_settings.wechat_appid,
        "secret": platform_settings.wechat_secret, "force_refresh": True}).json()["access_token"]
    assert current != stale
    openid = _login(admin)["openid"]
    wechat.send_subscribe_message(openid=openid, template_id="TPL-RENEW", page="pages/contract/index",
                                  data={"thing1": "续约提醒", "date2": "2026-12-31"})
    assert _token_row(session).token == current
    messages = admin("GET", "/sandbox/wechat/messages", params={"openid": openid}).json()["messages"]
    assert [m["data"] for m in messages] == [{"thing1": {"value": "续约提醒"}, "date2": {"value": "2026-12-31"}}]


def test_rate_limit_and_system_busy_are_our_errors(wechat, admin, session):
    admin("POST", "/sandbox/wechat/fault", json={"errcode": 45011, "times": 1})
    with pytest.raises(WechatRateLimited) as limited:
        wechat.code_to_session(_login(admin)["code"])
    assert (limited.value.status, limited.value.code) == (429, "WECHAT_RATE_LIMITED")
    admin("POST", "/sandbox/wechat/fault", json={"errcode": -1, "times": 1})
    with pytest.raises(WechatBusy) as busy:
        wechat.code_to_session(_login(admin)["code"])
    assert (busy.value.status, busy.value.code) == (503, "WECHAT_BUSY")
    assert wechat.code_to_session(_login(admin)["code"]).openid  # the faults are spent


def test_a_refused_subscription_raises_subscription_refused(wechat, admin, session):
    openid = _login(admin)["openid"]
    admin("POST", "/sandbox/wechat/refuse", json={"openid": openid, "template_id": "TPL-SURVEY"})
    with pytest.raises(SubscriptionRefused) as refused:
        wechat.send_subscribe_message(openid=openid, template_id="TPL-SURVEY", page="pages/survey/index",
                                      data={"thing1": "满意度调查"})
    assert (refused.value.code, refused.value.errcode) == ("WECHAT_SUBSCRIBE_REFUSED", 43101)
    assert admin("GET", "/sandbox/wechat/messages", params={"openid": openid}).json()["messages"] == []


def test_the_phone_number_comes_from_a_one_time_code(wechat, admin, session):
    code = admin("POST", "/sandbox/wechat/phone-code", json={"phone": "13912345678"}).json()["code"]
    assert wechat.phone_number(code) == "13912345678"
    with pytest.raises(WechatCodeInvalid) as reused:
        wechat.phone_number(code)
    assert reused.value.message == "手机号授权已失效，请重新授权"


def test_a_phone_number_released_to_another_app_is_refused(wechat, admin, session):
    code = admin("POST", "/sandbox/wechat/phone-code",
                 json={"phone": "13912345678", "watermark_appid": "wx_another_app"}).json()["code"]
    with pytest.raises(WechatError) as refused:
        wechat.phone_number(code)
    assert refused.value.code == "WECHAT_WATERMARK_MISMATCH"


@pytest.mark.no_db
def test_an_unreachable_wechat_is_a_503_with_a_clear_message(platform_settings):
    client = wechat_client(closed_port_url(), platform_settings)
    with pytest.raises(WechatUnavailable) as unavailable:
        client.code_to_session("any")
    assert (unavailable.value.status, unavailable.value.message) == (503, "暂时无法连接微信服务，请稍后再试")


@pytest.mark.no_db
@pytest.mark.parametrize("stored", ["missing", "expired"])
def test_workers_racing_for_a_token_fetch_it_once(app, sandbox, platform_settings, admin, stored):
    """Real transactions in parallel threads (no test transaction): the row lock lets one fetch."""
    client = wechat_client(sandbox.base_url, platform_settings)
    if stored == "expired":
        with app.app_context():
            db.session.add(AccessToken(name=f"wechat:{platform_settings.wechat_appid}", token="old",
                                       expires_at=utcnow() - timedelta(seconds=1)))
            db.session.commit()
    before = _token_requests(admin)
    start = threading.Barrier(8)
    tokens: list[str] = []

    def worker() -> None:
        with app.app_context():
            start.wait()
            tokens.append(client.access_token())

    threads = [threading.Thread(target=worker) for _ in range(8)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(tokens) == 8 and len(set(tokens)) == 1 and tokens[0] != "old"
        assert _token_requests(admin) == before + 1
    finally:
        with app.app_context(), db.engine.begin() as connection:
            connection.execute(sa.delete(AccessToken))
