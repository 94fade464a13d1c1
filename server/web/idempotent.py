"""`Idempotency-Key` for HTTP: the first answer to a key is the answer to every repeat."""
from __future__ import annotations

from functools import wraps

from flask import request

from server.common import idempotency
from server.web.auth import current_actor

HEADER = "Idempotency-Key"


def idempotent(view):
    """Wrap a view taking JSON; place it above flask-smorest's decorators, below `requires`."""
    @wraps(view)
    def wrapper(*args, **kwargs):
        key = request.headers.get(HEADER)
        if not key:
            return view(*args, **kwargs)
        actor = current_actor()
        digest = idempotency.request_hash(request.path, request.get_json(silent=True))
        replay = idempotency.claim(actor, key, request.path, digest)
        if replay is not None:
            return replay.body, replay.status_code
        try:
            response = view(*args, **kwargs)
        except Exception:
            idempotency.complete(actor, key, 500, {})
            raise
        idempotency.complete(actor, key, response.status_code, response.get_json(silent=True) or {})
        return response
    apidoc = dict(getattr(view, "_apidoc", {}))
    apidoc["manual_doc"] = {**apidoc.get("manual_doc", {}), "parameters": [{
        "in": "header", "name": HEADER, "required": False, "schema": {"type": "string", "minLength": 8},
        "description": "相同的键重复提交时返回首次结果"}]}
    wrapper._apidoc = apidoc
    return wrapper
