"""Production refuses development secrets; contract states move only along the table."""
from __future__ import annotations

import dataclasses

import pytest

from server.config import ConfigError, check_production_safety, load_settings
from server.contracts.models import Contract
from server.contracts.states import ALLOWED_TRANSITIONS, ContractStatus
from server.errors import RuleViolation

pytestmark = pytest.mark.no_db


def test_development_defaults_are_refused_in_production(tmp_path):
    settings = dataclasses.replace(load_settings(str(tmp_path)), env="production")
    with pytest.raises(ConfigError) as refused:
        check_production_safety(settings)
    for name in ("SECRET_KEY", "DATA_ENCRYPTION_KEY", "WECHAT_SECRET", "WECHATPAY_APIV3_KEY", "DATABASE_URL",
                 "WECHATPAY_PRIVATE_KEY_PATH"):
        assert name in str(refused.value)


def test_production_starts_with_real_secrets(tmp_path):
    settings = dataclasses.replace(
        load_settings(str(tmp_path)), env="production", secret_key="s" * 48,
        data_key="cHJvZHVjdGlvbi1rZXktMzItYnl0ZXMtbG9uZy0hISE=", wechat_secret="w" * 32,
        wechatpay_apiv3_key="k" * 32, database_url="postgresql+psycopg://jiayi@db/jiayi",
        wechatpay_private_key_path="/etc/jiayi/wechatpay/apiclient_key.pem",
        wechatpay_public_key_path="/etc/jiayi/wechatpay/pub_key.pem")
    check_production_safety(settings)


def test_postgres_urls_are_driven_by_psycopg3(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://u@h/db")
    assert load_settings(str(tmp_path)).database_url == "postgresql+psycopg://u@h/db"


@pytest.mark.parametrize("current", list(ContractStatus))
@pytest.mark.parametrize("target", list(ContractStatus))
def test_contract_transitions_follow_the_table(current, target):
    contract = Contract(id=1, status=current)
    if target in ALLOWED_TRANSITIONS[current]:
        event = contract.transition(target, reason="测试")
        assert (event.from_status, event.to_status, contract.status) == (current, target, target)
    else:
        with pytest.raises(RuleViolation):
            contract.transition(target)
        assert contract.status is current


def test_only_live_states_hold_a_place_and_final_states_are_final():
    assert ALLOWED_TRANSITIONS[ContractStatus.PENDING_PAYMENT] == {ContractStatus.ACTIVE, ContractStatus.CANCELLED}
    for final in (ContractStatus.EXPIRED, ContractStatus.CANCELLED, ContractStatus.TERMINATED,
                  ContractStatus.TRANSFERRED):
        assert not ALLOWED_TRANSITIONS[final]
