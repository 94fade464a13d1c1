"""The database's own guards of two prescription rules the services check first: one active
prescription per contract, one dispensing of a drug per day.

Rows written past the service check are refused by the unique indexes; a race the check cannot
see (a competing row written between the check and our write) answers 409 with the rule's code,
through the doctor's API and through the dispensing import. The competing row is written on the
same connection right before our INSERT, as a concurrent request's committed row would be there.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from server.common.timeutil import local_today, utcnow
from server.extensions import db
from server.prescriptions.models import Dispensing, Prescription, PrescriptionItem, PrescriptionStatus
from tests import test_migrations
from tests.factories import add
from tests.helpers import assert_error_shape, db_fingerprint
from tests.test_migrations import _jiayi

empty_database = test_migrations.empty_database  # the fixture: an empty database of its own

URL = "/api/doctor/v1/prescriptions"
AMLODIPINE = {"drug_code": "XC08CAA0001", "drug_name": "苯磺酸氨氯地平片", "drug_class": "antihypertensive",
              "dosage": "5mg", "frequency": "每日一次", "quantity": "28", "unit": "片"}


def issue(client, world, key="R1"):
    body = {"contract_id": world.contracts[key].id, "issued_on": local_today().isoformat(), "weeks": 4,
            "items": [dict(AMLODIPINE)]}
    return client.post(URL, json=body, headers=world.headers("doctor"))


def issued(client, world, key="R1") -> dict:
    response = issue(client, world, key)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def dispense(client, world, script: dict):
    payload = {"dispensed_on": local_today().isoformat(),
               "items": [{"prescription_item_id": i["id"], "quantity": i["quantity"]} for i in script["items"]]}
    return client.post(f"{URL}/{script['id']}/dispensings", json=payload, headers=world.headers("doctor"))


def conflict(response, code: str) -> dict:
    body = assert_error_shape(response, 409)
    assert body["code"] == code, body
    return body


def prescription_row(world, key="R1", status=PrescriptionStatus.ACTIVE) -> dict:
    contract = world.contracts[key]
    now = utcnow()
    return {"contract_id": contract.id, "resident_id": contract.resident_id, "region_id": contract.region_id,
            "institution_id": contract.institution_id, "team_id": contract.team_id,
            "prescriber_staff_id": contract.doctor_staff_id, "issued_on": local_today(), "weeks": 4,
            "stable_patient": False, "stability_assessment": "", "status": status,
            "created_at": now, "updated_at": now}


def dispensing_row(script: dict, on=None) -> dict:
    now = utcnow()
    return {"prescription_id": script["id"], "prescription_item_id": script["items"][0]["id"],
            "institution_id": db.session.get(Prescription, script["id"]).institution_id,
            "dispensed_on": on or local_today(), "quantity": Decimal("1"), "created_at": now, "updated_at": now}


@contextmanager
def competing_insert(table: sa.Table, values: dict) -> Iterator[None]:
    """Write `values` into `table` right before the next INSERT into it, once: a concurrent
    request that passed the same check and committed first."""
    connection = db.session.connection()
    done = []

    def before_execute(conn, statement, *_args):
        if not done and isinstance(statement, sa.Insert) and statement.table is table:
            done.append(True)
            conn.execute(sa.insert(table).values(**values))

    sa.event.listen(connection, "before_execute", before_execute)
    try:
        yield
    finally:
        sa.event.remove(connection, "before_execute", before_execute)
    assert done, f"nothing was inserted into {table.name}"


def refused_by_the_database(write: Callable[[], None]) -> None:
    with pytest.raises(IntegrityError):
        write()
        db.session.flush()
    db.session.rollback()


# --- one active prescription per contract ------------------------------------------------------------

def test_the_database_keeps_one_active_prescription_per_contract(world):
    table = Prescription.__table__
    db.session.execute(sa.insert(table).values(**prescription_row(world)))
    db.session.commit()
    refused_by_the_database(lambda: db.session.execute(sa.insert(table).values(**prescription_row(world))))
    # Only active ones count: finished prescriptions stay beside the current one, other contracts are free.
    for status in (PrescriptionStatus.COMPLETED, PrescriptionStatus.CANCELLED, PrescriptionStatus.COMPLETED):
        db.session.execute(sa.insert(table).values(**prescription_row(world, status=status)))
    db.session.execute(sa.insert(table).values(**prescription_row(world, key="R5")))
    db.session.commit()
    active = db.session.scalars(sa.select(Prescription.contract_id).where(
        Prescription.status == PrescriptionStatus.ACTIVE).order_by(Prescription.contract_id)).all()
    assert active == sorted([world.contracts["R1"].id, world.contracts["R5"].id])


def test_a_prescription_issued_while_another_is_being_issued_is_a_conflict(client, world):
    current = issued(client, world)
    before = db_fingerprint()
    with competing_insert(Prescription.__table__, prescription_row(world)):
        body = conflict(issue(client, world), "PRESCRIPTION_ALREADY_ACTIVE")
    assert "处方" in body["message"]
    assert db_fingerprint() == before
    assert db.session.get(Prescription, current["id"]).status is PrescriptionStatus.ACTIVE
    assert issued(client, world)["status"] == "active"  # once the race is over, the next one replaces it


# --- one dispensing of a drug per day --------------------------------------------------------------

def test_the_database_keeps_one_dispensing_of_a_drug_per_day(client, world):
    script = issued(client, world)
    table = Dispensing.__table__
    db.session.execute(sa.insert(table).values(**dispensing_row(script)))
    db.session.commit()
    refused_by_the_database(lambda: db.session.execute(sa.insert(table).values(**dispensing_row(script))))
    refused_by_the_database(lambda: add(Dispensing(**dispensing_row(script))))
    db.session.execute(sa.insert(table).values(**dispensing_row(script, on=local_today() - timedelta(days=1))))
    other_drug = add(PrescriptionItem(prescription_id=script["id"], drug_code="XA10BAA0002", drug_name="二甲双胍片",
                                      quantity=Decimal("84"), unit="片"))
    db.session.execute(sa.insert(table).values({**dispensing_row(script), "prescription_item_id": other_drug.id}))
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Dispensing)) == 3


def test_a_dispensing_recorded_while_another_is_being_recorded_is_a_conflict(client, world):
    script = issued(client, world)
    before = db_fingerprint()
    with competing_insert(Dispensing.__table__, dispensing_row(script)):
        body = conflict(dispense(client, world, script), "DISPENSING_ALREADY_RECORDED")
    assert "取药" in body["message"]
    assert db_fingerprint() == before
    assert dispense(client, world, script).status_code == 201


def test_an_import_racing_a_dispensing_fails_as_a_batch_with_the_rules_code(client, world):
    script = issued(client, world)
    line = {"external_id": "D1", "prescription_id": script["id"], "drug_code": AMLODIPINE["drug_code"],
            "dispensed_on": local_today().isoformat(), "quantity": "28"}
    content = (json.dumps(line) + "\n").encode()
    before = db_fingerprint()

    def send():
        return client.post("/api/doctor/v1/imports", query_string={"kind": "dispensings", "format": "jsonl"},
                           data=content, headers=world.headers("doctor"), content_type="application/octet-stream")

    with competing_insert(Dispensing.__table__, dispensing_row(script)):
        conflict(send(), "DISPENSING_ALREADY_RECORDED")
    assert db_fingerprint() == before  # no batch report, no row: sending the file again is safe
    assert send().get_json()["rows_stored"] == 1


# --- the migration that adds the guards --------------------------------------------------------------

@pytest.mark.no_db
def test_the_migration_stops_with_a_count_on_rows_that_break_the_guards(empty_database):
    assert _jiayi(empty_database, "upgrade", "a1d0c0de0013").returncode == 0
    engine = sa.create_engine(empty_database)
    now = utcnow()
    script = {"resident_id": 1, "region_id": 1, "institution_id": 1, "team_id": 1, "prescriber_staff_id": 1,
              "issued_on": now.date(), "weeks": 4, "stable_patient": False, "stability_assessment": "",
              "status": PrescriptionStatus.ACTIVE, "created_at": now, "updated_at": now}
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("SET LOCAL session_replication_role = replica"))  # no parent rows needed
        conn.execute(sa.insert(Prescription.__table__), [
            {**script, "id": n, "contract_id": contract} for n, contract in ((1, 7), (2, 7), (3, 8), (4, 8), (5, 9))])
        conn.execute(sa.insert(Dispensing.__table__), [
            {"id": n, "prescription_id": 1, "prescription_item_id": 1, "institution_id": 1,
             "dispensed_on": now.date(), "quantity": Decimal("1"), "created_at": now, "updated_at": now}
            for n in (1, 2)])

    refused = _jiayi(empty_database, "upgrade")
    assert refused.returncode != 0
    assert "2 contracts have more than one active prescription" in refused.stderr, refused.stderr[-2000:]
    assert "1 prescription items are dispensed more than once on one day" in refused.stderr
    with engine.begin() as conn:
        assert conn.scalar(sa.text("SELECT version_num FROM alembic_version")) == "a1d0c0de0013"
        conn.execute(sa.update(Prescription.__table__).where(Prescription.id.in_([1, 3]))
                     .values(status=PrescriptionStatus.COMPLETED))
        conn.execute(sa.delete(Dispensing.__table__).where(Dispensing.id == 2))
    engine.dispose()
    assert _jiayi(empty_database, "upgrade").returncode == 0
