"""Structured logging (structlog) with every line scrubbed of ID and phone numbers.

structlog events and stdlib records (werkzeug, SQLAlchemy, APScheduler) meet in one
`ProcessorFormatter`, so the scrubbing step sees every line whichever library wrote it.
Percent-escapes would hide a number from the masking (`%33%35…`, or `%2533…` encoded twice),
so a line is logged decoded: its escapes are decoded until none is left, then it is masked.
"""
from __future__ import annotations

import logging
import re
import sys
from urllib.parse import unquote

import structlog

from server.common import pii

_ESCAPES = re.compile(r"(?:%[0-9A-Fa-f]{2})+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _decoded(text: str) -> str:
    while (decoded := _ESCAPES.sub(_decode_escapes, text)) != text:
        text = decoded  # an escape, once decoded, never comes back (but from %25, which is shorter)
    return text


def _decode_escapes(match: re.Match) -> str:
    # A decoded line break or escape sequence (%0A, %1B) stays visibly escaped: it must not forge a line.
    return _CONTROL.sub(lambda c: f"\\x{ord(c[0]):02x}", unquote(match[0], errors="replace"))


def _scrub(_logger, _method, event_dict: dict) -> dict:
    for key, value in list(event_dict.items()):
        if isinstance(value, str):
            event_dict[key] = pii.scrub(_decoded(value) if "%" in value else value)
    return event_dict


_PRE_CHAIN = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def formatter(*, json: bool) -> logging.Formatter:
    renderer = (structlog.processors.JSONRenderer(ensure_ascii=False) if json
                else structlog.dev.ConsoleRenderer(colors=False))
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*_PRE_CHAIN, structlog.stdlib.ExtraAdder()],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info, _scrub, renderer],
    )


def configure(*, json: bool, level: int = logging.INFO) -> None:
    structlog.configure(
        processors=[*_PRE_CHAIN, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(json=json))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
