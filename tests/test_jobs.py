"""Scheduled jobs: contracts expire in one set-based pass; only one scheduler may run."""
from __future__ import annotations

from datetime import date

import pytest

from server.audit.models import AuditEvent
from server.common.timeutil import local_today
from server.contracts import services
from server.contracts.models import Contract, ContractEvent
from server.contracts.states import ContractStatus
from server.extensions import db
from server.jobs import scheduler


def test_active_contracts_past_their_period_expire_once(world):
    year = local_today().year
    assert services.expire_ended_contracts(date(year, 12, 31)) == 0
    assert services.expire_ended_contracts(date(year + 1, 1, 1)) == 5
    assert services.expire_ended_contracts(date(year + 1, 1, 1)) == 0
    contract = db.session.get(Contract, world.contracts["R1"].id)
    assert contract.status is ContractStatus.EXPIRED and contract.end_reason == services.EXPIRY_REASON
    last = db.session.query(ContractEvent).filter_by(contract_id=contract.id).order_by(ContractEvent.id.desc()).first()
    assert (last.from_status, last.to_status) == (ContractStatus.ACTIVE, ContractStatus.EXPIRED)
    assert last.at.tzinfo is not None
    assert db.session.query(AuditEvent).filter_by(action="contract.expire").one().details["count"] == 5


def test_the_scheduler_registers_its_jobs_in_china_time(app):
    jobs = scheduler.build_scheduler(app).get_jobs()
    assert [job.id for job in jobs] == ["expire-contracts", "settle-orders", "reconcile-bill", "renewal-reminders",
                                        "survey-invitations", "assessment-runs"]
    assert all(str(job.trigger.timezone) == "Asia/Shanghai" for job in jobs)


@pytest.mark.no_db
def test_a_second_scheduler_refuses_to_start(app):
    with scheduler.single_instance(app):
        with pytest.raises(scheduler.SchedulerAlreadyRunning):
            with scheduler.single_instance(app):
                pass
    with scheduler.single_instance(app):
        pass
