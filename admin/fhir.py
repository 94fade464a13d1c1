"""FHIR R4B export for bureau staff (placeholder; filled in by the FHIR work)."""
from server.identity.roles import ADMIN_ROLES
from server.web.blueprint import Blueprint

blp = Blueprint("admin_fhir", __name__, url_prefix="/api/admin/v1", description="FHIR 导出", serves=ADMIN_ROLES)
