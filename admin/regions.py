"""The bureau's region, its local rules (versioned by effective date) and the disease list."""
from flask.views import MethodView
from server.web.blueprint import Blueprint

from server.identity.roles import ADMIN_ROLES
from server.regions import services
from server.regions.schemas import (
    DiseaseSchema, HolidayArrangementInputSchema, HolidayArrangementSchema, LocalRulesSchema, RegionSchema,
    RulesOnDateArgsSchema,
)
from server.web.docs import error_codes
from server.web.auth import current_actor
from server.web.schemas import PageArgsSchema, page_schema, split_page

blp = Blueprint("admin_regions", __name__, url_prefix="/api/admin/v1", description="统筹地区与实施细则",
                serves=ADMIN_ROLES)


@blp.route("/region")
class MyRegion(MethodView):
    @blp.requires(services.my_region)
    @blp.response(200, RegionSchema)
    def get(self):
        """The caller's pooling region."""
        return services.my_region(current_actor())


@blp.route("/rules")
class RulesVersions(MethodView):
    @blp.requires(services.list_rules)
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, page_schema(LocalRulesSchema))
    def get(self, args):
        """Every version of the local rules, newest first."""
        page, _ = split_page(args)
        return services.list_rules(current_actor(), page)

    @blp.requires(services.add_rules_version)
    @blp.arguments(LocalRulesSchema)
    @blp.response(201, LocalRulesSchema)
    def post(self, data):
        """Publish a new version of the local rules from its effective date."""
        return services.add_rules_version(current_actor(), data)


@blp.route("/rules/in-force")
class RulesInForce(MethodView):
    @blp.requires(services.rules_on)
    @blp.arguments(RulesOnDateArgsSchema, location="query")
    @blp.response(200, LocalRulesSchema)
    def get(self, args):
        """The version of the local rules in force on a date."""
        return services.rules_on(current_actor(), args["on"])


@blp.route("/diseases")
class Diseases(MethodView):
    @blp.requires(services.list_diseases)
    @blp.response(200, DiseaseSchema(many=True))
    def get(self):
        """The disease catalogue regions choose covered diseases from."""
        return services.list_diseases(current_actor())


@blp.route("/holiday-arrangements/<int(min=2020, max=2100):year>")
class HolidayArrangements(MethodView):
    @blp.requires(services.holiday_arrangement)
    @blp.response(200, HolidayArrangementSchema)
    def get(self, year):
        """A year's holiday arrangement as entered (empty for the years the calendar package knows)."""
        return services.holiday_arrangement(current_actor(), year)

    @error_codes("HOLIDAY_YEAR_KNOWN", "HOLIDAY_DAY_OUTSIDE_YEAR", "HOLIDAY_DAY_REPEATED")
    @blp.requires(services.enter_holiday_arrangement)
    @blp.arguments(HolidayArrangementInputSchema)
    @blp.response(200, HolidayArrangementSchema)
    def put(self, data, year):
        """Enter the State Council's arrangement for a year the calendar package does not know yet, as a whole."""
        return services.enter_holiday_arrangement(current_actor(), year, **data)
