"""Scheduled jobs: contracts expire in one set-based pass; only one scheduler may run."""
from __future__ import annotations

import dataclasses
from contextlib import contextmanager
from datetime import date

import pytest

from server import cli, create_app
from server.audit.models import AuditEvent
from server.common.timeutil import local_today
from server.contracts import services
from server.contracts.models import Contract, ContractEvent
from server.contracts.states import ContractStatus
from server.extensions import db
from server.jobs import scheduler
from tests.live import free_port


@pytest.mark.calendar_edges
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
                                        "survey-invitations", "assessment-runs", "forget-sign-in-counters",
                                        "exchange-drop-folder"]
    assert all(str(job.trigger.timezone) == "Asia/Shanghai" for job in jobs)


@pytest.mark.no_db
def test_a_second_scheduler_refuses_to_start(app):
    with scheduler.single_instance(app):
        with pytest.raises(scheduler.SchedulerAlreadyRunning):
            with scheduler.single_instance(app):
                pass
    with scheduler.single_instance(app):
        pass


def _job_table(jobs) -> list[tuple]:
    return sorted((job.id, job.func.__name__, str(job.trigger), job.args) for job in jobs)


@pytest.mark.no_db
def test_jiayi_demo_serves_with_every_job_running_under_the_scheduler_lock(settings, tmp_path, monkeypatch):
    """`jiayi demo` on a database of its own, up to where it would serve (the web server is not started)."""
    monkeypatch.setenv("JIAYI_INSTANCE_PATH", str(tmp_path))
    demo = create_app(dataclasses.replace(settings, database_url=f"sqlite:///{tmp_path / 'demo.sqlite'}"))
    background, serving = [], []
    real_in_background = scheduler.in_background

    @contextmanager
    def recorded_in_background(app):
        with real_in_background(app) as jobs:
            background.append(jobs)
            yield jobs

    def serve(host, port, app, **options):
        serving.append(_job_table(background[0].get_jobs()))
        with pytest.raises(scheduler.SchedulerAlreadyRunning):  # a `jiayi scheduler` beside the demo refuses
            with scheduler.single_instance(app):
                pass

    monkeypatch.setattr(scheduler, "in_background", recorded_in_background)
    monkeypatch.setattr(cli, "run_simple", serve)
    result = demo.test_cli_runner().invoke(args=["demo", "--residents", "30", "--port", str(free_port()),
                                                 "--sandbox-port", str(free_port())])

    assert result.exit_code == 0, result.output
    assert serving == [_job_table(scheduler.build_scheduler(demo).get_jobs())]
    assert not background[0].running  # stopped with the server, and the lock let go
    with scheduler.single_instance(demo):
        pass


@pytest.mark.no_db
def test_the_demo_runs_no_jobs_while_another_scheduler_holds_the_lock(app):
    with scheduler.single_instance(app):
        with scheduler.in_background(app) as background:
            assert background is None
