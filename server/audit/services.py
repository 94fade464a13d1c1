"""Writing audit events inside the caller's transaction."""
from __future__ import annotations

from typing import Any

from server.audit.models import AuditEvent
from server.common import pii
from server.extensions import db
from server.common.paging import Page, PageRequest, paginate, where_given
from server.identity.roles import Actor, Role, allowed
from server.identity.scoping import scoped_select


def record(actor: Actor, action: str, entity_type: str, entity_id: Any, details: dict | None = None) -> None:
    """Add an audit event to the current transaction; details are scrubbed of ID and phone numbers."""
    _add(actor.region_id, actor.role.value, actor.account_id, actor.ip, actor.user_agent, action, entity_type,
         entity_id, details)


def record_anonymous(region_id: int | None, ip: str | None, user_agent: str | None, action: str, entity_type: str,
                     entity_id: Any, details: dict | None = None) -> None:
    """Audit what a caller who proved no identity did (a refused sign-in): role "anonymous", account 0."""
    _add(region_id, "anonymous", 0, ip, user_agent, action, entity_type, entity_id, details)


def _add(region_id: int | None, role: str, account_id: int, ip: str | None, user_agent: str | None, action: str,
         entity_type: str, entity_id: Any, details: dict | None) -> None:
    safe = {k: pii.scrub(v) if isinstance(v, str) else v for k, v in (details or {}).items()}
    db.session.add(AuditEvent(
        region_id=region_id,
        actor_role=role,
        actor_account_id=account_id,
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        ip=ip,
        user_agent=(user_agent or "")[:255] or None,
        details=safe,
    ))


@allowed(Role.BUREAU_STAFF)
def list_events(actor: Actor, page: PageRequest, *, entity_type: str | None = None,
                entity_id: str | None = None, action: str | None = None) -> Page[AuditEvent]:
    """The region's audit trail, newest first; only bureau staff read it."""
    stmt = scoped_select(AuditEvent, actor).order_by(AuditEvent.id.desc())
    stmt = where_given(stmt, (AuditEvent.entity_type, entity_type), (AuditEvent.entity_id, entity_id),
                       (AuditEvent.action, action))
    return paginate(stmt, page)
