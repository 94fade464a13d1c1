"""Turning an indicator's value into points, exactly (Decimal), as its rule says."""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

THOUSANDTH = Decimal("0.001")


def linear_points(points: Decimal, value: Decimal, full_at: Decimal, zero_at: Decimal) -> Decimal:
    """Full points at or beyond `full_at`, none at or beyond `zero_at`, linear between.

    Whether higher is better follows from the two lines: full_at above zero_at rewards high
    values (control rates), below rewards low ones (costs, violations).
    """
    if full_at > zero_at:
        share = (value - zero_at) / (full_at - zero_at)
    else:
        share = (zero_at - value) / (zero_at - full_at)
    share = min(max(share, Decimal(0)), Decimal(1))
    return (points * share).quantize(THOUSANDTH, rounding=ROUND_HALF_UP)


def score(rule: dict, points: Decimal, numerator: Decimal | None, denominator: Decimal | None,
          region_value: Decimal | None) -> tuple[Decimal | None, Decimal, str]:
    """(value, points, note) for one institution; below the minimum denominator the fallback applies."""
    full_at, zero_at = Decimal(rule["full_at"]), Decimal(rule["zero_at"])
    if not denominator or denominator < Decimal(rule.get("min_denominator", 1)):
        fallback = rule.get("fallback", "proportional")
        if fallback == "full" or (fallback == "proportional" and region_value is None):
            return None, points.quantize(THOUSANDTH), f"分母不足{rule.get('min_denominator', 1)}，按满分计"
        if fallback == "zero":
            return None, Decimal("0.000"), f"分母不足{rule.get('min_denominator', 1)}，按零分计"
        return region_value, linear_points(points, region_value, full_at, zero_at), \
            f"分母不足{rule.get('min_denominator', 1)}，按全地区水平计"
    value = numerator / denominator
    return value, linear_points(points, value, full_at, zero_at), ""
