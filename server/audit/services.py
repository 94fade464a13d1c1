"""Writing audit events inside the caller's transaction."""
from __future__ import annotations

from typing import Any

from server.audit.models import AuditEvent
from server.common import pii
from server.extensions import db
from server.identity.roles import Actor


def record(actor: Actor, action: str, entity_type: str, entity_id: Any, details: dict | None = None) -> None:
    """Add an audit event to the current transaction; details are scrubbed of ID and phone numbers."""
    safe = {k: pii.scrub(v) if isinstance(v, str) else v for k, v in (details or {}).items()}
    db.session.add(AuditEvent(
        region_id=actor.region_id,
        actor_role=actor.role.value,
        actor_account_id=actor.account_id,
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        ip=actor.ip,
        user_agent=(actor.user_agent or "")[:255] or None,
        details=safe,
    ))
