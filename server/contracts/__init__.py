"""Contracts (签约协议): the state machine, the period and the fee split each one carries."""
