"""The yearly assessment (考核) for the bureau, assessors and institutions: schemes, manual scores, runs,
assessors' assignments, results and their drill-down, feedback, appeals and the Excel export.

An assessor reads only what their assignments open; the services' scope decides that."""
from io import BytesIO

from flask import send_file
from flask.views import MethodView

from server.assessment import assignments, export, results, runs, schemes
from server.assessment.schemas import (
    AppealDecisionSchema, AppealQuerySchema, AppealSchema, AssignmentQuerySchema, AssignmentSchema,
    ExplainQuerySchema, ExplanationSchema, InformSchema, ManualScoreQuerySchema, ManualScoreSchema, NewAppealSchema,
    NewAssignmentSchema, NewSchemeSchema, ResultDetailSchema, ResultQuerySchema, ResultSchema, RunQuerySchema,
    RunSchema, SchemeSchema, StartRunSchema,
)
from server.identity.roles import ADMIN_ROLES
from server.web.auth import current_actor
from server.web.blueprint import Blueprint
from server.web.docs import error_codes
from server.web.schemas import PageArgsSchema, page_schema, split_page

blp = Blueprint("admin_assessment", __name__, url_prefix="/api/admin/v1", description="考核", serves=ADMIN_ROLES)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@blp.route("/assessment/schemes")
class Schemes(MethodView):
    @blp.requires(schemes.list_schemes)
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, page_schema(SchemeSchema))
    def get(self, args):
        """The region's schemes, newest year first."""
        page, _ = split_page(args)
        return schemes.list_schemes(current_actor(), page)

    @blp.requires(schemes.create_scheme)
    @blp.arguments(NewSchemeSchema)
    @blp.response(201, SchemeSchema)
    def post(self, data):
        """Start a year's scheme from the default (every basic indicator of the annex) or a copy."""
        return schemes.create_scheme(current_actor(), **data)


@blp.route("/assessment/schemes/<int:scheme_id>")
class SchemeById(MethodView):
    @blp.requires(schemes.get_scheme)
    @blp.response(200, SchemeSchema)
    def get(self, scheme_id):
        """One scheme with its indicators, points and scoring rules."""
        return schemes.get_scheme(current_actor(), scheme_id)

    @error_codes("SCHEME_LOCKED")
    @blp.requires(schemes.replace_indicators)
    @blp.arguments(SchemeSchema)
    @blp.response(200, SchemeSchema)
    def put(self, data, scheme_id):
        """Replace the scheme's indicators (they must total 100 and cover the six groups)."""
        return schemes.replace_indicators(current_actor(), scheme_id, data)


@blp.route("/assessment/schemes/<int:scheme_id>/manual-scores")
class ManualScores(MethodView):
    @blp.requires(schemes.list_manual_scores)
    @blp.arguments(ManualScoreQuerySchema, location="query")
    @blp.response(200, page_schema(ManualScoreSchema))
    def get(self, args, scheme_id):
        """Manual scores entered for the scheme, by indicator and institution."""
        page, filters = split_page(args)
        return schemes.list_manual_scores(current_actor(), scheme_id, page, **filters)

    @error_codes("INDICATOR_NOT_FOUND", "INDICATOR_NOT_MANUAL", "POINTS_ABOVE_INDICATOR")
    @blp.requires(schemes.enter_manual_score)
    @blp.arguments(ManualScoreSchema)
    @blp.response(200, ManualScoreSchema)
    def put(self, data, scheme_id):
        """Enter (or replace) an institution's score on a manual indicator, with its evidence."""
        return schemes.enter_manual_score(current_actor(), scheme_id, data)


@blp.route("/assessment/runs")
class Runs(MethodView):
    @blp.requires(runs.list_runs)
    @blp.arguments(RunQuerySchema, location="query")
    @blp.response(200, page_schema(RunSchema))
    def get(self, args):
        """Runs, newest first; institutions see published ones only."""
        page, filters = split_page(args)
        return runs.list_runs(current_actor(), page, **filters)

    @error_codes("SCHEME_MISSING", "RULES_NOT_IN_FORCE")
    @blp.requires(runs.start_run)
    @blp.arguments(StartRunSchema)
    @blp.response(201, RunSchema)
    def post(self, data):
        """Compute a draft run for a year: every institution's indicators, points and grade."""
        return runs.start_run(current_actor(), **data)


@blp.route("/assessment/runs/<int:run_id>")
class RunById(MethodView):
    @blp.requires(runs.get_run)
    @blp.response(200, RunSchema)
    def get(self, run_id):
        """One run with its deadlines."""
        return runs.get_run(current_actor(), run_id)


@blp.route("/assessment/runs/<int:run_id>/publish")
class PublishRun(MethodView):
    @error_codes("RUN_NOT_DRAFT", "HOLIDAY_CALENDAR_UNAVAILABLE")
    @blp.requires(runs.publish)
    @blp.response(200, RunSchema)
    def post(self, run_id):
        """Publish a draft: the feedback and appeal deadlines are set in working days and the run is frozen."""
        return runs.publish(current_actor(), run_id)


