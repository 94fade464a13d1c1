"""Capitation settlement (医保结算): what each institution is owed, and its disbursements."""
