"""Files from the bureau's core system: claims, roster changes and benefit registrations (`/api/admin/v1/exchange`)."""
from flask.views import MethodView

from server.claims import services as claims
from server.identity.roles import ADMIN_ROLES
from server.imports import exchange
from server.imports.schemas import ClaimTotalsArgsSchema, ClaimTotalsSchema, ExchangeArgsSchema, \
    ExchangeBatchDetailSchema, ExchangeBatchSchema, ExchangeQuerySchema
from server.web import uploads
from server.web.auth import current_actor
from server.web.blueprint import Blueprint
from server.web.docs import error_codes
from server.web.schemas import page_schema, split_page

blp = Blueprint("admin_exchange", __name__, url_prefix="/api/admin/v1", description="医保核心系统数据交换",
                serves=ADMIN_ROLES)

# A county's yearly claims export is a few hundred MB; larger files go through `jiayi import`.
MAX_EXCHANGE_BYTES = 1024 * 1024 * 1024


@blp.route("/exchange/imports")
class ExchangeImports(MethodView):
    @error_codes("IMPORT_FILE_EMPTY", "IMPORT_FILE_UNPARSEABLE", "IMPORT_FILE_ENCODING", "IMPORT_COLUMNS_INVALID",
                 "IMPORT_FORMAT_REQUIRED", "PAYLOAD_TOO_LARGE")
    @blp.requires(exchange.import_file)
    @blp.arguments(ExchangeArgsSchema, location="query")
    @blp.doc(requestBody=uploads.file_body("导入文件（UTF-8，可带 BOM；字段名为国家医保信息平台字段名）"))
    @blp.response(201, ExchangeBatchDetailSchema)
    def post(self, args):
        """Load a file of settled claims, roster changes or benefit registrations as CSV or JSON lines.

        Loading the same file again changes nothing. Bad rows are reported with their line, field
        and code while the good rows are stored; the report is kept (GET /exchange/imports/{id}).
        """
        filename, stream = uploads.uploaded_file(args["filename"], MAX_EXCHANGE_BYTES)
        file_format = args["format"] or uploads.format_of(filename)
        return exchange.import_file(current_actor(), kind=args["kind"], file_format=file_format,
                                    filename=filename, stream=stream)

    @blp.requires(exchange.list_batches)
    @blp.arguments(ExchangeQuerySchema, location="query")
    @blp.response(200, page_schema(ExchangeBatchSchema))
    def get(self, args):
        """The region's bureau files, newest first: who loaded what, when, and what it changed."""
        page, filters = split_page(args)
        return exchange.list_batches(current_actor(), page, **filters)


@blp.route("/exchange/imports/<int:batch_id>")
class ExchangeImportById(MethodView):
    @blp.requires(exchange.get_batch)
    @blp.response(200, ExchangeBatchDetailSchema)
    def get(self, batch_id):
        """One bureau file's report with its failed rows (line, field, code, message)."""
        return exchange.get_batch(current_actor(), batch_id)


@blp.route("/claims/totals")
class ClaimTotals(MethodView):
    @blp.requires(claims.claim_totals)
    @blp.arguments(ClaimTotalsArgsSchema, location="query")
    @blp.response(200, ClaimTotalsSchema(many=True))
    def get(self, args):
        """The year's standing settlements and their sums in fen, inpatient and outpatient."""
        return claims.claim_totals(current_actor(), **args)
