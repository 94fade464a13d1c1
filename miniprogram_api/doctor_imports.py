"""Batch import from an institution's own system (`/api/doctor/v1/imports`)."""
from flask.views import MethodView

from server.identity.roles import STAFF_ROLES
from server.imports import services as imports
from server.imports.schemas import ImportArgsSchema, ImportBatchDetailSchema, ImportBatchSchema, ImportQuerySchema
from server.web import uploads
from server.web.auth import current_actor
from server.web.blueprint import Blueprint
from server.web.docs import error_codes
from server.web.schemas import page_schema, split_page

blp = Blueprint("doctor_imports", __name__, url_prefix="/api/doctor/v1", description="家庭医生工作台：批量导入",
                serves=STAFF_ROLES)

MAX_IMPORT_BYTES = 20 * 1024 * 1024


@blp.route("/imports")
class Imports(MethodView):
    @error_codes("IMPORT_FILE_EMPTY", "IMPORT_FILE_UNPARSEABLE", "IMPORT_FILE_ENCODING", "IMPORT_COLUMNS_INVALID",
                 "IMPORT_FORMAT_REQUIRED", "PAYLOAD_TOO_LARGE")
    @blp.requires(imports.import_batch)
    @blp.arguments(ImportArgsSchema, location="query")
    @blp.doc(requestBody=uploads.file_body("导入文件（UTF-8，可带 BOM）"))
    @blp.response(201, ImportBatchDetailSchema)
    def post(self, args):
        """Import service records (with readings) or dispensings as JSON lines or CSV, up to 20 MB.

        Each row carries the institution's own `external_id`: a row already stored is counted,
        not stored again; a bad row is reported with its line and reason and the good rows are
        stored. The report is kept (GET /imports/{id}).
        """
        filename, stream = uploads.uploaded_file(args["filename"], MAX_IMPORT_BYTES)
        content = stream.read()
        file_format = args["format"] or uploads.format_of(filename)
        return imports.import_batch(current_actor(), kind=args["kind"], file_format=file_format,
                                    filename=filename, content=content)

    @blp.requires(imports.list_batches)
    @blp.arguments(ImportQuerySchema, location="query")
    @blp.response(200, page_schema(ImportBatchSchema))
    def get(self, args):
        """Import reports, newest first: the institution's for a manager, their team's for a team member."""
        page, filters = split_page(args)
        return imports.list_batches(current_actor(), page, **filters)


@blp.route("/imports/<int:batch_id>")
class ImportById(MethodView):
    @blp.requires(imports.get_batch)
    @blp.response(200, ImportBatchDetailSchema)
    def get(self, batch_id):
        """One import report with its failed rows (line, external_id, code, message)."""
        return imports.get_batch(current_actor(), batch_id)
