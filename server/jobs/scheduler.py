"""The scheduler process: APScheduler with Asia/Shanghai cron triggers, guarded by a lock.

A second scheduler (a copy enabled on another host by mistake) would run every job twice,
so the process takes a database-wide lock first: a PostgreSQL advisory lock held on its
own connection, or a file lock beside the SQLite database.
"""
from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from collections.abc import Iterator

import sqlalchemy as sa
import structlog
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from flask import Flask

from server.common.timeutil import SHANGHAI, local_today
from server.contracts import services as contracts
from server.extensions import db

log = structlog.get_logger(__name__)
LOCK_KEY = 0x6A696179  # "jiay": the advisory-lock id every Jiayi scheduler contends for


class SchedulerAlreadyRunning(RuntimeError):
    """Another scheduler holds the lock for this database."""


def expire_contracts_job(app: Flask) -> None:
    with app.app_context():
        count = contracts.expire_ended_contracts(local_today())
        log.info("contracts_expired", count=count)


JOBS = [
    # 00:10 China time: contracts whose period ended yesterday become expired.
    (expire_contracts_job, CronTrigger(hour=0, minute=10, timezone=SHANGHAI), "expire-contracts"),
]


def build_scheduler(app: Flask) -> BlockingScheduler:
    scheduler = BlockingScheduler(timezone=SHANGHAI, job_defaults={"coalesce": True, "max_instances": 1,
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


def run(app: Flask) -> None:
    with single_instance(app):
        scheduler = build_scheduler(app)
        log.info("scheduler_started", jobs=[job.id for job in scheduler.get_jobs()])
        scheduler.start()
