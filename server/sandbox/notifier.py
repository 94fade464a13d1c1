"""Payment notifications sent the way WeChat Pay sends them: on their own, late, again.

A delivery counts when the merchant answers 200 or 204 within 5 seconds; otherwise it is
retried on WeChat Pay's schedule (scaled by the sandbox's `time_scale`). Every attempt is
signed afresh, because a receiver rightly refuses a signature older than 5 minutes.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import requests

from server.common.timeutil import SHANGHAI, utcnow

RETRY_DELAYS_SECONDS = (15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800, 21600, 21600)
ANSWER_WITHIN_SECONDS = 5.0


class Notifier:
    def __init__(self, sign_headers: Callable[[str], dict[str, str]], time_scale: float) -> None:
        self._sign_headers = sign_headers
        self._time_scale = time_scale
        self._lock = threading.Lock()
        self._timers: set[threading.Timer] = set()
        self._attempts: dict[str, list[dict[str, Any]]] = {}
        self._stopped = False

    def send(self, key: str, *, url: str, body: str, copies: int, delay_seconds: float) -> None:
        """Deliver `copies` independent copies of one notification, each retried on its own."""
        for copy in range(1, copies + 1):
            self._schedule(delay_seconds, key, url, body, copy, 1)

    def attempts(self, key: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._attempts.get(key, []))

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            timers, self._timers = self._timers, set()
        for timer in timers:
            timer.cancel()

    def _schedule(self, delay: float, key: str, url: str, body: str, copy: int, attempt: int) -> None:
        with self._lock:
            if self._stopped:
                return
            timer = threading.Timer(delay, self._deliver, args=(key, url, body, copy, attempt))
            timer.daemon = True
            self._timers.add(timer)
        timer.start()

    def _deliver(self, key: str, url: str, body: str, copy: int, attempt: int) -> None:
        with self._lock:
            self._timers.discard(threading.current_thread())  # a Timer runs its function in itself
        headers = {"Content-Type": "application/json", **self._sign_headers(body)}
        started = time.monotonic()
        status: int | None = None
        error: str | None = None
        try:
            status = requests.post(url, data=body.encode("utf-8"), headers=headers,
                                   timeout=ANSWER_WITHIN_SECONDS).status_code
        except requests.RequestException as exc:
            error = type(exc).__name__
        elapsed = time.monotonic() - started
        delivered = status in (200, 204) and elapsed <= ANSWER_WITHIN_SECONDS
        with self._lock:
            self._attempts.setdefault(key, []).append({
                "copy": copy, "attempt": attempt, "at": utcnow().astimezone(SHANGHAI).isoformat(timespec="milliseconds"),
                "status": status, "error": error, "seconds": round(elapsed, 3), "delivered": delivered})
        if not delivered and attempt <= len(RETRY_DELAYS_SECONDS):
            self._schedule(RETRY_DELAYS_SECONDS[attempt - 1] * self._time_scale, key, url, body, copy, attempt + 1)
