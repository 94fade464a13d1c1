"""One clock: the services, the models' defaults and the sandbox read it; production's is the
system's; the tests pin theirs to a day and run date rules again on the calendar's edges."""
from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests

from server.audit.models import AuditEvent
from server.common import timeutil
from server.common.timeutil import SHANGHAI, local_today, utcnow
from server.contracts.models import Contract
from server.extensions import db
from tests.clock import MORNING, day_of_the_run
from tests.helpers import sign_as_resident


class _Fixed:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


@pytest.mark.no_db
def test_the_run_starts_on_its_day_and_time_flows_from_there():
    first = utcnow()
    time.sleep(0.01)
    assert first < utcnow() and first.utcoffset() == timedelta(0)
    assert local_today() == day_of_the_run() and first.astimezone(SHANGHAI).time() >= MORNING


@pytest.mark.no_db
def test_use_clock_swaps_the_one_clock_and_hands_back_the_previous():
    previous = timeutil.use_clock(_Fixed(datetime(2030, 12, 31, 16, 30, tzinfo=timezone.utc)))
    try:
        # 00:30 on New Year's Day in China is still the old year in UTC: today is China's.
        assert (utcnow().year, local_today()) == (2030, date(2031, 1, 1))
    finally:
        assert isinstance(timeutil.use_clock(previous), _Fixed)
    assert local_today() == day_of_the_run()


@pytest.mark.no_db
def test_production_reads_the_system_clock_whatever_the_test_variable_says():
    env = {**os.environ, "JIAYI_TEST_TODAY": "2001-01-01"}
    shown = subprocess.run([sys.executable, "-c", "from server.common.timeutil import utcnow; print(utcnow())"],
                           env=env, cwd=Path(__file__).parent.parent, capture_output=True, text=True, timeout=120,
                           check=True)
    # The one place a test reads real time: to prove production does.
    assert abs(datetime.fromisoformat(shown.stdout.strip()) - datetime.now(timezone.utc)) < timedelta(minutes=2)


@pytest.mark.calendar_edges
def test_signing_takes_the_contract_year_and_every_timestamp_from_the_clock(client, world, newcomer, today):
    before = utcnow()
    response = sign_as_resident(client, world, newcomer)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["period_start"], body["period_end"]) == (today.isoformat(), f"{today.year}-12-31")
    contract = db.session.get(Contract, body["id"])
    event = db.session.query(AuditEvent).filter_by(action="contract.sign", entity_id=str(contract.id)).one()
    for stamped in (contract.created_at, contract.consent_at, event.at):  # model defaults and services alike
        assert before <= stamped <= utcnow()


@pytest.mark.no_db
@pytest.mark.calendar_edges
def test_the_sandbox_lives_on_the_same_clock(sandbox, app, today):
    pay = app.extensions["jiayi.wechatpay"]  # the platform's own client
    out_trade_no = f"CLOCK{uuid.uuid4().hex[:20]}"
    pay.create_jsapi_order(out_trade_no=out_trade_no, description="签约", amount_fen=100,
                           payer_openid="oSandboxPayer0000000000000001", expires_at=utcnow() + timedelta(minutes=2))
    paid = requests.post(f"{sandbox.base_url}/sandbox/pay/{out_trade_no}/pay", json={"deliver": "drop"}, timeout=5)
    assert paid.status_code == 200, paid.text  # the deadline two minutes from our now has not passed there
    [row] = [row for row in pay.trade_bill(today) if row.out_trade_no == out_trade_no]
    assert abs(row.trade_time - utcnow()) < timedelta(minutes=1)
