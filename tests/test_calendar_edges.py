"""Date rules that only break on some days of the calendar."""
from __future__ import annotations

from datetime import timedelta

import pytest

from server.common.timeutil import local_today
from tests.factories import rules_kwargs
from tests.helpers import assert_error_shape


@pytest.mark.parametrize("month_day", ["02-29", "02-30", "04-31"])
def test_the_assessment_start_is_a_day_every_year_has(client, world, month_day):
    """The scheduled run counts it in the current year: 29 February would stop the job three years in four."""
    body = {**rules_kwargs(effective_from=(local_today() + timedelta(days=5)).isoformat(),
                           assessment_start_mmdd=month_day), "other_fund_populations": []}
    response = client.post("/api/admin/v1/rules", json=body, headers=world.headers("bureau"))
    assert "assessment_start_mmdd" in assert_error_shape(response, 422)["details"]["fields"]
