"""The database itself allows one live contract per person per period."""
from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError

from server.common.timeutil import local_today
from server.contracts.states import ContractStatus
from server.extensions import db
from tests.factories import make_contract


def _second_contract(world, status, year=None):
    resident = world.residents["R1"]
    db.session.add(resident)
    return make_contract(resident, world.teams["T2"], world.doctors["T2"], world.packages["A"], status=status,
                         year=year)


@pytest.mark.parametrize("status", [ContractStatus.ACTIVE, ContractStatus.PENDING_PAYMENT])
def test_a_second_live_contract_for_the_same_period_is_refused(world, status):
    with pytest.raises(IntegrityError):
        _second_contract(world, status)
    db.session.rollback()


@pytest.mark.parametrize("status", [ContractStatus.CANCELLED, ContractStatus.EXPIRED, ContractStatus.TERMINATED])
def test_ended_contracts_do_not_hold_the_place(world, status):
    assert _second_contract(world, status).id


@pytest.mark.calendar_edges
def test_the_next_period_may_be_signed_while_this_one_runs(world):
    assert _second_contract(world, ContractStatus.PENDING_PAYMENT, year=local_today().year + 1).id
