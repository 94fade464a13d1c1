"""The test world signs staff in and scopes their first reads."""
from tests.factories import PASSWORD


def test_staff_signs_in_with_password_and_sees_own_scope(client, world):
    username = world.accounts["manager"].username
    response = client.post("/api/admin/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.get_json()
    token = response.get_json()["token"]
    me = client.get("/api/admin/v1/me", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert me["institution_id"] == world.institutions["I1"].id


def test_wrong_password_is_refused_in_chinese(client, world):
    response = client.post("/api/admin/v1/auth/login",
                           json={"username": world.accounts["manager"].username, "password": "nope"})
    assert response.status_code == 401
    assert response.get_json()["code"] == "LOGIN_FAILED"


def test_doctor_lists_only_own_team_patients(client, world):
    body = client.get("/api/doctor/v1/patients", headers=world.headers("doctor")).get_json()
    assert {item["resident_id"] for item in body["items"]} == {world.residents["R1"].id, world.residents["R5"].id}
