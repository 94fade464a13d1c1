"""One structured log line per request: method, path with query, status, time, caller."""
from __future__ import annotations

import time

import structlog
from flask import Flask, g, request

log = structlog.get_logger("jiayi.access")


def register(app: Flask) -> None:
    @app.before_request
    def _start_timer():
        g.request_started = time.perf_counter()

    @app.after_request
    def _log(response):
        actor = g.get("actor")
        log.info("request", method=request.method, path=request.full_path.rstrip("?"),
                 status=response.status_code,
                 ms=round((time.perf_counter() - g.get("request_started", time.perf_counter())) * 1000, 1),
                 role=actor.role.value if actor else None, account=actor.account_id if actor else None)
        return response
