"""Settled claims from the bureau's core system: a hand-made file loaded twice into the
hand-computed region (tests/assessment_region.py), exact totals, the indicators that move,
bad rows with line, field and code, and the API, CLI and drop folder that load it.

The file (2025, national field names):
  line 2  P2 inpatient 10–15 Mar, 4,000.00 yuan = 2,700.00 fund + 1,300.00 personal
  line 3  P1 inpatient 1–4 Sep, 1,000.00 = 700.00 + 300.00
  line 4  the same settlement as line 3 again (a resend): counted, not stored twice
  line 5  P3 inpatient in August, 3,000.00 …
  line 6  … reversed (结算撤销): neither counts, and the hospitalisation rate of Y stays 0
  line 7  P4 inpatient 1–8 Jun, 1,000.00 = 800.00 + 200.00
  line 8  P4 outpatient, 123.45 = 100.00 + 23.45: exact to the fen, in no inpatient indicator
  line 9  someone never signed in the region: skipped, not kept
  line 10 parts that do not add up; line 11 a date that does not exist; line 12 an invalid ID number

What the indicators become (the seeded claims: P1 May 5,000/1,500 personal, P4 Nov 2,000/1,000):
  X  E2 htn hospitalisation: P1 and now P2 → 2/2 = 1, 0 points (was 1/2)
     E4 dm hospitalisation: P2 → 1/1, 0 points (was 0/1, 2 points)
     C1 inpatient cost per person: (5,000 + 1,000 + 4,000) / 2 = 5,000 yuan, 0 points (was 2,500)
     C2 personal share: (1,500 + 300 + 1,300) / 10,000 = 0.31 → 2 × (0.6 − 0.31) / 0.4 = 1.45 points
  Y  E2: P3's only stay was reversed → still 0/1, 2 points
     C1: (2,000 + 1,000) / 2 = 1,500 yuan → 3 × (3,000 − 1,500) / 2,000 = 2.25 points (was 3)
     C2: (1,000 + 200) / 3,000 = 0.4 → 2 × 0.2 / 0.4 = 1 point (was 0.5)
"""
from __future__ import annotations

import csv
import dataclasses
import io
import json
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from server.assessment import runs
from server.assessment.models import IndicatorScore, InstitutionResult
from server.audit.models import AuditEvent
from server.claims import services as claims
from server.claims.models import Claim
from server.common import idcard
from server.extensions import db
from server.identity.services import _staff_actor
from server.imports import bulk, exchange
from server.imports.models import ImportBatch
from server.jobs import scheduler
from server.residents.models import Resident
from tests import assessment_region
from tests.assessment_region import EXPECTED, YEAR
from tests.helpers import assert_error_shape, db_fingerprint

IMPORTS = "/api/admin/v1/exchange/imports"
HEADER = ["setl_id", "mdtrt_id", "psn_no", "certno", "fixmedins_code", "fixmedins_name", "med_type", "begndate",
          "enddate", "setl_time", "medfee_sumamt", "fund_pay_sumamt", "psn_part_amt", "acct_pay", "psn_cash_pay",
          "fulamt_ownpay_amt", "refd_setl_flag", "init_setl_id", "dise_codg"]


def claim(setl_id, certno, med_type, begin, end, total, fund, personal, *, reversal_of="", settled=None):
    values = {"setl_id": setl_id, "mdtrt_id": "MD" + setl_id, "psn_no": "PSN" + certno[-6:], "certno": certno,
              "fixmedins_code": "H35068100001", "fixmedins_name": "漳浦县医院", "med_type": med_type,
              "begndate": begin, "enddate": end, "setl_time": settled or f"{end or begin} 10:30:00",
              "medfee_sumamt": total, "fund_pay_sumamt": fund, "psn_part_amt": personal, "acct_pay": "0",
              "psn_cash_pay": personal, "fulamt_ownpay_amt": "0", "refd_setl_flag": "1" if reversal_of else "0",
              "init_setl_id": reversal_of, "dise_codg": "I10"}
    return values


def as_csv(rows: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=HEADER)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def as_jsonl(rows: list[dict]) -> bytes:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode("utf-8")


def number_of(resident_id: int) -> str:
    return db.session.get(Resident, resident_id).id_number


