"""Bureau and institution API blueprints (`/api/admin/v1`)."""
from __future__ import annotations


def blueprints():
    from admin import alerts, assessment, auth, exchange, fhir, institutions, people, regions, teams
    return [auth.blp, regions.blp, institutions.blp, teams.blp, people.blp, assessment.blp, exchange.blp, alerts.blp,
            fhir.blp]
