"""Run the sandbox app on a loopback port in a background thread (tests, the demo)."""
from __future__ import annotations

import threading
from types import TracebackType

from werkzeug.serving import BaseWSGIServer, make_server

from server.sandbox.app import create_sandbox_app
from server.sandbox.config import SandboxConfig

HOST = "127.0.0.1"  # the sandbox accepts anyone's payments: never reachable from outside


class SandboxServer:
    def __init__(self, config: SandboxConfig, *, port: int = 0) -> None:
        self.config = config
        self.app = create_sandbox_app(config)
        self._port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the sandbox is not running")
        return f"http://{HOST}:{self._server.server_port}"

    def start(self) -> str:
        """Start serving and return the base URL; port 0 picks a free port."""
        self._server = make_server(HOST, self._port, self.app, threaded=True)
        # A short poll interval makes stop() prompt; tests start and stop sandboxes often.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="jiayi-sandbox", daemon=True)
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        self.app.extensions["jiayi.sandbox.wechatpay"].stop()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = self._thread = None

    def __enter__(self) -> SandboxServer:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()