def hand_made_file(region25) -> list[dict]:
    p = {key: number_of(region25.residents[key]) for key in ("P1", "P2", "P3", "P4")}
    stranger = idcard.make("350681", date(1970, 1, 1), 9999)
    return [
        claim("S25P2IN", p["P2"], "21", "2025-03-10", "2025-03-15", "4000.00", "2700.00", "1300.00"),
        claim("S25P1IN", p["P1"], "21", "2025-09-01", "2025-09-04", "1000.00", "700.00", "300.00"),
        claim("S25P1IN", p["P1"], "21", "2025-09-01", "2025-09-04", "1000.00", "700.00", "300.00"),
        claim("S25P3IN", p["P3"], "21", "2025-08-01", "2025-08-05", "3000.00", "2400.00", "600.00"),
        claim("S25P3RV", p["P3"], "21", "2025-08-01", "2025-08-05", "-3000.00", "-2400.00", "-600.00",
              reversal_of="S25P3IN", settled="2025-08-06 09:00:00"),
        claim("S25P4IN", p["P4"], "21", "2025-06-01", "2025-06-08", "1000.00", "800.00", "200.00"),
        claim("S25P4OUT", p["P4"], "11", "2025-02-01", "", "123.45", "100.00", "23.45"),
        claim("S25STRANGER", stranger, "21", "2025-04-01", "2025-04-03", "900.00", "600.00", "300.00"),
        claim("S25BADSUM", p["P1"], "21", "2025-10-01", "2025-10-02", "100.00", "60.00", "30.00"),
        claim("S25BADDAY", p["P1"], "21", "2025-02-30", "2025-03-02", "100.00", "60.00", "40.00"),
        claim("S25BADID", "350681197001011235", "11", "2025-10-01", "", "100.00", "60.00", "40.00"),
    ]


@pytest.fixture
def region25(session):
    return assessment_region.build()


def load(region25, content: bytes, tmp_path, name="claims-2025.csv") -> ImportBatch:
    path = tmp_path / name
    path.write_bytes(content)
    return exchange.import_path("350681", "claims", path)


def bureau(region25):
    account = region25.accounts["bureau"]
    return _staff_actor(db.session.get(type(account), account.id))


def scores(region25) -> dict[str, dict[str, IndicatorScore]]:
    run = runs.start_run(bureau(region25), year=YEAR, scheme_id=region25.scheme_id)
    names = assessment_region.institution_ids(region25)
    return {names[result.institution_id]: {s.indicator_code: s for s in
                                           db.session.query(IndicatorScore).filter_by(result_id=result.id)}
            for result in db.session.query(InstitutionResult).filter_by(run_id=run.id)}


@pytest.mark.parametrize("chunk_rows", [bulk.CHUNK_ROWS, 2], ids=["one-chunk", "two-rows-a-chunk"])
def test_the_hand_made_file_loads_once_though_sent_twice_with_exact_totals(region25, tmp_path, monkeypatch,
                                                                          chunk_rows):
    # In chunks of two rows, the resend (line 4) and the reversal (line 6) each arrive in a later
    # chunk than the row they repeat or reverse: the outcome is the same.
    monkeypatch.setattr(bulk, "CHUNK_ROWS", chunk_rows)
    content = as_csv(hand_made_file(region25))
    first = load(region25, content, tmp_path)
    assert (first.rows_total, first.rows_stored, first.rows_already_stored, first.rows_skipped,
            first.rows_failed) == (11, 6, 1, 1, 3)
    assert [(f["line"], f["field"], f["code"]) for f in first.failures] == [
        (10, "medfee_sumamt", "AMOUNTS_INCONSISTENT"), (11, "begndate", "DATE_INVALID"),
        (12, "certno", "ID_NUMBER_INVALID")]
    assert first.changes == {"claims_reversed": 1}
    assert first.source == "cli" and first.institution_id is None and len(first.sha256) == 64

    second = load(region25, content, tmp_path)
    assert (second.rows_stored, second.rows_already_stored, second.rows_skipped, second.rows_failed) == (0, 7, 1, 3)
    assert second.changes == {"claims_reversed": 0}
    assert second.sha256 == first.sha256

    totals = {t.claim_type: t for t in claims.claim_totals(bureau(region25), year=YEAR)}
    inpatient, outpatient = totals["inpatient"], totals["outpatient"]
    # Seeded: P1 May 5,000.00 (1,500.00 personal) and P4 Nov 2,000.00 (1,000.00); loaded: P2, P1, P4.
    assert (inpatient.claims, inpatient.total_cost_fen, inpatient.personal_paid_fen, inpatient.fund_paid_fen,
            inpatient.reversed) == (5, 1_300_000, 430_000, 870_000, 1)
    # Seeded: P1 June 300.00 (100.00 personal); loaded: P4 123.45 (23.45).
    assert (outpatient.claims, outpatient.total_cost_fen, outpatient.personal_paid_fen) == (2, 42_345, 12_345)

    reversed_, reversal = (db.session.scalars(sa.select(Claim).where(Claim.setl_id == s)).one()
                           for s in ("S25P3IN", "S25P3RV"))
    assert reversed_.reversed_by_setl_id == "S25P3RV" and reversal.reversal_of_setl_id == "S25P3IN"
    assert reversal.total_cost_fen == -300_000
    stored = db.session.scalars(sa.select(Claim).where(Claim.setl_id == "S25P4OUT")).one()
    assert (stored.claim_type, stored.med_type, stored.total_cost_fen, stored.fund_paid_fen,
            stored.personal_paid_fen, stored.cash_paid_fen, stored.diagnosis_codes) == (
        "outpatient", "11", 12_345, 10_000, 2_345, 2_345, ["I10"])
    assert stored.settled_at.isoformat() == "2025-02-01T02:30:00+00:00"  # 10:30 Beijing time
    assert db.session.scalar(sa.select(sa.func.count()).where(Claim.setl_id == "S25STRANGER")) == 0


