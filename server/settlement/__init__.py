"""Capitation settlement (医保结算): what each institution is owed, and its disbursements.

Only the tables exist yet; no service computes or pays a settlement (that is the next issue's work).
"""
