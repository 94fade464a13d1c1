"""The answer when the database refuses a write the prescription rules' check let through.

That happens only when two requests race (both checked before either wrote), so it is a
conflict to retry, under the code the check itself gives for the rule.
"""
from __future__ import annotations

from contextlib import AbstractContextManager

from server.common.guards import unique_guard
from server.errors import Conflict
from server.prescriptions.models import ACTIVE_PER_CONTRACT_INDEX, ITEM_PER_DAY_INDEX


def one_active_per_contract() -> AbstractContextManager[None]:
    return unique_guard(ACTIVE_PER_CONTRACT_INDEX, Conflict(
        "该签约已有生效中的长期处方（可能刚由他人同时开具），请刷新后重试", code="PRESCRIPTION_ALREADY_ACTIVE"))


def one_dispensing_per_item_per_day() -> AbstractContextManager[None]:
    return unique_guard(ITEM_PER_DAY_INDEX, Conflict(
        "同一药品当日已有取药记录（可能刚由他人同时登记），请核对后重试", code="DISPENSING_ALREADY_RECORDED"))
