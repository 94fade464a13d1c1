"""Resident (`/api/mp/v1`) and doctor (`/api/doctor/v1`) API blueprints for the mini-program."""
from __future__ import annotations


def blueprints():
    from miniprogram_api import (
        account, care, contracts, doctor, doctor_imports, doctor_prescriptions, proxies, resident,
    )
    return [resident.blp, account.blp, contracts.blp, proxies.blp, care.blp, doctor.blp, doctor_prescriptions.blp,
            doctor_imports.blp]


def plain_blueprints():
    """Blueprints outside the OpenAPI document: the WeChat Pay notification speaks WeChat's protocol."""
    from miniprogram_api import notify
    return [notify.blp]
