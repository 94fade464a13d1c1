"""Assertions shared by the API tests."""
from __future__ import annotations

import sqlalchemy as sa

from server.extensions import db

SANDBOX_TIME_SCALE = 0.01  # WeChat Pay's 15-second notification retry becomes 0.15 s


def db_fingerprint() -> tuple:
    """Row counts of every table plus the mutable states, to prove a refused call wrote nothing."""
    tables = sorted(db.metadata.tables)
    counts = db.session.execute(sa.text(" UNION ALL ".join(
        f"SELECT '{name}', COUNT(*) FROM {name}" for name in tables))).all()
    states = db.session.execute(sa.text(
        "SELECT 'c', id, status FROM contract UNION ALL SELECT 'a', id, status FROM agreement "
        "UNION ALL SELECT 'm', id, CAST(left_on AS VARCHAR(10)) FROM team_membership")).all()
    return tuple(sorted(counts)), tuple(sorted(states, key=lambda r: (r[0], r[1])))


def assert_error_shape(response, status: int | tuple[int, ...]) -> dict:
    statuses = status if isinstance(status, tuple) else (status,)
    assert response.status_code in statuses, (response.status_code, response.get_data(as_text=True)[:500])
    body = response.get_json()
    assert set(body) == {"code", "message", "details"}, body
    assert body["code"] and body["message"]
    return body


def sign_as_resident(client, world, resident, *, team="T1", key=None, **overrides):
    body = {"resident_id": resident.id, "team_id": world.teams[team].id,
            "package_version_id": world.packages["A"].id, "consent": True, **overrides}
    headers = {**world.headers("resident"), **({"Idempotency-Key": key} if key else {})}
    return client.post("/api/mp/v1/contracts/sign", json=body, headers=headers)
