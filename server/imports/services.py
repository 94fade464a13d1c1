"""Importing a file from an institution's own system, and reading the reports kept.

Every row carries the institution's own id (`external_id`), so re-sending a file stores
nothing twice; a bad row is reported with its line and reason while the good rows are
stored; the report (`ImportBatch`) is kept. A team member imports their teams' contracts and
sees their team's reports; a manager, the institution's.
"""
from __future__ import annotations

from server.audit import services as audit
from server.common.paging import Page, PageRequest, paginate, where_given
from server.common.timeutil import utcnow
from server.common.uow import transaction
from server.errors import Forbidden, ValidationFailed
from server.extensions import db
from server.identity.roles import Actor, Level, Role, allowed
from server.identity.scoping import get_visible, scoped_select
from server.imports import pipeline
from server.imports.models import ImportBatch
from server.prescriptions.dispensing_import import DispensingImporter
from server.servicerecords.service_record_import import ServiceRecordImporter

IMPORTERS = {importer.kind: importer for importer in (ServiceRecordImporter, DispensingImporter)}
KINDS = tuple(IMPORTERS)
FORMATS = ("jsonl", "csv")
IMPORT_ROLES = (Role.TEAM_MEMBER, Role.INSTITUTION_MANAGER)


@allowed(*IMPORT_ROLES)
def import_batch(actor: Actor, *, kind: str, file_format: str, filename: str, content: bytes) -> ImportBatch:
    """Import one file for the actor's institution (a team member: only their teams' contracts)."""
    if actor.institution_id is None or actor.region_id is None:
        raise Forbidden()
    if kind not in KINDS:
        raise ValidationFailed("不支持的导入类型", code="IMPORT_KIND_UNKNOWN", details={"kinds": list(KINDS)})
    if file_format not in FORMATS:
        raise ValidationFailed("文件格式应为 jsonl 或 csv", code="IMPORT_FORMAT_UNKNOWN",
                               details={"formats": list(FORMATS)})
    received_at = utcnow()
    with transaction():
        pipeline.lock_institution(actor.institution_id)
        report = pipeline.run(IMPORTERS[kind](actor, received_at), content, file_format)
        batch = ImportBatch(
            region_id=actor.region_id, institution_id=actor.institution_id, team_id=_team_of(actor), kind=kind,
            file_format=file_format, filename=(filename or "")[:255], received_at=received_at, finished_at=utcnow(),
            rows_total=report.rows_total, rows_stored=report.rows_stored,
            rows_already_stored=report.rows_already_stored, rows_failed=report.rows_failed,
            failures=sorted(report.failures, key=lambda f: f["line"]), submitted_by_account_id=actor.account_id)
        db.session.add(batch)
        db.session.flush()
        audit.record(actor, "import_batch.create", "import_batch", batch.id, {
            "kind": kind, "format": file_format, "filename": batch.filename, "rows_total": batch.rows_total,
            "rows_stored": batch.rows_stored, "rows_already_stored": batch.rows_already_stored,
            "rows_failed": batch.rows_failed})
    return batch


@allowed(*IMPORT_ROLES)
def list_batches(actor: Actor, page: PageRequest, *, kind: str | None = None) -> Page[ImportBatch]:
    """The import reports the actor may see, newest first."""
    stmt = scoped_select(ImportBatch, actor).order_by(ImportBatch.id.desc())
    return paginate(where_given(stmt, (ImportBatch.kind, kind)), page)


@allowed(*IMPORT_ROLES)
def get_batch(actor: Actor, batch_id: int) -> ImportBatch:
    return get_visible(ImportBatch, batch_id, actor)


def _team_of(actor: Actor) -> int | None:
    """The team a batch belongs to: a team member's (of several, the first, which the uploader is
    in); none for a manager, whose upload is the institution's."""
    if actor.level is not Level.TEAM or not actor.team_ids:
        return None
    return min(actor.team_ids)
