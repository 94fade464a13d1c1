"""Resident (`/api/mp/v1`) and doctor (`/api/doctor/v1`) API blueprints for the mini-program."""
from __future__ import annotations


def blueprints():
    from miniprogram_api import doctor, resident
    return [resident.blp, doctor.blp]
