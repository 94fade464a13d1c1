"""Duplicate-benefit alerts (placeholder; filled in by the roster and benefit work)."""
from server.identity.roles import ADMIN_ROLES
from server.web.blueprint import Blueprint

blp = Blueprint("admin_alerts", __name__, url_prefix="/api/admin/v1", description="重复享受待遇预警", serves=ADMIN_ROLES)
