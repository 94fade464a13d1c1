"""Benchmark: loading a bureau's settled-claims file on PostgreSQL, beside a plain COPY of the same rows.

Creates a fresh database (`jiayi_bench_claims` by default; dropped first if it exists),
migrates it, builds one region whose people all hold a contract (twenty claims each), writes
the claims as a CSV file with the national field names, then in one run measures:
  - the import (`exchange.import_path`, as `jiayi import` runs it): reading and typing each
    row, hashing ID numbers, COPY into the staging table, the rules in SQL, the insert, the
    report — peak memory of this process is printed too;
  - a plain COPY of the same rows into the same `claim` table (its indexes, constraints and
    foreign keys as they are), typed and resolved to resident ids beforehand, so the
    baseline is the database's own bulk speed for that table: the claim table is emptied
    between the two;
  - the same file sent again, after the plain COPY (every row already stored).
Usage:
    python bench/claims_import.py [--rows 1000000] [--database-url postgresql://postgres@127.0.0.1:5432/jiayi_bench_claims]
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import logging
import os
import resource
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import sqlalchemy as sa
from flask_migrate import upgrade
from sqlalchemy.engine import make_url

from server import create_app
from server.claims.claims_import import CLAIM_COLUMNS
from server.claims.models import Claim
from server.config import _normalise_db_url, load_settings
from server.extensions import db
from server.imports import exchange
from server.residents.models import Resident

from common import REGION_CODE, bench_id_number, build_region, fresh_database  # bench/ is on sys.path

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/jiayi_bench_claims"
PER_PERSON = 20
YEAR = 2025
BEIJING = timedelta(hours=8)
COPY_COLUMNS = ("region_id", "resident_id", "setl_id", "mdtrt_id", "med_type", "claim_type", "medins_code",
                "medins_name", "admitted_on", "discharged_on", "settled_at", "diagnosis_codes", "total_cost_fen",
                "fund_paid_fen", "personal_paid_fen", "account_paid_fen", "cash_paid_fen", "self_paid_fen",
                "created_at", "updated_at")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    args = parser.parse_args()

    url = fresh_database(_normalise_db_url(args.database_url))
    workdir = Path(tempfile.mkdtemp(prefix="jiayi-bench-claims-"))
    settings = dataclasses.replace(load_settings(str(workdir)), env="testing", log_json=True, database_url=url)
    app = create_app(settings)
    logging.getLogger().setLevel(logging.WARNING)
    people = -(-args.rows // PER_PERSON)
    with app.app_context():
        upgrade()
        t0 = time.perf_counter()
        _, region = build_region(contracts=people)
        resident_ids = list(db.session.scalars(sa.select(Resident.id).order_by(Resident.id)))
        path = workdir / "claims.csv"
        write_file(path, args.rows)
        db.session.commit()
        db.session.execute(sa.text("ANALYZE"))  # as autovacuum would have, long before a file arrives
        db.session.commit()
        setup_seconds = time.perf_counter() - t0

        rss_before = peak_rss_mib()
        t0 = time.perf_counter()
        first = exchange.import_path(REGION_CODE, "claims", path)
        import_seconds = time.perf_counter() - t0
        import_peak = peak_rss_mib()
        imported = claim_count()

        db.session.execute(sa.text("TRUNCATE claim"))
        db.session.commit()
        baseline = copy_input(args.rows, region.id, resident_ids)
        t0 = time.perf_counter()
        plain_copy(baseline)
        copy_seconds = time.perf_counter() - t0
        copied = claim_count()
        del baseline

        t0 = time.perf_counter()
        again = exchange.import_path(REGION_CODE, "claims", path)
        again_seconds = time.perf_counter() - t0
        server = db.session.scalar(sa.text("SHOW server_version"))

    n = args.rows
    copy_rate, import_rate, again_rate = n / copy_seconds, n / import_seconds, n / again_seconds
    print(f"database: PostgreSQL {server}, {make_url(url).database} (fresh); setup {setup_seconds:.1f} s")
    print(f"file: {n} settled claims as CSV ({path.stat().st_size / 1e6:.1f} MB, national field names), "
          f"{people} signed people × {PER_PERSON}")
    print(f"plain COPY into claim:  {copy_rate:9.0f} rows/s  ({copy_seconds:6.2f} s; {copied} rows)")
    print(f"import (jiayi import):  {import_rate:9.0f} rows/s  ({import_seconds:6.2f} s; {imported} rows) = "
          f"{import_rate / copy_rate:.3f} × plain COPY rate")
    print(f"  stored {first.rows_stored}, already {first.rows_already_stored}, skipped {first.rows_skipped}, "
          f"failed {first.rows_failed}; peak RSS {import_peak:.0f} MiB ({import_peak - rss_before:+.0f} MiB "
          f"during the import)")
    print(f"same file sent again:   {again_rate:9.0f} rows/s  ({again_seconds:6.2f} s) = "
          f"{again_rate / copy_rate:.3f} × plain COPY rate")
    print(f"  stored {again.rows_stored}, already {again.rows_already_stored}, failed {again.rows_failed}")


def claim_row(n: int) -> tuple:
    """The n-th claim: person n // PER_PERSON; every fifth an inpatient stay, the rest outpatient visits."""
    person, visit = divmod(n, PER_PERSON)
    begin = date(YEAR, 1, 1) + timedelta(days=(n * 7) % 360)
    inpatient = visit % 5 == 0
    end = begin + timedelta(days=4) if inpatient else None
    total = 250_000 + n % 97_531 if inpatient else 8_000 + n % 9_973
    personal = total * 3 // 10
    return (f"S{n:014d}", f"M{n:014d}", f"P{person:010d}", bench_id_number(person), "H35062700001", "压测县医院",
            "21" if inpatient else "11", begin, end, datetime(begin.year, begin.month, begin.day, 10, 30),
            total, total - personal, personal)


def yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def write_file(path: Path, rows: int) -> None:
    names = [column.name for column in CLAIM_COLUMNS]
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(names)
        for n in range(rows):
            setl, mdtrt, psn, certno, code, name, med_type, begin, end, settled, total, fund, personal = claim_row(n)
            writer.writerow([setl, mdtrt, psn, certno, code, name, med_type, begin.isoformat(),
                             end.isoformat() if end else "", settled.isoformat(sep=" "), yuan(total), yuan(fund),
                             yuan(personal), "0.00", yuan(personal), "0.00", "0", "", "I10"])


def copy_input(rows: int, region_id: int, resident_ids: list[int]) -> bytes:
    """The same rows as the claim table holds them, as COPY text, built before the clock starts."""
    now = datetime.now(timezone.utc).isoformat()
    out = io.StringIO()
    for n in range(rows):
        setl, mdtrt, _, _, code, name, med_type, begin, end, settled, total, fund, personal = claim_row(n)
        out.write("\t".join((
            str(region_id), str(resident_ids[n // PER_PERSON]), setl, mdtrt, med_type,
            "inpatient" if med_type == "21" else "outpatient", code, name, begin.isoformat(),
            end.isoformat() if end else r"\N", (settled - BEIJING).isoformat() + "+00", '["I10"]',
            str(total), str(fund), str(personal), "0", str(personal), "0", now, now)) + "\n")
    return out.getvalue().encode("utf-8")


def plain_copy(data: bytes) -> None:
    cursor = db.session.connection().connection.driver_connection.cursor()
    with cursor.copy(f"COPY claim ({', '.join(COPY_COLUMNS)}) FROM STDIN") as copy:
        for start in range(0, len(data), 1 << 20):
            copy.write(data[start:start + (1 << 20)])
    db.session.commit()


def claim_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Claim))


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    main()
