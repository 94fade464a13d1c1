"""Personal data: encrypted at rest, findable by keyed hash, masked in every response and log line."""
from __future__ import annotations

import io
import logging

import pytest
import sqlalchemy as sa

from server import logging_setup
from server.common import idcard, pii
from server.extensions import db
from tests.test_scope_matrix import CALLERS, CASES


def _secrets(world) -> list[str]:
    people = [*world.residents.values(), *world.doctors.values()]
    values = [r.id_number for r in world.residents.values()] + [p.phone for p in people if p.phone]
    assert len(values) >= 9
    return values


def _all_rows_as_text() -> str:
    chunks = []
    for name in sorted(db.metadata.tables):
        for row in db.session.execute(sa.text(f"SELECT * FROM {name}")):
            chunks.append(" ".join(str(v) for v in row))
    return "\n".join(chunks)


def _exercise_the_api(client, world) -> list:
    """Call every GET in the scope matrix as each allowed caller, plus searches by ID number."""
    responses = []
    for case in CASES:
        if case.method != "GET":
            continue
        for target in case.targets:
            for caller, role in CALLERS.items():
                if role in case.roles:
                    responses.append(client.get(case.path(world, target), headers=world.headers(caller)))
    for resident in world.residents.values():
        responses.append(client.get(f"/api/admin/v1/residents?id_number={resident.id_number}",
                                    headers=world.headers("bureau")))
    return responses


def test_raw_rows_hold_no_id_or_phone_number_in_clear(client, world):
    _exercise_the_api(client, world)
    dump = _all_rows_as_text()
    for secret in _secrets(world):
        assert secret not in dump
    stored = db.session.execute(sa.text("SELECT id_number, id_number_hash FROM resident")).first()
    assert stored.id_number.startswith("v1:") and len(stored.id_number_hash) == 64


def test_every_response_masks_id_and_phone_numbers(client, world):
    responses = _exercise_the_api(client, world)
    assert sum(r.status_code == 200 for r in responses) > 100
    for response in responses:
        text = response.get_data(as_text=True)
        for secret in _secrets(world):
            assert secret not in text, response.request.path
    shown = client.get(f"/api/admin/v1/residents/{world.residents['R1'].id}", headers=world.headers("bureau"))
    number = world.residents["R1"].id_number
    assert shown.get_json()["id_number"] == number[:4] + "*" * 10 + number[-4:]


def test_every_log_line_masks_id_and_phone_numbers(client, world):
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logging_setup.formatter(json=True))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        _exercise_the_api(client, world)
        number = world.residents["R1"].id_number
        logging.getLogger("some.library").warning("raw stdlib line with %s and %s", number, "13812345678")
    finally:
        root.removeHandler(handler)
    lines = buffer.getvalue().splitlines()
    assert len(lines) > 100
    assert any("3506**********" in line for line in lines), "searches by ID number were logged, masked"
    for line in lines:
        for secret in [*_secrets(world), "13812345678"]:
            assert secret not in line


def test_search_by_id_number_finds_through_the_keyed_hash(client, world):
    resident = world.residents["R2"]
    found = client.get(f"/api/admin/v1/residents?id_number={resident.id_number.lower()}",
                       headers=world.headers("bureau")).get_json()
    assert [item["id"] for item in found["items"]] == [resident.id]


@pytest.mark.no_db
@pytest.mark.parametrize("number, valid", [
    ("11010519491231002X", True),    # the standard's own example
    ("11010519491231002x", True),
    ("110105194912310021", False),   # wrong check digit
    ("110105194902300028", False),   # 30 February
    ("11010519491231002", False),
    ("1101051949123100ZX", False),
])
def test_id_numbers_are_checked_by_the_gb11643_check_digit(number, valid):
    assert idcard.is_valid(number) is valid


@pytest.mark.no_db
def test_masking_and_scrubbing_keep_only_prefix_and_suffix():
    assert pii.mask_id_number("35060219600517001X") == "3506**********001X"
    assert pii.mask_phone("13812345678") == "138****5678"
    assert pii.scrub("call 13812345678 about 35060219600517001X.") == "call 138****5678 about 3506**********001X."
    assert pii.scrub("order 1234567890123456789012") == "order 1234567890123456789012"


def test_ciphertext_differs_each_time_but_the_hash_does_not(app):
    assert pii.encrypt("13812345678") != pii.encrypt("13812345678")
    assert pii.decrypt(pii.encrypt("13812345678")) == "13812345678"
    assert pii.blind_index("35060219600517001x") == pii.blind_index("35060219600517001X")
