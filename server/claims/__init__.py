"""Claims imported from the insurance settlement system (医保结算数据)."""
