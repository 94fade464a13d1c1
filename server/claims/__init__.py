"""Claims from the insurance settlement system (医保结算数据).

Only the table exists yet, read by the assessment's hospitalisation and cost indicators and
filled by the demo; nothing imports claims from the platform.
"""
