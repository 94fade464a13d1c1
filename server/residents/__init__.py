"""Insured residents (参保人员), their conditions, other benefits and family links."""