def test_the_hospitalisation_and_cost_indicators_move_as_computed_by_hand(region25, tmp_path):
    load(region25, as_csv(hand_made_file(region25)), tmp_path)
    got = scores(region25)
    expected = {
        "X": {"E2": ("2", "2", "0.000"), "E4": ("1", "1", "0.000"), "C1": ("10000", "2", "0.000"),
              "C2": ("310000", "1000000", "1.450")},
        "Y": {"E2": ("0", "1", "2.000"), "E4": ("1", "1", "0.000"), "C1": ("3000", "2", "2.250"),
              "C2": ("120000", "300000", "1.000")},
    }
    for institution, indicators in expected.items():
        for code, (numerator, denominator, points) in indicators.items():
            score = got[institution][code]
            assert (score.numerator, score.denominator, score.points) == (
                Decimal(numerator), Decimal(denominator), Decimal(points)), (institution, code)
    # Before the load the same indicators scored as the region's story says.
    assert EXPECTED["X"]["E4"][3] == "2.000" and EXPECTED["Y"]["C1"][3] == "3.000"


def test_a_reversal_that_arrives_before_its_settlement_is_linked_when_the_settlement_comes(region25, tmp_path):
    rows = hand_made_file(region25)
    reversal, original = rows[4], rows[3]
    first = load(region25, as_csv([reversal]), tmp_path)
    assert first.rows_stored == 1 and first.changes == {"claims_reversed": 0}
    second = load(region25, as_csv([original]), tmp_path)
    assert second.changes == {"claims_reversed": 1}
    assert db.session.scalars(sa.select(Claim.reversed_by_setl_id).where(Claim.setl_id == "S25P3IN")).one() == \
        "S25P3RV"


def test_a_settlement_sent_again_with_other_amounts_is_refused_not_changed(region25, tmp_path):
    rows = hand_made_file(region25)
    load(region25, as_csv(rows[:1]), tmp_path)
    changed = dict(rows[0], medfee_sumamt="4100.00", fund_pay_sumamt="2800.00")
    batch = load(region25, as_csv([changed, dict(changed, setl_id="S25OTHER", mdtrt_id="X")]), tmp_path)
    assert [(f["line"], f["field"], f["code"]) for f in batch.failures] == [(2, "setl_id", "SETTLEMENT_CONFLICT")]
    assert batch.rows_stored == 1
    assert db.session.scalars(sa.select(Claim.total_cost_fen).where(Claim.setl_id == "S25P2IN")).one() == 400_000


