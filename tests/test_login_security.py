"""Logins an attacker learns nothing from: one answer for every failure, failures audited,
guessing throttled in the database for every worker, a lockout that ends, a logout that ends tokens."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
import requests
import sqlalchemy as sa

import server
from server.audit.models import AuditEvent
from server.common.timeutil import local_today, utcnow
from server.extensions import db
from server.identity import throttle
from server.identity.models import SignInThrottle
from server.regions.rules import rules_in_force
from tests.factories import PASSWORD
from tests.helpers import assert_error_shape

STAFF_LOGIN = "/api/admin/v1/auth/login"
DOCTOR_LOGIN = "/api/doctor/v1/auth/login"
RESIDENT_LOGIN = "/api/mp/v1/auth/wechat-login"


def _rules(world):
    return rules_in_force(world.regions["A"].id, local_today())


def _from(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


def _login(client, path, username, password, address="10.0.0.1"):
    return client.post(path, json={"username": username, "password": password}, headers=_from(address))


def _events(action: str) -> list[AuditEvent]:
    return db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)).all()


@pytest.fixture
def wechat_code(sandbox):
    def make(openid: str | None = None) -> str:
        body = {"openid": openid} if openid else {}
        return requests.post(f"{sandbox.base_url}/sandbox/wechat/login", json=body, timeout=5).json()["code"]
    return make


def _assert_throttled(response, rules):
    body = assert_error_shape(response, 429)
    assert body["code"] == "TOO_MANY_LOGIN_ATTEMPTS"
    assert 0 < int(response.headers["Retry-After"]) <= rules.login_lockout_seconds


def test_a_non_team_account_with_the_right_password_is_answered_as_a_wrong_password(client, world):
    wrong_password = _login(client, DOCTOR_LOGIN, world.accounts["doctor"].username, "not-the-password")
    not_in_a_team = _login(client, DOCTOR_LOGIN, world.accounts["manager"].username, PASSWORD)
    unknown = _login(client, DOCTOR_LOGIN, "nobody-of-that-name", PASSWORD)
    assert wrong_password.status_code == not_in_a_team.status_code == unknown.status_code == 401
    assert wrong_password.get_json() == not_in_a_team.get_json() == unknown.get_json()
    assert wrong_password.get_json()["code"] == "LOGIN_FAILED"


def test_failures_are_audited_as_failures_and_successes_as_successes_without_any_password(client, world,
                                                                                          wechat_code):
    manager, doctor = world.accounts["manager"], world.accounts["doctor"]
    _login(client, STAFF_LOGIN, manager.username, "Guess#1")
    _login(client, DOCTOR_LOGIN, manager.username, PASSWORD)
    _login(client, STAFF_LOGIN, "ghost-user", "Guess#2")
    client.post("/api/doctor/v1/auth/wechat-login", json={"code": wechat_code()}, headers=_from("10.0.0.1"))
    assert _login(client, DOCTOR_LOGIN, doctor.username, PASSWORD).status_code == 200

    failed = _events("account.login_failed")
    assert [(e.entity_id, e.details["reason"]) for e in failed] == [
        (str(manager.id), "wrong_password"), (str(manager.id), "role_not_admitted"), ("0", "unknown_account")]
    assert all((e.actor_role, e.actor_account_id, e.ip) == ("anonymous", 0, "10.0.0.1") for e in failed)
    assert failed[2].details["username_key"] == throttle.account_key("ghost-user")[1]
    [wechat_failed] = _events("account.login_wechat_failed")
    assert wechat_failed.details == {"reason": "wechat_not_bound"}
    [success] = _events("account.login")
    assert (success.actor_role, success.actor_account_id, success.entity_id) == ("team_member", doctor.id,
                                                                                 str(doctor.id))

    trail = json.dumps([[e.details, e.entity_id, e.user_agent] for e in db.session.scalars(sa.select(AuditEvent))],
                       ensure_ascii=False)
    for secret in ("Guess#1", "Guess#2", PASSWORD, "ghost-user"):
        assert secret not in trail


def test_two_app_instances_on_one_database_share_the_count(settings, client, world):
    rules = _rules(world)
    rules.login_max_failures = 3  # the number comes from the region's rules
    db.session.commit()
    other = server.create_app(settings)
    other.config["TESTING"] = True
    clients = [client, other.test_client()]
    username = world.accounts["manager"].username

    for attempt in range(3):
        response = _login(clients[attempt % 2], STAFF_LOGIN, username, f"guess-{attempt}", f"10.0.1.{attempt}")
        assert assert_error_shape(response, 401)["code"] == "LOGIN_FAILED"
    for instance in clients:
        _assert_throttled(_login(instance, STAFF_LOGIN, username, PASSWORD, "10.0.2.1"), rules)
    [counter] = db.session.scalars(sa.select(SignInThrottle).where(
        SignInThrottle.kind == "account", SignInThrottle.key == throttle.account_key(username)[1])).all()
    assert counter.failures == 3 and counter.locked_until is not None
    assert username not in counter.key


def test_many_usernames_from_one_address_are_throttled_and_other_addresses_are_not(client, world):
    rules = _rules(world)
    for n in range(rules.login_max_failures):
        assert _login(client, STAFF_LOGIN, f"guess-{n}", "whatever", "10.0.3.3").status_code == 401
    _assert_throttled(_login(client, DOCTOR_LOGIN, world.accounts["doctor"].username, PASSWORD, "10.0.3.3"), rules)
    assert _login(client, DOCTOR_LOGIN, world.accounts["doctor"].username, PASSWORD, "10.0.3.4").status_code == 200


def test_one_account_guessed_from_many_addresses_is_throttled(client, world):
    rules = _rules(world)
    username = world.accounts["bureau"].username
    for n in range(rules.login_max_failures):
        assert _login(client, STAFF_LOGIN, username, "whatever", f"10.0.4.{n}").status_code == 401
    _assert_throttled(_login(client, STAFF_LOGIN, username, PASSWORD, "10.0.5.1"), rules)
    assert _login(client, STAFF_LOGIN, world.accounts["manager"].username, PASSWORD, "10.0.5.1").status_code == 200


def test_a_success_forgets_the_accounts_failures(client, world):
    rules = _rules(world)
    username = world.accounts["manager"].username
    for round_ in range(2):
        for n in range(rules.login_max_failures - 1):
            assert _login(client, STAFF_LOGIN, username, "whatever", f"10.0.6.{round_ * 10 + n}").status_code == 401
        assert _login(client, STAFF_LOGIN, username, PASSWORD, f"10.0.7.{round_}").status_code == 200


def test_the_residents_code_exchange_is_throttled_per_address(client, world, wechat_code):
    rules = _rules(world)
    for n in range(rules.login_max_failures):
        response = client.post(RESIDENT_LOGIN, json={"code": f"made-up-{n}"}, headers=_from("10.0.8.8"))
        assert assert_error_shape(response, 422)["code"] == "WECHAT_CODE_INVALID"
    code = wechat_code()
    _assert_throttled(client.post(RESIDENT_LOGIN, json={"code": code}, headers=_from("10.0.8.8")), rules)
    assert client.post(RESIDENT_LOGIN, json={"code": code}, headers=_from("10.0.8.9")).status_code == 200


def test_the_doctors_wechat_sign_in_is_throttled_per_address(client, world, wechat_code):
    rules = _rules(world)
    for n in range(rules.login_max_failures):
        response = client.post("/api/doctor/v1/auth/wechat-login", json={"code": wechat_code()},
                               headers=_from("10.0.9.9"))
        assert assert_error_shape(response, 401)["code"] == "WECHAT_NOT_BOUND"
    _assert_throttled(client.post("/api/doctor/v1/auth/wechat-login", json={"code": wechat_code()},
                                  headers=_from("10.0.9.9")), rules)


def test_the_lockout_ends_by_itself_after_the_rules_time(client, world, monkeypatch):
    rules = _rules(world)
    username = world.accounts["manager"].username
    for n in range(rules.login_max_failures):
        _login(client, STAFF_LOGIN, username, "whatever", f"10.1.0.{n}")
    locked_at = utcnow()

    monkeypatch.setattr(throttle, "utcnow", lambda: locked_at + timedelta(seconds=rules.login_lockout_seconds - 5))
    response = _login(client, STAFF_LOGIN, username, PASSWORD, "10.1.1.1")
    _assert_throttled(response, rules)
    assert int(response.headers["Retry-After"]) <= 5

    monkeypatch.setattr(throttle, "utcnow", lambda: locked_at + timedelta(seconds=rules.login_lockout_seconds + 1))
    assert _login(client, STAFF_LOGIN, username, PASSWORD, "10.1.1.1").status_code == 200


def test_a_failure_after_the_lockout_starts_a_fresh_count(client, world, monkeypatch):
    rules = _rules(world)
    username = world.accounts["manager"].username
    for n in range(rules.login_max_failures):
        _login(client, STAFF_LOGIN, username, "whatever", f"10.2.0.{n}")
    later = utcnow() + timedelta(seconds=rules.login_lockout_seconds + 1)
    monkeypatch.setattr(throttle, "utcnow", lambda: later)
    assert _login(client, STAFF_LOGIN, username, "whatever", "10.2.1.1").status_code == 401
    assert _login(client, STAFF_LOGIN, username, PASSWORD, "10.2.1.2").status_code == 200


def test_counters_are_forgotten_only_once_they_can_lock_no_one(client, world):
    rules = _rules(world)
    username = world.accounts["manager"].username
    first_failure = utcnow()  # sign-ins take time under load; count the windows from before the first
    for n in range(rules.login_max_failures):
        _login(client, STAFF_LOGIN, username, "whatever", f"10.3.0.{n}")
    _login(client, STAFF_LOGIN, "nobody-here", "whatever", "10.3.9.9")
    counters = sa.select(sa.func.count()).select_from(SignInThrottle)
    started = db.session.scalar(counters)

    assert throttle.forget_finished(utcnow()) == 0
    still_counting = min(rules.login_lockout_seconds, rules.login_failure_window_seconds) - 5
    assert throttle.forget_finished(first_failure + timedelta(seconds=still_counting)) == 0
    later = utcnow() + timedelta(seconds=max(rules.login_lockout_seconds, rules.login_failure_window_seconds) + 1)
    assert throttle.forget_finished(later) == started
    assert db.session.scalar(counters) == 0


@pytest.mark.parametrize("who, logout, probe", [
    ("manager", "/api/admin/v1/auth/logout", "/api/admin/v1/me"),
    ("doctor", "/api/doctor/v1/auth/logout", "/api/doctor/v1/patients"),
    ("resident", "/api/mp/v1/auth/logout", "/api/mp/v1/me"),
])
def test_logout_revokes_the_token(client, world, who, logout, probe):
    headers = world.headers(who)
    assert client.get(probe, headers=headers).status_code == 200
    assert client.post(logout, headers=headers).status_code == 204
    assert assert_error_shape(client.get(probe, headers=headers), 401)["code"] == "TOKEN_REVOKED"
    [event] = _events("account.logout")
    assert (event.actor_account_id, event.entity_id) == (world.accounts[who].id, str(world.accounts[who].id))
