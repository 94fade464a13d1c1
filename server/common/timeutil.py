"""Time rules: store UTC, show Asia/Shanghai, keep contract and assessment years as dates."""
from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def local_today() -> date:
    """Today's date in China, which is what a contract year or a deadline is counted in."""
    return datetime.now(SHANGHAI).date()