def test_json_lines_load_the_same_and_name_their_bad_fields(region25, tmp_path):
    good, other = hand_made_file(region25)[:2]
    lines = [
        json.dumps(dict(good, medfee_sumamt=4000.0, fund_pay_sumamt=2700)),          # numbers as JSON numbers
        json.dumps(dict(other, surprise="x")),
        json.dumps(dict(other, setl_id="S25N", acct_pay={"nested": 1})),
        json.dumps(dict(other, setl_id="S25C", fixmedins_name="医院\u0007")),
        "",                                                                             # blank: not a row
        "[1, 2]",
        "{broken",
        json.dumps(dict(other, setl_id="S25D", medfee_sumamt="1000.001")),
    ]
    batch = load(region25, "\n".join(lines).encode("utf-8") + b"\n", tmp_path, name="claims.jsonl")
    assert (batch.file_format, batch.rows_total, batch.rows_stored) == ("jsonl", 7, 1)
    assert [(f["line"], f["field"], f["code"]) for f in batch.failures] == [
        (2, "surprise", "FIELD_UNKNOWN"), (3, "acct_pay", "FIELD_NOT_TEXT"),
        (4, "fixmedins_name", "CONTROL_CHARACTER"), (6, "", "NOT_JSON_OBJECT"), (7, "", "NOT_JSON_OBJECT"),
        (8, "medfee_sumamt", "AMOUNT_INVALID")]
    assert db.session.scalars(sa.select(Claim.total_cost_fen).where(Claim.setl_id == "S25P2IN")).one() == 400_000


@pytest.mark.parametrize("content, code", [
    (b"", "IMPORT_FILE_EMPTY"),
    (b"setl_id,certno\n", "IMPORT_COLUMNS_INVALID"),
    ("\ufeff" + ",".join(HEADER + ["shoe_size"]) + "\n", "IMPORT_COLUMNS_INVALID"),
    (",".join(HEADER).encode() + b"\n" + "结算".encode("gbk") + b"\n", "IMPORT_FILE_ENCODING"),
])
def test_a_file_that_cannot_be_read_changes_nothing(region25, tmp_path, content, code):
    content = content.encode() if isinstance(content, str) else content
    before = db_fingerprint()
    with pytest.raises(Exception) as raised:
        load(region25, content, tmp_path)
    assert getattr(raised.value, "code", None) == code
    assert db_fingerprint() == before


def test_bureau_staff_load_over_the_api_and_read_the_history(client, world):
    signed = world.residents["R1"]
    rows = [claim("API1", number_of(signed.id), "21", "2026-03-01", "2026-03-03", "10.00", "6.00", "4.00"),
            claim("API2", number_of(signed.id), "21", "2026-03-04", "2026-03-03", "10.00", "6.00", "4.00")]
    response = client.post("/api/admin/v1/exchange/imports", query_string={"kind": "claims", "filename": "c.csv"},
                           data=as_csv(rows), headers=world.headers("bureau"), content_type="text/csv")
    assert response.status_code == 201, response.json
    body = response.json
    assert (body["rows_stored"], body["rows_failed"], body["source"]) == (1, 1, "api")
    assert body["failures"] == [{"line": 3, "field": "enddate", "code": "DATES_OUT_OF_ORDER",
                                 "message": "enddate：结束日期早于开始日期"}]
    listed = client.get("/api/admin/v1/exchange/imports", headers=world.headers("bureau")).json
    assert [item["id"] for item in listed["items"]] == [body["id"]]
    assert client.get(f"/api/admin/v1/exchange/imports/{body['id']}", headers=world.headers("bureau_b")).status_code \
        == 404
    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "exchange_import.create")).one()
    assert event.details["rows_stored"] == 1 and event.details["kind"] == "claims"
    for who in ("manager", "doctor", "assessor"):
        refused = client.post("/api/admin/v1/exchange/imports", query_string={"kind": "claims", "format": "csv"},
                              data=as_csv(rows), headers=world.headers(who))
        assert_error_shape(refused, 403)


def test_the_drop_folder_loads_each_region_file_and_sets_failures_aside(app, region25, tmp_path):
    folder = tmp_path / "drop"
    (folder / "350681").mkdir(parents=True)
    (folder / "350681" / "claims-0301.csv").write_bytes(as_csv(hand_made_file(region25)[:2]))
    (folder / "350681" / "payroll.csv").write_bytes(b"x\n1\n")
    (folder / "999999").mkdir()
    (folder / "999999" / "claims.csv").write_bytes(as_csv(hand_made_file(region25)[:1]))
    results = {r.path.name: r for r in exchange.import_drop_folder(folder)}
    assert results["claims-0301.csv"].batch_id is not None
    assert results["payroll.csv"].error == "IMPORT_KIND_UNKNOWN"
    assert results["claims.csv"].error == "REGION_NOT_FOUND"
    loaded = db.session.get(ImportBatch, results["claims-0301.csv"].batch_id)
    assert (loaded.source, loaded.rows_stored) == ("drop_folder", 2)
    assert (folder / "350681" / "done" / f"{loaded.id}-claims-0301.csv").exists()
    error = json.loads((folder / "350681" / "failed" / "payroll.csv.error.json").read_text(encoding="utf-8"))
    assert error["code"] == "IMPORT_KIND_UNKNOWN"
    assert not any(p.is_file() for p in (folder / "350681").iterdir())


