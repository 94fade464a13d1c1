"""Duplicate-benefit alerts (重复享受待遇预警) raised by the bureau's registration files."""
from flask.views import MethodView

from server.identity.roles import ADMIN_ROLES
from server.residents import benefit_alerts
from server.residents.schemas import BenefitAlertQuerySchema, BenefitAlertSchema, ResolveBenefitAlertSchema
from server.web.auth import current_actor
from server.web.blueprint import Blueprint
from server.web.docs import error_codes
from server.web.schemas import page_schema, split_page

blp = Blueprint("admin_alerts", __name__, url_prefix="/api/admin/v1", description="重复享受待遇预警", serves=ADMIN_ROLES)


@blp.route("/benefit-alerts")
class BenefitAlerts(MethodView):
    @blp.requires(benefit_alerts.list_alerts)
    @blp.arguments(BenefitAlertQuerySchema, location="query")
    @blp.response(200, page_schema(BenefitAlertSchema))
    def get(self, args):
        """Duplicate-benefit alerts in scope, newest first; filter by status."""
        page, filters = split_page(args)
        return benefit_alerts.list_alerts(current_actor(), page, **filters)


@blp.route("/benefit-alerts/<int:alert_id>")
class BenefitAlertById(MethodView):
    @blp.requires(benefit_alerts.get_alert)
    @blp.response(200, BenefitAlertSchema)
    def get(self, alert_id):
        """One duplicate-benefit alert with its contract and registration."""
        return benefit_alerts.get_alert(current_actor(), alert_id)


@blp.route("/benefit-alerts/<int:alert_id>/resolve")
class BenefitAlertResolve(MethodView):
    @error_codes("BENEFIT_ALERT_RESOLVED")
    @blp.requires(benefit_alerts.resolve_alert)
    @blp.arguments(ResolveBenefitAlertSchema)
    @blp.response(200, BenefitAlertSchema)
    def post(self, data, alert_id):
        """Resolve an open alert with a note of what was decided; audited."""
        return benefit_alerts.resolve_alert(current_actor(), alert_id, data["note"])
