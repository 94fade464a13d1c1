"""Benchmark: the whole sign-and-pay journey against a running server, beside /healthz.

Starts the sandbox and the platform on loopback (SQLite in a temporary folder, or
`BENCH_DATABASE_URL`), loads the demo region, then in one run measures:
  - /healthz requests per second (the server's ceiling for a request that does nothing),
  - whole journeys per second: wx.login code → sign-in → bind identity → sign → create the
    WeChat Pay order → the payment happens → its signed, encrypted notification → the client's
    payment check finds the contract active,
  - the notify path's latency (p50, p99) for first deliveries,
and prints the journey and notify rates as ratios to /healthz. Usage:
    python bench/journey.py [--journeys 200] [--concurrency 8]
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import requests
from flask_migrate import upgrade
from werkzeug.serving import make_server

from server import create_app
from server.common import idcard
from server.config import load_settings
from server.demo.seed import seed_demo
from server.extensions import db
from server.residents.models import ChronicCondition, Resident
from server.sandbox.cli import config_from_settings
from server.sandbox.miniprogram import MiniProgram
from server.sandbox.server import SandboxServer
from server.teams.models import Team

BENCH_COUNTY = "350627"  # 南靖县: not among the demo's districts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--journeys", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--healthz", type=int, default=3000, help="requests for the /healthz baseline")
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="jiayi-bench-")
    os.environ["JIAYI_INSTANCE_PATH"] = workdir
    base = load_settings(workdir)
    url = os.environ.get("BENCH_DATABASE_URL", f"sqlite:///{workdir}/bench.sqlite")
    sandbox = SandboxServer(config_from_settings(base, os.path.join(workdir, "sandbox-keys")))
    sandbox_url = sandbox.start()
    port = _free_port()
    settings = dataclasses.replace(
        base, env="testing", log_json=True, database_url=url, wechat_api_base=sandbox_url,
        wechatpay_api_base=sandbox_url, insurance_api_base=sandbox_url,
        wechatpay_notify_url=f"http://127.0.0.1:{port}/api/mp/v1/payments/notify")
    app = create_app(settings)
    for name in ("", "werkzeug"):  # request logs would dominate the measurement
        logging.getLogger(name).setLevel(logging.WARNING)
    with app.app_context():
        upgrade()
        seed_demo(residents=300)
        team_id, people = _bench_people(args.journeys)
    server = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    platform = f"http://127.0.0.1:{port}"

    try:
        healthz_rate, healthz_latencies = _measure(args.healthz, args.concurrency,
                                                   lambda http, n: http.get(f"{platform}/healthz").raise_for_status())
        notify_latencies: list[float] = []

        def journey(http: requests.Session, n: int) -> None:
            notify_latencies.append(_journey(http, platform, sandbox_url, team_id, people[n]))

        journey_rate, _ = _measure(args.journeys, args.concurrency, journey)
    finally:
        server.shutdown()
        sandbox.stop()

    healthz_p99, notify_p99 = _p99(healthz_latencies), _p99(notify_latencies)
    print(f"database: {url.split(':', 1)[0]}; concurrency {args.concurrency}; {args.journeys} journeys")
    print(f"/healthz:              {healthz_rate:8.1f} req/s        p99 {healthz_p99:7.1f} ms")
    print(f"sign-and-pay journey:  {journey_rate:8.1f} journeys/s   = {journey_rate / healthz_rate:.4f} × /healthz rate"
          " (a journey is 7 platform requests and 4 sandbox calls)")
    print(f"notify path:           p50 {statistics.median(notify_latencies) * 1000:6.1f} ms   p99 {notify_p99:7.1f} ms"
          f" = {notify_p99 / healthz_p99:.1f} × /healthz p99")
    print(f"notify p99 within WeChat Pay's 5-second limit: {'yes' if notify_p99 < 5000 else 'NO'}")


def _bench_people(count: int) -> tuple[int, list[tuple[str, str]]]:
    """A roomy team and `count` hypertension patients known from health records, not yet bound.

    Their ID numbers come from a county the demo does not use, so they never collide with it.
    """
    team = db.session.scalars(db.select(Team).order_by(Team.id)).first()
    team.capacity = 1_000_000
    people = []
    for n in range(count):
        number = idcard.make(BENCH_COUNTY, date(1955, 1, 1) + timedelta(days=n // 500), n % 500 * 2 + 1)
        resident = Resident(region_id=team.region_id, name=f"压测{n:04d}", gender=idcard.gender(number),
                            birth_date=idcard.birth_date(number), insured_admdvs="350600",
                            insurance_status="active", insurance_type="390")
        resident.set_id_number(number)
        db.session.add(resident)
        db.session.flush()
        db.session.add(ChronicCondition(resident_id=resident.id, disease_code="hypertension"))
        people.append((resident.name, number))
    db.session.commit()
    return team.id, people


def _journey(http: requests.Session, platform: str, sandbox: str, team_id: int, person: tuple[str, str]) -> float:
    """One resident from wx.login to an active contract; returns the notify call's seconds."""
    phone = MiniProgram(platform, sandbox, http)
    phone.login()
    resident = phone.bind(*person)
    offer = next(o for o in phone.ok("GET", f"/residents/{resident}/offers") if o["eligible"])
    contract = phone.sign(resident, team_id, offer["package_version_id"])["id"]
    order = phone.start_payment(contract)
    phone.pay(order, deliver="drop")  # we deliver the notification ourselves, to time it
    headers, body = phone.notification(order)
    started = time.perf_counter()
    answer = phone.deliver(headers, body)
    elapsed = time.perf_counter() - started
    if answer.status_code not in (200, 204):
        raise RuntimeError(f"notify answered {answer.status_code}: {answer.text}")
    # wx.requestPayment has returned: the mini-program asks the platform to check, as it always does.
    if phone.check_payment(contract)["status"] != "active":
        raise RuntimeError("the contract did not become active")
    return elapsed


def _measure(count: int, concurrency: int, call) -> tuple[float, list[float]]:
    """Run `call(session, n)` for n in range(count) on `concurrency` threads: (calls/s, each call's seconds)."""
    sessions = threading.local()
    latencies: list[float] = []

    def one(n: int) -> None:
        if not hasattr(sessions, "http"):
            sessions.http = requests.Session()
        started = time.perf_counter()
        call(sessions.http, n)
        latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(count)))
    return count / (time.perf_counter() - started), latencies


def _p99(seconds: list[float]) -> float:
    ordered = sorted(seconds)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if __name__ == "__main__":
    sys.exit(main())
