"""Every staff read of a person and every state change leaves who, what, when and from where."""
from __future__ import annotations

from server.audit.models import AuditEvent
from server.contracts.models import Contract, ContractEvent
from server.contracts.states import ContractStatus
from server.extensions import db


def _events(action: str) -> list[AuditEvent]:
    return db.session.query(AuditEvent).filter_by(action=action).order_by(AuditEvent.id).all()


def test_a_staff_read_of_a_person_is_audited_with_its_origin(client, world):
    resident = world.residents["R1"]
    client.get(f"/api/admin/v1/residents/{resident.id}", headers={**world.headers("manager"),
                                                                  "X-Forwarded-For": "10.1.2.3",
                                                                  "User-Agent": "console/1.0"})
    [event] = _events("resident.read")
    assert (event.entity_type, event.entity_id) == ("resident", str(resident.id))
    assert (event.actor_role, event.actor_account_id) == ("institution_manager", world.accounts["manager"].id)
    assert event.ip == "10.1.2.3" and event.user_agent == "console/1.0"
    assert event.at is not None and event.at.tzinfo is not None


def test_a_staff_search_records_whom_it_showed_without_the_id_number(client, world):
    number = world.residents["R2"].id_number
    client.get(f"/api/admin/v1/residents?id_number={number}", headers=world.headers("bureau"))
    [event] = _events("resident.list")
    assert event.details == {"ids": [world.residents["R2"].id], "by_id_number": True}


def test_a_resident_reading_their_own_record_is_not_a_staff_read(client, world):
    client.get(f"/api/mp/v1/residents/{world.residents['R1'].id}", headers=world.headers("resident"))
    assert _events("resident.read") == []


def test_a_refused_read_leaves_no_trace_of_the_person(client, world):
    client.get(f"/api/admin/v1/residents/{world.residents['R4'].id}", headers=world.headers("bureau"))
    assert _events("resident.read") == []


def test_termination_changes_state_once_and_is_audited(client, world):
    contract = world.contracts["R1"]
    response = client.post(f"/api/admin/v1/contracts/{contract.id}/terminate", json={"reason": "居民迁出本地区"},
                           headers=world.headers("manager"))
    assert response.status_code == 200
    assert response.get_json()["status"] == "terminated"
    assert db.session.get(Contract, contract.id).status is ContractStatus.TERMINATED
    [event] = _events("contract.terminate")
    assert event.details == {"from": "active", "reason": "居民迁出本地区"}
    history = db.session.query(ContractEvent).filter_by(contract_id=contract.id).order_by(ContractEvent.id).all()
    assert history[-1].to_status is ContractStatus.TERMINATED and history[-1].account_id == event.actor_account_id

    again = client.post(f"/api/admin/v1/contracts/{contract.id}/terminate", json={"reason": "重复提交"},
                        headers=world.headers("manager"))
    assert again.status_code == 422 and again.get_json()["code"] == "CONTRACT_STATE_INVALID"
    assert len(_events("contract.terminate")) == 1


def test_agreement_changes_follow_the_state_table_and_keep_history(client, world):
    from tests.test_scope_matrix import agreement_path
    url = agreement_path(world, "I1", "/status")
    headers = world.headers("bureau")
    assert client.post(url, json={"status": "suspended", "reason": "违规暂停"}, headers=headers).status_code == 200
    assert client.post(url, json={"status": "active", "reason": "整改完成"}, headers=headers).status_code == 200
    assert client.post(url, json={"status": "terminated", "reason": "严重违规"}, headers=headers).status_code == 200
    final = client.post(url, json={"status": "active", "reason": "试图恢复"}, headers=headers)
    assert final.status_code == 422 and final.get_json()["code"] == "AGREEMENT_STATE_INVALID"
    events = client.get(agreement_path(world, "I1", "/events"), headers=headers).get_json()
    assert [e["to_status"] for e in events] == ["active", "suspended", "active", "terminated"]
    assert len(_events("agreement.status")) == 3


def test_only_bureau_staff_read_the_audit_trail_of_their_region(client, world):
    client.get(f"/api/admin/v1/residents/{world.residents['R1'].id}", headers=world.headers("bureau"))
    client.get(f"/api/admin/v1/residents/{world.residents['R4'].id}", headers=world.headers("bureau_b"))
    own = client.get("/api/admin/v1/audit-events?action=resident.read", headers=world.headers("bureau")).get_json()
    assert [e["entity_id"] for e in own["items"]] == [str(world.residents["R1"].id)]
