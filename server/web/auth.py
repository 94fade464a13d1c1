"""Authentication at the HTTP edge: bearer token in, `Actor` out, the use case's roles checked before input."""
from __future__ import annotations

from collections.abc import Collection
from functools import wraps

from flask import current_app, g, request

from server.errors import Forbidden, Unauthenticated
from server.identity import services as identity
from server.identity.roles import Actor, Role
from server.identity.throttle import SignInAttempt
from server.identity.tokens import TokenService

SECURITY = [{"bearerAuth": []}]


def token_service() -> TokenService:
    return current_app.extensions["jiayi.tokens"]


def client_ip() -> str | None:
    # Behind nginx the real client is the first X-Forwarded-For hop (ProxyFix sets remote_addr).
    return request.remote_addr


def sign_in_attempt() -> SignInAttempt:
    """Where this sign-in comes from, for the throttle and the audit trail."""
    return SignInAttempt(ip=client_ip(), user_agent=request.headers.get("User-Agent"),
                         region_code=current_app.config["JIAYI_SETTINGS"].region_code)


def current_actor() -> Actor:
    actor = g.get("actor")
    if actor is None:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthenticated()
        actor = identity.actor_for_token(token_service(), token.strip(), ip=client_ip(),
                                         user_agent=request.headers.get("User-Agent"))
        g.actor = actor
    return actor


def requires(use_case, serves: Collection[Role]):
    """Let a view run only for the roles its use case declares (`@allowed`), among those its API serves.

    A use case several APIs share (reading a contract: the console, the doctor's and the
    resident's APIs) is narrowed to each API's own callers. Put it above flask-smorest's
    decorators so a caller is authenticated and checked before their input is parsed; it also
    marks the operation as bearer-secured, with those roles, in the OpenAPI document.
    """
    roles = tuple(role for role in use_case.roles if role in serves)
    if not roles:
        raise TypeError(f"{use_case.__qualname__} allows none of the roles this API serves")

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if current_actor().role not in roles:
                raise Forbidden()
            return view(*args, **kwargs)
        apidoc = dict(getattr(view, "_apidoc", {}))
        apidoc["manual_doc"] = {**apidoc.get("manual_doc", {}), "security": SECURITY,
                                "x-roles": [role.value for role in roles]}
        wrapper._apidoc = apidoc
        wrapper.use_case = use_case
        return wrapper
    return decorator