def test_the_scheduled_job_loads_the_configured_drop_folder_and_nothing_without_one(app, region25, tmp_path,
                                                                                 monkeypatch):
    folder = tmp_path / "drop"
    (folder / "350681").mkdir(parents=True)
    (folder / "350681" / "claims.csv").write_bytes(as_csv(hand_made_file(region25)[:1]))
    settings = app.config["JIAYI_SETTINGS"]
    scheduler.exchange_drop_folder_job(app)  # no folder configured: nothing happens
    assert (folder / "350681" / "claims.csv").exists()
    monkeypatch.setitem(app.config, "JIAYI_SETTINGS", dataclasses.replace(settings, exchange_drop_folder=str(folder)))
    scheduler.exchange_drop_folder_job(app)
    assert not (folder / "350681" / "claims.csv").exists()
    assert db.session.scalar(sa.select(sa.func.count()).where(Claim.setl_id == "S25P2IN")) == 1


def test_jiayi_import_loads_files_from_the_command_line(app, region25, tmp_path):
    path = tmp_path / "claims.csv"
    path.write_bytes(as_csv(hand_made_file(region25)[:2]))
    result = app.test_cli_runner().invoke(args=["import", "--region", "350681", "--kind", "claims", str(path)])
    assert result.exit_code == 0, result.output
    assert "新存 2" in result.output


def test_quoted_fields_and_a_line_break_inside_one_keep_every_line_number_right(region25, tmp_path):
    good, other = hand_made_file(region25)[:2]
    lines = [",".join(HEADER)]
    plain = lambda row: ",".join(row[name] for name in HEADER)  # noqa: E731
    lines.append(plain(good))                                                             # line 2
    lines.append(plain(dict(other, fixmedins_name="X")).replace(",X,", ',"漳浦县医院,住院部",'))  # line 3
    lines.append(plain(dict(other, setl_id="S25Q", fixmedins_name="X")).replace(",X,", ',"两行\n名称",'))  # 4–5
    lines.append(plain(dict(other, setl_id="S25R", medfee_sumamt="1e3")))                  # line 6
    batch = load(region25, ("\r\n".join(lines) + "\r\n").encode("utf-8"), tmp_path)
    assert (batch.rows_total, batch.rows_stored) == (4, 2)
    assert [(f["line"], f["field"], f["code"]) for f in batch.failures] == [
        (4, "fixmedins_name", "CONTROL_CHARACTER"), (6, "medfee_sumamt", "AMOUNT_INVALID")]
    assert db.session.scalars(sa.select(Claim.medins_name).where(Claim.setl_id == "S25P1IN")).one() == \
        "漳浦县医院,住院部"


def test_an_absurdly_long_row_is_refused_alone(region25, tmp_path):
    good, other = hand_made_file(region25)[:2]
    long = dict(other, fixmedins_name="院" * 70_000)
    batch = load(region25, as_csv([long, good]), tmp_path)
    assert (batch.rows_stored, [(f["line"], f["code"]) for f in batch.failures]) == (1, [(2, "FIELD_TOO_LONG")])
    batch = load(region25, as_jsonl([dict(long, setl_id="S25L"), dict(good, setl_id="S25M")]), tmp_path, "c.jsonl")
    assert (batch.rows_stored, [(f["line"], f["code"]) for f in batch.failures]) == (1, [(1, "LINE_TOO_LONG")])


def test_hostile_uploads_get_a_4xx_and_change_nothing(client, world):
    before = db_fingerprint()
    headers = world.headers("bureau")
    for query in ({"kind": "claims", "format": "csv", "filename": "c\u0007.csv"},
                  {"kind": "claims", "format": "xml"}, {"kind": "payroll", "format": "csv"},
                  {"kind": "claims", "format": "csv", "surprise": "1"}):
        assert_error_shape(client.post(IMPORTS, query_string=query, data=b"x", headers=headers), (400, 422))
    assert_error_shape(client.get(f"{IMPORTS}/{2**70}", headers=headers), (404, 422))
    assert_error_shape(client.get("/api/admin/v1/claims/totals", query_string={"year": 10**30}, headers=headers), 422)
    assert db_fingerprint() == before
