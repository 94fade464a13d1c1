"""Roster changes and benefit registrations as the bureau sends them: files in the national field
names, over the API, loaded twice; bad rows with line, field and code while the good ones apply.

The domain rules behind them (refund policies by date, flags, one alert) are tested on their own in
tests/test_roster_changes.py and tests/test_benefit_registrations.py; here, the files.
"""
from __future__ import annotations

import csv
import io
from datetime import timedelta

import sqlalchemy as sa

from server.common import idcard
from server.common.timeutil import local_today
from server.contracts.models import Contract, ContractEvent
from server.contracts.states import ContractStatus
from server.extensions import db
from server.residents.models import BenefitAlert
from server.settlement.models import SettlementCheck
from tests.test_claims_import import number_of

IMPORTS = "/api/admin/v1/exchange/imports"


def as_csv(header: list[str], rows: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def send(client, world, kind: str, content: bytes) -> dict:
    response = client.post(IMPORTS, query_string={"kind": kind, "format": "csv"}, data=content,
                           headers=world.headers("bureau"))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


ROSTER = ["chg_sn", "psn_no", "certno", "chg_type", "chg_date", "insuplc_admdvs", "memo"]


def test_a_roster_file_ends_a_dead_persons_contract_flags_a_move_and_reports_bad_rows(client, world):
    yesterday = (local_today() - timedelta(days=1)).isoformat()
    r1, r2 = (number_of(world.residents[key].id) for key in ("R1", "R2"))
    rows = [
        {"chg_sn": "BG001", "psn_no": "P1", "certno": r1, "chg_type": "41", "chg_date": yesterday},
        {"chg_sn": "BG002", "psn_no": "P2", "certno": r2, "chg_type": "31", "chg_date": yesterday,
         "insuplc_admdvs": "350200"},
        {"chg_sn": "BG003", "psn_no": "P3", "certno": r2, "chg_type": "99", "chg_date": yesterday},
        {"chg_sn": "BG004", "psn_no": "P4", "certno": r2, "chg_type": "21", "chg_date": "2026-13-01"},
        {"chg_sn": "BG005", "psn_no": "P5", "certno": idcard.make("350600", local_today() - timedelta(days=9000), 7),
         "chg_type": "41", "chg_date": yesterday},
    ]
    first = send(client, world, "roster", as_csv(ROSTER, rows))
    assert (first["rows_stored"], first["rows_failed"], first["rows_skipped"]) == (2, 2, 1)
    assert [(f["line"], f["field"], f["code"]) for f in first["failures"]] == [
        (4, "chg_type", "CODE_UNKNOWN"), (5, "chg_date", "DATE_INVALID")]
    assert first["changes"]["contracts_ended"] == 1 and first["changes"]["contracts_flagged"] >= 1

    ended = db.session.get(Contract, world.contracts["R1"].id)
    assert ended.status is ContractStatus.TERMINATED
    history = db.session.scalars(sa.select(ContractEvent).where(ContractEvent.contract_id == ended.id)
                                 .order_by(ContractEvent.id.desc())).first()
    assert history.to_status is ContractStatus.TERMINATED and "死亡" in history.reason
    moved = world.contracts["R2"].id
    assert db.session.scalar(sa.select(SettlementCheck.reason).where(SettlementCheck.contract_id == moved)) \
        .value == "moved_out"
    assert db.session.scalar(sa.select(sa.func.count()).where(ContractEvent.contract_id == moved,
                                                              ContractEvent.reason.contains("转出"))) == 1

    again = send(client, world, "roster", as_csv(ROSTER, rows))
    assert (again["rows_stored"], again["rows_already_stored"], again["rows_failed"]) == (0, 2, 2)
    assert not any(again["changes"].values())


BENEFITS = ["trt_dcla_detl_sn", "psn_no", "certno", "opsp_type", "opsp_dise_code", "opsp_dise_name", "begndate",
            "enddate"]


def test_a_new_two_disease_registration_raises_one_alert_however_often_the_file_comes(client, world):
    r1 = number_of(world.residents["R1"].id)
    start = local_today().replace(day=1).isoformat()
    rows = [
        {"trt_dcla_detl_sn": "DJ001", "psn_no": "P1", "certno": r1, "opsp_type": "1", "opsp_dise_code": "M03900",
         "opsp_dise_name": "高血压", "begndate": start},
        {"trt_dcla_detl_sn": "DJ002", "psn_no": "P1", "certno": r1, "opsp_type": "2", "opsp_dise_code": "M99999",
         "begndate": start},
        {"trt_dcla_detl_sn": "DJ003", "psn_no": "P1", "certno": r1, "opsp_type": "2", "opsp_dise_code": "M01600",
         "begndate": start, "enddate": "2020-01-01"},
        {"trt_dcla_detl_sn": "DJ004", "psn_no": "P1", "certno": r1, "opsp_type": "3", "opsp_dise_code": "M03900",
         "begndate": start},
    ]
    first = send(client, world, "benefits", as_csv(BENEFITS, rows))
    assert (first["rows_stored"], first["rows_failed"]) == (1, 3)
    assert [(f["line"], f["field"], f["code"]) for f in first["failures"]] == [
        (3, "opsp_dise_code", "DISEASE_UNKNOWN"), (4, "enddate", "DATES_OUT_OF_ORDER"), (5, "opsp_type", "CODE_UNKNOWN")]
    assert first["changes"]["alerts_raised"] == 1
    for _ in range(2):
        again = send(client, world, "benefits", as_csv(BENEFITS, rows))
        assert (again["rows_stored"], again["rows_already_stored"], again["changes"]["alerts_raised"]) == (0, 1, 0)
    alerts = db.session.scalars(sa.select(BenefitAlert).where(
        BenefitAlert.contract_id == world.contracts["R1"].id)).all()
    assert len(alerts) == 1
    patient = client.get(f"/api/doctor/v1/patients/{world.residents['R1'].id}", headers=world.headers("doctor"))
    assert [alert["scheme"] for alert in patient.get_json()["benefit_alerts"]] == ["two_disease_drug"]
