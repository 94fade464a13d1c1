"""Bureau and institution API blueprints (`/api/admin/v1`)."""
from __future__ import annotations


def blueprints():
    return []
