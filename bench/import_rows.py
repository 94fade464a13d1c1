"""Benchmark: batch import of service records (with readings) on PostgreSQL, beside a plain bulk insert.

Creates a fresh database (`jiayi_bench_import` by default; dropped first if it exists),
migrates it, builds one region with one institution, team and doctor and enough active
contracts (four "BP" services a year each), then in one run measures:
  - a plain bulk INSERT of the rows, already resolved to ids, into service_record and reading
    (`sa.insert(Table)` executemany, ids handed out beforehand, as the demo seed does),
  - `imports.import_batch` on the same rows as JSON lines: parsing, the rules, set-wise
    look-ups, duplicate and quota checks, the chunked inserts and the kept report,
  - the same file sent again (every row already stored),
and prints the rates and their ratio to the plain insert. The tables are emptied between the
plain insert and the import, so both write into the same empty tables with the same indexes.
Usage:
    python bench/import_rows.py [--rows 100000] [--database-url postgresql://postgres@127.0.0.1:5432/jiayi_bench_import]
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import tempfile
import time
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from flask_migrate import upgrade
from sqlalchemy.engine import make_url

from server import create_app
from server.common.timeutil import SHANGHAI
from server.config import _normalise_db_url, load_settings
from server.contracts.models import Contract
from server.extensions import db
from server.identity.roles import Actor
from server.imports import services as imports
from server.imports.models import ImportBatch
from server.packages.models import PackageItem
from server.regions.models import Region
from server.servicerecords.models import Confirmation, Reading, ServiceRecord, ServiceType
from server.servicerecords.recording import local_date

from common import build_region, fresh_database  # bench/ is the script's folder, so it is on sys.path

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/jiayi_bench_import"
PER_CONTRACT = 4  # the package's yearly quantity of "BP"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    args = parser.parse_args()

    url = fresh_database(_normalise_db_url(args.database_url))
    workdir = tempfile.mkdtemp(prefix="jiayi-bench-import-")
    os.environ["JIAYI_INSTANCE_PATH"] = workdir
    settings = dataclasses.replace(load_settings(workdir), env="testing", log_json=True, database_url=url)
    app = create_app(settings)
    logging.getLogger().setLevel(logging.WARNING)
    with app.app_context():
        upgrade()
        t0 = time.perf_counter()
        actor, region = build_region(contracts=-(-args.rows // PER_CONTRACT), per_contract=PER_CONTRACT)
        rows = make_rows(actor, args.rows)
        content = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode()
        setup_seconds = time.perf_counter() - t0

        plain_seconds = plain_insert(rows, actor, region)
        counts_after_plain = table_counts()
        empty_tables()

        t0 = time.perf_counter()
        first = imports.import_batch(actor, kind="service_records", file_format="jsonl",
                                     filename="bench.jsonl", content=content)
        import_seconds = time.perf_counter() - t0
        t0 = time.perf_counter()
        again = imports.import_batch(actor, kind="service_records", file_format="jsonl",
                                     filename="bench.jsonl", content=content)
        again_seconds = time.perf_counter() - t0
        counts = table_counts()
        server = db.session.scalar(sa.text("SHOW server_version"))

    n = args.rows
    plain_rate, import_rate, again_rate = n / plain_seconds, n / import_seconds, n / again_seconds
    print(f"database: PostgreSQL {server}, {make_url(url).database} (fresh); setup {setup_seconds:.1f} s")
    print(f"file: {n} service-record rows as JSON lines, {len(content) / 1e6:.1f} MB, each with a reading; "
          f"{counts['contract']} contracts × {PER_CONTRACT}")
    print(f"plain bulk INSERT:      {plain_rate:9.0f} rows/s  ({plain_seconds:6.2f} s; service_record "
          f"{counts_after_plain['service_record']}, reading {counts_after_plain['reading']})")
    print(f"import_batch:           {import_rate:9.0f} rows/s  ({import_seconds:6.2f} s) = "
          f"{import_rate / plain_rate:.3f} × plain insert rate")
    print(f"  stored {first.rows_stored}, already stored {first.rows_already_stored}, failed {first.rows_failed}")
    print(f"same file sent again:   {again_rate:9.0f} rows/s  ({again_seconds:6.2f} s) = "
          f"{again_rate / plain_rate:.3f} × plain insert rate")
    print(f"  stored {again.rows_stored}, already stored {again.rows_already_stored}, failed {again.rows_failed}")
    print(f"rows now: service_record {counts['service_record']}, reading {counts['reading']}, "
          f"import_batch {counts['import_batch']}")


def make_rows(actor: Actor, count: int) -> list[dict]:
    """Four services per contract, spread over this year so far, each with a reading."""
    year = datetime.now(SHANGHAI).year
    start = datetime(year, 1, 1, 8, tzinfo=SHANGHAI)
    span = datetime.now(timezone.utc) - timedelta(hours=1) - start
    rows = []
    for n in range(count):
        contract, visit = divmod(n, PER_CONTRACT)
        at = start + span * ((visit + 0.5) / PER_CONTRACT) + timedelta(seconds=contract % 3600)
        rows.append({
            "external_id": f"HIS{n:09d}", "contract_no": f"QYBENCH{year}{contract:07d}", "item_code": "BP",
            "service_type": "clinic" if n % 3 else "home_visit", "served_at": at.isoformat(timespec="seconds"),
            "staff_licence_no": "110350600000001", "place": "压测镇卫生院",
            "systolic_mmhg": 118 + n % 40, "diastolic_mmhg": 70 + n % 20, "heart_rate_bpm": 60 + n % 30,
            "weight_kg": f"{55 + n % 30}.5",
        })
    return rows


def plain_insert(rows: list[dict], actor: Actor, region: Region) -> float:
    """Seconds to insert the rows, resolved to ids beforehand, with one executemany per table."""
    contracts = dict(db.session.execute(sa.select(Contract.contract_no, Contract.id)).all())
    residents = dict(db.session.execute(sa.select(Contract.id, Contract.resident_id)).all())
    item_id = db.session.scalar(sa.select(PackageItem.id).where(PackageItem.region_id == region.id))
    now = datetime.now(timezone.utc)
    first_id = (db.session.scalar(sa.select(sa.func.max(ServiceRecord.id))) or 0) + 1
    records, readings = [], []
    for offset, row in enumerate(rows):
        contract_id, served_at = contracts[row["contract_no"]], datetime.fromisoformat(row["served_at"])
        records.append({
            "id": first_id + offset, "contract_id": contract_id, "package_item_id": item_id,
            "resident_id": residents[contract_id], "region_id": region.id, "institution_id": actor.institution_id,
            "team_id": next(iter(actor.team_ids)), "staff_id": actor.staff_id,
            "service_type": ServiceType(row["service_type"]), "served_at": served_at,
            "served_on": local_date(served_at),
            "place": row["place"], "notes": "", "source": "import", "external_id": row["external_id"],
            "confirmation": Confirmation.PENDING, "confirmed_at": None, "dispute_reason": "", "created_at": now,
            "updated_at": now})
        readings.append({
            "service_record_id": first_id + offset, "resident_id": residents[contract_id], "measured_at": served_at,
            "systolic_mmhg": row["systolic_mmhg"], "diastolic_mmhg": row["diastolic_mmhg"],
            "fasting_glucose_mmol": None, "hba1c_percent": None, "weight_kg": row["weight_kg"],
            "heart_rate_bpm": row["heart_rate_bpm"]})
    t0 = time.perf_counter()
    db.session.execute(sa.insert(ServiceRecord.__table__), records)
    db.session.execute(sa.insert(Reading.__table__), readings)
    db.session.commit()
    return time.perf_counter() - t0


def empty_tables() -> None:
    db.session.execute(sa.text("TRUNCATE reading, service_record RESTART IDENTITY CASCADE"))
    db.session.commit()
    db.session.execute(sa.text("ANALYZE"))
    db.session.commit()


def table_counts() -> dict[str, int]:
    return {model.__tablename__: db.session.scalar(sa.select(sa.func.count()).select_from(model))
            for model in (Contract, ServiceRecord, Reading, ImportBatch)}


if __name__ == "__main__":
    main()