@blp.route("/assessment/runs/<int:run_id>/assessors")
class Assignments(MethodView):
    @blp.requires(assignments.list_assignments)
    @blp.arguments(AssignmentQuerySchema, location="query")
    @blp.response(200, page_schema(AssignmentSchema))
    def get(self, args, run_id):
        """The run's third-party assessors and the institutions each is assigned to check."""
        page, filters = split_page(args)
        return assignments.list_assignments(current_actor(), run_id, page, **filters)

    @error_codes("ASSESSOR_NOT_FOUND", "INSTITUTION_NOT_IN_RUN", "ASSESSOR_ALREADY_ASSIGNED")
    @blp.requires(assignments.assign)
    @blp.arguments(NewAssignmentSchema)
    @blp.response(201, AssignmentSchema)
    def post(self, data, run_id):
        """Assign an assessor of the region to an institution of the run; they see nothing they are not assigned."""
        return assignments.assign(current_actor(), run_id, **data)


@blp.route("/assessment/runs/<int:run_id>/assessors/<int:assignment_id>")
class AssignmentById(MethodView):
    @blp.requires(assignments.withdraw)
    @blp.response(204)
    def delete(self, run_id, assignment_id):
        """Withdraw an assignment; the assessor's scores stay."""
        assignments.withdraw(current_actor(), run_id, assignment_id)


@blp.route("/assessment/runs/<int:run_id>/results")
class Results(MethodView):
    @blp.requires(results.list_results)
    @blp.arguments(ResultQuerySchema, location="query")
    @blp.response(200, page_schema(ResultSchema))
    def get(self, args, run_id):
        """Each institution's total and grade, and whether it has been informed."""
        page, filters = split_page(args)
        return results.list_results(current_actor(), run_id, page, **filters)


@blp.route("/assessment/runs/<int:run_id>/results/<int:institution_id>")
class ResultById(MethodView):
    @blp.requires(results.get_result)
    @blp.response(200, ResultDetailSchema)
    def get(self, run_id, institution_id):
        """One institution's result with every indicator's numerator, denominator, value and points."""
        return results.get_result(current_actor(), run_id, institution_id)


@blp.route("/assessment/runs/<int:run_id>/results/<int:institution_id>/acknowledge")
class Acknowledge(MethodView):
    @blp.requires(results.acknowledge)
    @blp.response(200, ResultSchema)
    def post(self, run_id, institution_id):
        """The institution acknowledges its published result (签收); the first acknowledgement counts."""
        return results.acknowledge(current_actor(), run_id, institution_id)


@blp.route("/assessment/runs/<int:run_id>/results/<int:institution_id>/informed")
class Informed(MethodView):
    @error_codes("RUN_NOT_PUBLISHED")
    @blp.requires(results.record_informed)
    @blp.arguments(InformSchema)
    @blp.response(200, ResultSchema)
    def post(self, data, run_id, institution_id):
        """The bureau records delivering a result outside the platform; the first record counts."""
        return results.record_informed(current_actor(), run_id, institution_id, how=data["how"])


@blp.route("/assessment/runs/<int:run_id>/results/<int:institution_id>/indicators/<string:code>/entries")
class Explain(MethodView):
    @error_codes("INDICATOR_NOT_FOUND", "INDICATOR_NOT_AUTOMATIC")
    @blp.requires(results.explain)
    @blp.arguments(ExplainQuerySchema, location="query")
    @blp.response(200, ExplanationSchema)
    def get(self, args, run_id, institution_id, code):
        """The people and records counted in an automatic indicator, as the run stored them, with their sums."""
        page, filters = split_page(args)
        return results.explain(current_actor(), run_id, institution_id, code, page, **filters)


@blp.route("/assessment/runs/<int:run_id>/export.xlsx")
class Export(MethodView):
    @blp.requires(export.run_workbook)
    @blp.response(200, description="考核结果 Excel 工作簿", content_type=XLSX)
    def get(self, run_id):
        """The run's results as an Excel workbook: the region, then one sheet per institution."""
        content = export.run_workbook(current_actor(), run_id)
        return send_file(BytesIO(content), mimetype=XLSX, as_attachment=True,
                         download_name=f"assessment-run-{run_id}.xlsx")


@blp.route("/assessment/runs/<int:run_id>/appeals")
class Appeals(MethodView):
    @blp.requires(results.list_appeals)
    @blp.arguments(AppealQuerySchema, location="query")
    @blp.response(200, page_schema(AppealSchema))
    def get(self, args, run_id):
        """Appeals against the run's results; an institution sees its own."""
        page, filters = split_page(args)
        return results.list_appeals(current_actor(), run_id, page, **filters)

    @error_codes("APPEAL_WINDOW_CLOSED", "APPEAL_PENDING", "INDICATOR_NOT_FOUND")
    @blp.requires(results.file_appeal)
    @blp.arguments(NewAppealSchema)
    @blp.response(201, AppealSchema)
    def post(self, data, run_id):
        """Appeal the institution's result, or one indicator of it, before the appeal deadline."""
        return results.file_appeal(current_actor(), run_id, data["institution_id"], reason=data["reason"],
                                   indicator_code=data["indicator_code"])


@blp.route("/assessment/appeals/<int:appeal_id>/decision")
class AppealDecision(MethodView):
    @error_codes("APPEAL_DECIDED")
    @blp.requires(results.decide_appeal)
    @blp.arguments(AppealDecisionSchema)
    @blp.response(200, AppealSchema)
    def post(self, data, appeal_id):
        """Answer an appeal; an upheld one is corrected by a new run, never by editing the published one."""
        return results.decide_appeal(current_actor(), appeal_id, **data)
