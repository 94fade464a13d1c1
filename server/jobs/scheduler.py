"""The scheduler process: APScheduler with Asia/Shanghai cron triggers, guarded by a lock.

A second scheduler (a copy enabled on another host by mistake) would run every job twice,
so the process takes a database-wide lock first: a PostgreSQL advisory lock held on its
own connection, or a file lock beside the SQLite database. `jiayi demo` runs the same jobs
on a background thread under the same lock.
"""
from __future__ import annotations

import fcntl
import os
from pathlib import Path
from datetime import timedelta
from contextlib import ExitStack, contextmanager
from collections.abc import Iterator

import sqlalchemy as sa
import structlog
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from flask import Flask

from server.assessment import runs as assessment_runs
from server.common.timeutil import SHANGHAI, local_today, utcnow
from server.contracts import reminders, services as contracts
from server.identity import throttle
from server.imports import exchange
from server.identity.roles import SYSTEM_ACTOR
from server.integrations import registry
from server.payments import reconciliation
from server.surveys import services as surveys
from server.extensions import db

log = structlog.get_logger(__name__)
LOCK_KEY = 0x6A696179  # "jiay": the advisory-lock id every Jiayi scheduler contends for


class SchedulerAlreadyRunning(RuntimeError):
    """Another scheduler holds the lock for this database."""


def expire_contracts_job(app: Flask) -> None:
    with app.app_context():
        log.info("contracts_expired", count=contracts.expire_ended_contracts(local_today()))


def settle_orders_job(app: Flask) -> None:
    """Orders past their expiry or silent for minutes, and refunds in progress: query, then settle."""
    with app.app_context():
        wechatpay = registry.wechatpay()
        log.info("orders_settled", orders=reconciliation.settle_open_orders(wechatpay, utcnow()),
                 refunds=reconciliation.settle_open_refunds(wechatpay))


def reconcile_job(app: Flask) -> None:
    """Yesterday's trade bill against every order and refund (WeChat publishes it after 10:00)."""
    with app.app_context():
        yesterday = local_today() - timedelta(days=1)
        log.info("bill_reconciled", day=str(yesterday),
                 differences=reconciliation.reconcile_day(registry.wechatpay(), yesterday))


def renewal_reminders_job(app: Flask) -> None:
    with app.app_context():
        template = app.config["JIAYI_SETTINGS"].wechat_template_renewal
        log.info("renewal_reminders", sent=reminders.send_renewal_reminders(registry.wechat(), local_today(),
                                                                             template))


def survey_invitations_job(app: Flask) -> None:
    with app.app_context():
        template = app.config["JIAYI_SETTINGS"].wechat_template_survey
        log.info("survey_invitations", invited=surveys.invite_served_residents(registry.wechat(), utcnow(), template))


def assessment_runs_job(app: Flask) -> None:
    """Last year's draft assessment run, on or after the day each region's rules name, once."""
    with app.app_context():
        started, refused = assessment_runs.start_due_runs(local_today(), SYSTEM_ACTOR)
        for region_id, exc in refused:  # e.g. no scheme for the year yet: tried again tomorrow
            log.error("assessment_run_not_started", region_id=region_id, code=exc.code, message=exc.message)
        log.info("assessment_runs_started", runs=[(run.region_id, run.year, run.run_version) for run in started])


def exchange_drop_folder_job(app: Flask) -> None:
    folder = app.config["JIAYI_SETTINGS"].exchange_drop_folder
    if not folder:
        return
    with app.app_context():
        results = exchange.import_drop_folder(Path(folder))
        log.info("exchange_drop_folder", loaded=sum(r.error is None for r in results),
                 failed=sum(r.error is not None for r in results))


def sign_in_counters_job(app: Flask) -> None:
    with app.app_context():
        log.info("sign_in_counters_forgotten", count=throttle.forget_finished(utcnow()))


JOBS = [
    # 00:10 China time: contracts whose period ended yesterday become expired.
    (expire_contracts_job, CronTrigger(hour=0, minute=10, timezone=SHANGHAI), "expire-contracts"),
    (settle_orders_job, IntervalTrigger(minutes=2, timezone=SHANGHAI), "settle-orders"),
    (reconcile_job, CronTrigger(hour=10, minute=30, timezone=SHANGHAI), "reconcile-bill"),
    (renewal_reminders_job, CronTrigger(hour=9, minute=0, timezone=SHANGHAI), "renewal-reminders"),
    (survey_invitations_job, CronTrigger(minute=15, timezone=SHANGHAI), "survey-invitations"),
    # 02:00, after the night's expiry: a due region's draft assessment run of last year.
    (assessment_runs_job, CronTrigger(hour=2, minute=0, timezone=SHANGHAI), "assessment-runs"),
    (sign_in_counters_job, CronTrigger(hour=3, minute=30, timezone=SHANGHAI), "forget-sign-in-counters"),
    (exchange_drop_folder_job, IntervalTrigger(minutes=10, timezone=SHANGHAI), "exchange-drop-folder"),
]


def build_scheduler(app: Flask, kind: type[BaseScheduler] = BlockingScheduler) -> BaseScheduler:
    """Every job of `JOBS`, on a scheduler of `kind`: blocking for `jiayi scheduler`, background for the demo."""
    scheduler = kind(timezone=SHANGHAI, job_defaults={"coalesce": True, "max_instances": 1,
                                                      "misfire_grace_time": 3600})
    for func, trigger, job_id in JOBS:
        scheduler.add_job(func, trigger, args=[app], id=job_id, replace_existing=True)
    return scheduler


@contextmanager
def single_instance(app: Flask) -> Iterator[None]:
    """Hold the scheduler lock for the life of the block, or raise if another holds it."""
    with app.app_context():
        engine = db.engine
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            if not conn.scalar(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": LOCK_KEY}):
                raise SchedulerAlreadyRunning("另一个调度进程正在运行（PostgreSQL 咨询锁已被占用）")
            try:
                yield
            finally:
                conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY})
        return
    path = os.path.join(app.instance_path, "scheduler.lock")
    with open(path, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise SchedulerAlreadyRunning("另一个调度进程正在运行（锁文件已被占用）") from exc
        yield


@contextmanager
def in_background(app: Flask) -> Iterator[BaseScheduler | None]:
    """The jobs on a thread of this process for the life of the block (`jiayi demo`), under the
    same lock; None, and no jobs here, when another scheduler already runs them."""
    with ExitStack() as stack:
        try:
            stack.enter_context(single_instance(app))
        except SchedulerAlreadyRunning as exc:
            log.warning("scheduler_not_started", reason=str(exc))
            yield None
            return
        scheduler = build_scheduler(app, BackgroundScheduler)
        scheduler.start()
        stack.callback(scheduler.shutdown)  # waits for a running job, so the lock outlives it
        log.info("scheduler_started", jobs=[job.id for job in scheduler.get_jobs()], background=True)
        yield scheduler


def run(app: Flask) -> None:
    with single_instance(app):
        scheduler = build_scheduler(app)
        log.info("scheduler_started", jobs=[job.id for job in scheduler.get_jobs()])
        scheduler.start()
