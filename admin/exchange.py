"""Files from the bureau core system: claims, roster changes, benefit registrations (placeholder)."""
from server.identity.roles import ADMIN_ROLES
from server.web.blueprint import Blueprint

blp = Blueprint("admin_exchange", __name__, url_prefix="/api/admin/v1", description="医保核心系统数据交换", serves=ADMIN_ROLES)
