"""FHIR R4B export for bureau staff: the Bulk Data `$export` of the region and one resident's `$everything`."""
from urllib.parse import urlencode

from flask import Response, current_app, request, url_for
from flask.views import MethodView

from server.fhir import services as fhir
from server.fhir.schemas import ExportArgsSchema, ManifestSchema, PreferHeaderSchema, PurposeSchema
from server.identity.roles import ADMIN_ROLES
from server.web.auth import current_actor
from server.web.blueprint import Blueprint
from server.web.docs import error_codes

blp = Blueprint("admin_fhir", __name__, url_prefix="/api/admin/v1", description="FHIR 导出", serves=ADMIN_ROLES)

FHIR_JSON = "application/fhir+json"
NDJSON = "application/fhir+ndjson"


def fhir_base() -> str:
    """The FHIR base URL of this API, as the caller reached it."""
    return request.host_url.rstrip("/") + blp.url_prefix + "/fhir"


@blp.route("/fhir/$export")
class Export(MethodView):
    @error_codes("PERIOD_INVALID")
    @blp.requires(fhir.start_export)
    @blp.arguments(PreferHeaderSchema, location="headers")
    @blp.arguments(ExportArgsSchema, location="query")
    @blp.response(202, description="导出已受理；Content-Location 为状态查询地址", headers={
        "Content-Location": {"description": "导出状态地址（FHIR Bulk Data）", "schema": {"type": "string"}}})
    def get(self, _prefer, args):
        """FHIR Bulk Data kick-off: export the region (or one institution) for a period, with a stated purpose."""
        job = fhir.start_export(current_actor(), resource_types=args["resource_types"],
                                institution_id=args["institution"], period_start=args["period_start"],
                                period_end=args["period_end"], purpose_code=args["purpose_code"],
                                purpose=args["purpose"])
        status = url_for("admin_fhir.ExportStatus", job_id=job.id, _external=True)
        return Response(status=202, headers={"Content-Location": status})


def _kick_off_url(job) -> str:
    """The kick-off request as the manifest repeats it, rebuilt from what the job stored."""
    query = {"_type": ",".join(job.resource_types), "purpose_code": job.purpose_code.value, "purpose": job.purpose}
    query |= {name: value for name, value in (("institution", job.institution_id),
                                              ("period_start", job.period_start), ("period_end", job.period_end))
              if value is not None}
    return f"{fhir_base()}/$export?{urlencode(query)}"


@blp.route("/fhir/export-jobs/<int:job_id>")
class ExportStatus(MethodView):
    @error_codes("EXPORT_EXPIRED")
    @blp.requires(fhir.export_status)
    @blp.response(200, ManifestSchema)
    def get(self, job_id):
        """FHIR Bulk Data status: the manifest of a completed export, one NDJSON file per resource type."""
        job = fhir.export_status(current_actor(), job_id)
        files = [{"type": name, "url": url_for("admin_fhir.ExportFile", job_id=job.id, resource_type=name,
                                               _external=True)} for name in job.resource_types]
        return {"transactionTime": job.created_at.isoformat(), "request": _kick_off_url(job),
                "requiresAccessToken": True, "output": files, "error": []}, 200, {
                    "Expires": job.expires_at.strftime("%a, %d %b %Y %H:%M:%S GMT")}


@blp.route("/fhir/export-jobs/<int:job_id>/<resource_type>.ndjson")
class ExportFile(MethodView):
    @error_codes("EXPORT_EXPIRED")
    @blp.requires(fhir.export_file)
    @blp.response(200, description="一种资源类型的 NDJSON 文件，边查询边传输", content_type=NDJSON)
    def get(self, job_id, resource_type):
        """One file of an export: every resource of one type, one JSON object per line; the download is audited."""
        lines = fhir.export_file(current_actor(), job_id, resource_type)
        return Response(_in_own_context(lines), mimetype=NDJSON)


def _in_own_context(lines):
    """Read `lines` in an application context (so a database session) of their own, entered when the
    server starts sending and left when the file ends: the request's context is gone by then, and a
    stream that kept it would tie its lifetime to whichever response is read first."""
    app = current_app._get_current_object()

    def produce():
        with app.app_context():
            yield from lines
    return produce()


@blp.route("/fhir/Patient/<int:resident_id>/$everything")
class PatientEverything(MethodView):
    @blp.requires(fhir.patient_everything)
    @blp.arguments(PurposeSchema, location="query")
    @blp.response(200, description="该参保人员的全部记录（FHIR searchset Bundle）", content_type=FHIR_JSON)
    def get(self, args, resident_id):
        """A resident's Bundle: the person, contracts, team and staff, visits, readings, prescriptions and
        survey answers, for a stated purpose; the read is audited."""
        bundle = fhir.patient_everything(current_actor(), resident_id, purpose_code=args["purpose_code"],
                                         purpose=args["purpose"], base_url=fhir_base())
        return Response(bundle.model_dump_json(), mimetype=FHIR_JSON)
