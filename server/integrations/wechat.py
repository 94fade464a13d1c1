"""The WeChat mini-program server API: login, the stable access token, subscribe messages, phone numbers.

WeChat answers HTTP 200 for almost everything and reports failures in `errcode`; each
code we act on becomes its own error (see `errors.py`). The access token lives in the
`access_token` table so every worker process shares one: WeChat limits token fetches per
day, and a forced refresh invalidates the token other workers hold.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import requests
import sqlalchemy as sa
import structlog
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from server.common.timeutil import utcnow
from server.extensions import db
from server.integrations.errors import (
    WechatCodeInvalid,
    WechatError,
    WechatTokenInvalid,
    WechatUnavailable,
    wechat_error,
)
from server.integrations.models import AccessToken

log = structlog.get_logger(__name__)

# Refresh this long before expiry, so a token never expires between read and use.
TOKEN_REFRESH_MARGIN = timedelta(minutes=5)
_NEVER = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class WechatSession:
    openid: str
    unionid: str | None
    session_key: str


class WechatClient:
    """One mini-program's server API.

    Calls that need the access token (messages, phone numbers) read and may refresh it in
    the database, in a small transaction on a session of the client's own, so a caller's unit
    of work is never committed by it. Still call them outside a unit of work: on SQLite every
    transaction takes the database's one write lock, so the token's would wait for the caller's.
    """

    def __init__(self, *, base_url: str, appid: str, secret: str, timeout: float = 5.0) -> None:
        self.appid = appid
        self._secret = secret
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._http = requests.Session()
        self._token_name = f"wechat:{appid}"

    # --- the API ------------------------------------------------------------------------

    def code_to_session(self, code: str) -> WechatSession:
        """Exchange a `wx.login` code (auth.code2Session); each code works once, for 5 minutes."""
        answer = self._request("GET", "/sns/jscode2session", params={
            "appid": self.appid, "secret": self._secret, "js_code": code, "grant_type": "authorization_code"})
        try:
            return WechatSession(openid=answer["openid"], unionid=answer.get("unionid"),
                                 session_key=answer["session_key"])
        except KeyError as exc:
            raise WechatError("微信登录应答缺少必要字段") from exc

    def send_subscribe_message(self, *, openid: str, template_id: str, page: str, data: dict[str, str]) -> None:
        """Send a subscribe message; raises `SubscriptionRefused` when the resident refused the template."""
        self._with_token("/cgi-bin/message/subscribe/send", {
            "touser": openid, "template_id": template_id, "page": page,
            "data": {key: {"value": value} for key, value in data.items()},
        })

    def phone_number(self, code: str) -> str:
        """The phone number the resident chose to share (`getPhoneNumber` button code), without country code."""
        try:
            answer = self._with_token("/wxa/business/getuserphonenumber", {"code": code})
        except WechatCodeInvalid as exc:
            raise WechatCodeInvalid("手机号授权已失效，请重新授权", errcode=exc.errcode) from exc
        info = answer.get("phone_info") or {}
        # The watermark proves the number was released to our mini-program, not another one.
        if (info.get("watermark") or {}).get("appid") != self.appid:
            raise WechatError("手机号信息校验失败，请重新授权", code="WECHAT_WATERMARK_MISMATCH")
        phone = info.get("purePhoneNumber")
        if not phone:
            raise WechatError("微信未返回手机号，请重新授权")
        return phone

    def access_token(self, *, force_refresh: bool = False) -> str:
        """The shared access token, fetched from WeChat only when missing, near expiry or forced."""
        if not force_refresh:
            token = self._stored_token()
            if token is not None:
                return token
        return self._refresh(force=force_refresh, rejected=None)

    # --- the token store ------------------------------------------------------------------

    def _stored_token(self) -> str | None:
        with _token_store() as session:
            row = session.execute(sa.select(AccessToken.token, AccessToken.expires_at)
                                  .where(AccessToken.name == self._token_name)).first()
        return row.token if row is not None and _fresh(row.expires_at) else None

    def _refresh(self, *, force: bool, rejected: str | None) -> str:
        """Fetch a new token under the row lock; whoever waited on the lock reuses the winner's token.

        `rejected` is a token WeChat just refused (40001/42001): unless another worker already
        replaced it, ask again in normal mode, which returns WeChat's current token without
        invalidating anyone else's.
        """
        with _token_store() as session:
            row = _lock_token_row(session, self._token_name)
            if not force and row.token != rejected and _fresh(row.expires_at):
                return row.token
            answer = self._request("POST", "/cgi-bin/stable_token", body={
                "grant_type": "client_credential", "appid": self.appid, "secret": self._secret,
                "force_refresh": force})
            try:
                token, expires_in = answer["access_token"], int(answer["expires_in"])
            except (KeyError, ValueError) as exc:
                raise WechatError("微信接口调用凭证应答格式有误") from exc
            now = utcnow()
            row.token, row.expires_at, row.refreshed_at = token, now + timedelta(seconds=expires_in), now
            return token

    def _with_token(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST with the access token; on 40001/42001 refresh once and retry once."""
        token = self.access_token()
        try:
            return self._request("POST", path, params={"access_token": token}, body=body)
        except WechatTokenInvalid:
            token = self._refresh(force=False, rejected=token)
        return self._request("POST", path, params={"access_token": token}, body=body)

    # --- HTTP ------------------------------------------------------------------------------

    def _request(self, method: str, path: str, *, params: dict[str, str] | None = None,
                 body: dict[str, Any] | None = None) -> dict[str, Any]:
        # Sent as UTF-8 text rather than \u escapes, so Chinese message data reaches WeChat as written.
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json; charset=utf-8"} if data is not None else None
        try:
            response = self._http.request(method, self._base_url + path, params=params, data=data,
                                          headers=headers, timeout=self._timeout)
        except requests.RequestException as exc:
            # The failed URL carries the app secret (jscode2session); keep it out of tracebacks.
            log.warning("wechat_unreachable", path=path, error=type(exc).__name__)
            raise WechatUnavailable() from None
        if response.status_code >= 500:
            raise WechatUnavailable()
        try:
            answer = response.json()
        except ValueError as exc:
            raise WechatError("微信服务应答格式有误") from exc
        if not isinstance(answer, dict):
            raise WechatError("微信服务应答格式有误")
        errcode = answer.get("errcode") or 0
        if errcode != 0:
            raise wechat_error(int(errcode), answer.get("errmsg"))
        return answer


@contextmanager
def _token_store() -> Iterator[Session]:
    """A transaction on a session of the client's own, committed when the block ends, rolled back on an error.

    Bound to whatever the app's session is bound to: the engine, so a connection of its own
    (under the tests, the test's connection, where the commit becomes a savepoint's release).
    """
    with Session(db.session.get_bind(), join_transaction_mode="create_savepoint") as session, session.begin():
        yield session


def _fresh(expires_at: datetime) -> bool:
    return expires_at - TOKEN_REFRESH_MARGIN > utcnow()


def _lock_token_row(session: Session, name: str) -> AccessToken:
    """Make sure the token row exists, then lock it for this transaction.

    The insert-or-ignore also serialises the very first fetch. On SQLite, being a write, it
    takes the database write lock at once, which is SQLite's only lock and serves the same
    purpose as PostgreSQL's row lock.
    """
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(insert(AccessToken).values(name=name, token="", expires_at=_NEVER, refreshed_at=_NEVER)
                    .on_conflict_do_nothing(index_elements=["name"]))
    return session.execute(sa.select(AccessToken).where(AccessToken.name == name).with_for_update()
                           .execution_options(populate_existing=True)).scalar_one()
