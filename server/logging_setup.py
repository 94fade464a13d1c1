"""Structured logging (structlog) with every line scrubbed of ID and phone numbers."""
from __future__ import annotations

import logging
import sys

import structlog

from server.common import pii


def _scrub_event(_logger, _method, event_dict: dict) -> dict:
    for key, value in list(event_dict.items()):
        if isinstance(value, str):
            event_dict[key] = pii.scrub(value)
    return event_dict


class _ScrubbingFormatter(logging.Formatter):
    """For records from libraries that log through stdlib (werkzeug, SQLAlchemy, APScheduler)."""

    def format(self, record: logging.LogRecord) -> str:
        return pii.scrub(super().format(record))


def configure(*, json: bool, level: int = logging.INFO) -> None:
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _scrub_event,
    ]
    renderer = structlog.processors.JSONRenderer(ensure_ascii=False) if json else structlog.dev.ConsoleRenderer(
        colors=False)
    structlog.configure(
        processors=[*shared, renderer],
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        wrapper_class=structlog.make_filtering_bound_logger(level),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_ScrubbingFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
