"""Batch import from an institution's own system (`/api/doctor/v1/imports`)."""
from flask import request
from flask.views import MethodView
from werkzeug.exceptions import RequestEntityTooLarge

from server.errors import ValidationFailed
from server.identity.roles import STAFF_ROLES
from server.imports import services as imports
from server.imports.schemas import ImportArgsSchema, ImportBatchDetailSchema, ImportBatchSchema, ImportQuerySchema
from server.web.auth import current_actor
from server.web.blueprint import Blueprint
from server.web.docs import error_codes
from server.web.schemas import page_schema, split_page

blp = Blueprint("doctor_imports", __name__, url_prefix="/api/doctor/v1", description="家庭医生工作台：批量导入",
                serves=STAFF_ROLES)

MAX_IMPORT_BYTES = 20 * 1024 * 1024
_EXTENSIONS = {"csv": "csv", "jsonl": "jsonl", "ndjson": "jsonl", "json": "jsonl"}
_MEDIA_TYPES = {"text/csv": "csv", "application/x-ndjson": "jsonl", "application/jsonl": "jsonl",
                "application/x-jsonlines": "jsonl"}
_BINARY = {"type": "string", "format": "binary"}
_FILE_BODY = {"required": True, "description": "导入文件（UTF-8，可带 BOM）：请求体直接为文件内容，或 multipart 的 file 字段",
              "content": {"application/x-ndjson": {"schema": _BINARY}, "text/csv": {"schema": _BINARY},
                          "application/octet-stream": {"schema": _BINARY},
                          "multipart/form-data": {"schema": {"type": "object", "required": ["file"],
                                                             "properties": {"file": _BINARY}}}}}


@blp.route("/imports")
class Imports(MethodView):
    @error_codes("IMPORT_FILE_EMPTY", "IMPORT_FILE_UNPARSEABLE", "IMPORT_FILE_ENCODING", "IMPORT_COLUMNS_INVALID",
                 "IMPORT_FORMAT_REQUIRED", "PAYLOAD_TOO_LARGE")
    @blp.requires(imports.import_batch)
    @blp.arguments(ImportArgsSchema, location="query")
    @blp.doc(requestBody=_FILE_BODY)
    @blp.response(201, ImportBatchDetailSchema)
    def post(self, args):
        """Import service records (with readings) or dispensings as JSON lines or CSV, up to 20 MB.

        Each row carries the institution's own `external_id`: a row already stored is counted,
        not stored again; a bad row is reported with its line and reason and the good rows are
        stored. The report is kept (GET /imports/{id}).
        """
        filename, content = _uploaded_file(args["filename"])
        file_format = args["format"] or _format_of(filename)
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


def _uploaded_file(filename: str) -> tuple[str, bytes]:
    """The file from a multipart `file` field, or the raw request body."""
    request.max_content_length = MAX_IMPORT_BYTES  # above the app's 1 MiB for JSON, for this endpoint only
    if request.content_length is not None and request.content_length > MAX_IMPORT_BYTES:
        raise RequestEntityTooLarge()
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None:
            raise ValidationFailed("请在 file 字段上传文件", code="IMPORT_FILE_EMPTY")
        return filename or upload.filename or "", upload.read()
    return filename, request.get_data(cache=False)


def _format_of(filename: str) -> str:
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    file_format = _EXTENSIONS.get(extension) or _MEDIA_TYPES.get(request.mimetype)
    if file_format is None:
        raise ValidationFailed("请用 format 参数注明文件格式（jsonl 或 csv）", code="IMPORT_FORMAT_REQUIRED")
    return file_format
