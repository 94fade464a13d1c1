"""Headers on every response: no type sniffing, no stored copies of personal data, a content
policy, and no server or Python version.

Every /api/ answer may carry personal data (exports included), so none may be kept by a
browser or a proxy: `Cache-Control: no-store`, except the interactive docs' static files.
The docs page gets a content policy that runs only its own scripts; everything else is data
and may load nothing at all.
"""
from __future__ import annotations

import base64
import hashlib
import re

from flask import Flask, Response, request
from werkzeug.serving import WSGIRequestHandler

DOCS_PAGE = "/api/docs"
DOCS_ASSETS = "/api/docs/static/"
NOTHING_LOADS = "default-src 'none'; frame-ancestors 'none'"
# Swagger UI styles its elements inline and draws icons from data: URLs; its calls go to this origin.
_DOCS_POLICY = ("default-src 'none'; script-src 'self' {scripts}; style-src 'self' 'unsafe-inline'; "
                "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
                "frame-ancestors 'none'")
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)


def register(app: Flask) -> None:
    @app.after_request
    def _security_headers(response: Response) -> Response:
        response.headers["X-Content-Type-Options"] = "nosniff"
        if request.path.startswith("/api/") and not request.path.startswith(DOCS_ASSETS):
            response.headers["Cache-Control"] = "no-store"
        response.headers["Content-Security-Policy"] = (
            _docs_policy(response) if request.path == DOCS_PAGE else NOTHING_LOADS)
        return response


def _docs_policy(response: Response) -> str:
    """The docs page's policy: its own inline start-up script by hash, and nothing injected beside it.

    The page is a fixed template filled with the app's settings (no request data), so hashing
    the scripts it holds allows exactly what the server wrote.
    """
    hashes = (base64.b64encode(hashlib.sha256(script).digest()).decode()
              for script in _INLINE_SCRIPT.findall(response.get_data()))
    return _DOCS_POLICY.format(scripts=" ".join(f"'sha256-{digest}'" for digest in hashes))


class RequestHandler(WSGIRequestHandler):
    """werkzeug's development server (demo, tests) without its and Python's versions in `Server`."""

    def version_string(self) -> str:
        return "Jiayi"
