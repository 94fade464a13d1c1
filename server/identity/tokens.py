"""Bearer tokens: signed, timed, and revocable by bumping the account's token version."""
from __future__ import annotations

from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from server.errors import Unauthenticated

_SALT = "jiayi-auth-v1"


@dataclass(frozen=True)
class TokenClaims:
    kind: str  # "staff" (UserAccount) or "wechat" (WechatAccount)
    account_id: int
    version: int


class TokenService:
    def __init__(self, secret_key: str, ttl_seconds: int) -> None:
        self._serializer = URLSafeTimedSerializer(secret_key, salt=_SALT)
        self.ttl_seconds = ttl_seconds

    def issue(self, kind: str, account_id: int, version: int) -> str:
        return self._serializer.dumps({"k": kind, "a": account_id, "v": version})

    def verify(self, token: str) -> TokenClaims:
        try:
            data = self._serializer.loads(token, max_age=self.ttl_seconds)
        except SignatureExpired as exc:
            raise Unauthenticated("登录已过期，请重新登录", code="TOKEN_EXPIRED") from exc
        except BadSignature as exc:
            raise Unauthenticated("登录凭证无效", code="TOKEN_INVALID") from exc
        return TokenClaims(kind=data["k"], account_id=int(data["a"]), version=int(data["v"]))
