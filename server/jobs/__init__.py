"""Scheduled jobs, run by exactly one scheduler process per region.

Each job enters an app context and calls one service, which owns its transaction.
"""
