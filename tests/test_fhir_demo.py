"""The demo region exported in bulk: every file streams while it is generated, in memory bounded by
the chunk it reads, not by the region; and every resource of a realistic region validates."""
from __future__ import annotations

import json
import tracemalloc

import pytest

from server.demo import seed
from server.fhir import queries
from tests.test_fhir_export import EXCHANGE, check_resources

A = "/api/admin/v1/fhir"


def _bureau(client) -> dict[str, str]:
    signed_in = client.post("/api/admin/v1/auth/login", json={"username": "bureau", "password": seed.PASSWORD})
    return {"Authorization": f"Bearer {signed_in.get_json()['token']}"}


def _files(client, headers, **params) -> list[dict]:
    started = client.get(f"{A}/$export", query_string={**EXCHANGE, **params},
                         headers={**headers, "Prefer": "respond-async"})
    assert started.status_code == 202, started.get_data(as_text=True)
    return client.get(started.headers["Content-Location"], headers=headers).get_json()["output"]


def test_the_demo_regions_export_streams_in_memory_bounded_by_the_chunk_not_the_region(app, client, monkeypatch):
    seed.seed_demo(residents=1200)
    headers = _bureau(client)
    [encounters] = _files(client, headers, _type="Encounter")
    monkeypatch.setattr(queries, "CHUNK", 100)
    response = client.get(encounters["url"], headers=headers)
    assert response.status_code == 200 and response.is_streamed
    chunks = iter(response.response)  # pulled from the generator: each chunk is made as it is read
    first = next(chunks)  # the query compiled and the first rows fetched: what every export costs once
    produced, lines = len(first), first.count(b"\n")
    tracemalloc.start()
    try:
        for chunk in chunks:
            produced += len(chunk)
            lines += chunk.count(b"\n")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        response.close()
    assert lines > 10_000, "the demo region has over ten thousand visits"
    assert peak < produced / 10, f"peak {peak} bytes while producing {produced}"


def test_every_resource_of_a_demo_region_export_validates_and_resolves(app, client):
    seed.seed_demo(residents=300)
    headers = _bureau(client)
    resources = []
    for output in _files(client, headers):
        text = client.get(output["url"], headers=headers).get_data(as_text=True)
        rows = [json.loads(line) for line in text.splitlines()]
        assert rows and {r["resourceType"] for r in rows} == {output["type"]}
        resources += rows
    check_resources(resources)


@pytest.mark.parametrize("purpose_code", ["research", "statistics"])
def test_a_de_identified_demo_export_holds_no_name_or_id_number(app, client, purpose_code):
    seed.seed_demo(residents=50)
    headers = _bureau(client)
    [patients] = _files(client, headers, _type="Patient", purpose_code=purpose_code, purpose="签约人群血压控制率分析")
    rows = [json.loads(line) for line in client.get(patients["url"], headers=headers).get_data(as_text=True)
            .splitlines()]
    assert rows and all(set(r) == {"resourceType", "id", "gender", "birthDate"} for r in rows)
    assert all(len(r["birthDate"]) == 4 for r in rows)
