"""Files from the bureau's core system (医保核心系统数据交换): settled claims, roster changes and
benefit registrations, loaded by bureau staff over the API, by `jiayi import`, or from a drop
folder by the scheduled job.

Each file is one unit of work: staged, applied set-wise by its domain, and recorded as an
`ImportBatch` of the region (no institution) with what it stored, what was there already,
what it skipped, what failed (line, field, code) and what it changed elsewhere. A file that
cannot be read at all changes nothing; in a drop folder it moves to `failed/` with the reason.
"""
from __future__ import annotations

import dataclasses
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import sqlalchemy as sa
import structlog

from server.audit import services as audit
from server.claims.claims_import import CLAIMS
from server.common.paging import Page, PageRequest, paginate, where_given
from server.common.timeutil import local_today, utcnow
from server.common.uow import transaction
from server.errors import DomainError, NotFound, ValidationFailed
from server.extensions import db
from server.identity.roles import SYSTEM_ACTOR, Actor, Role, allowed
from server.identity.scoping import get_visible, scoped_select
from server.imports import bulk
from server.imports.models import ImportBatch
from server.imports.parsing import FORMATS_BY_EXTENSION
from server.regions.models import Region
from server.residents.benefit_import import BENEFITS
from server.residents.roster_import import ROSTER

log = structlog.get_logger(__name__)

LAYOUTS = {layout.kind: layout for layout in (CLAIMS, ROSTER, BENEFITS)}
KINDS = tuple(LAYOUTS)


@allowed(Role.BUREAU_STAFF)
def import_file(actor: Actor, *, kind: str, file_format: str, filename: str, stream: IO[bytes]) -> ImportBatch:
    """Load one bureau file into the actor's region."""
    region = db.session.get(Region, actor.region_id)
    if region is None:
        raise NotFound()
    return _load(actor, region, kind, file_format, filename, stream, source="api")


def import_path(region_code: str, kind: str, path: Path, *, source: str = "cli") -> ImportBatch:
    """Load a file from disk as the system (`jiayi import`, the drop folder)."""
    region = db.session.scalars(sa.select(Region).where(Region.admdvs_code == region_code)).first()
    if region is None:
        raise NotFound(f"统筹地区 {region_code} 不存在", code="REGION_NOT_FOUND")
    file_format = FORMATS_BY_EXTENSION.get(path.suffix.lstrip(".").lower())
    if file_format is None:
        raise ValidationFailed("文件扩展名应为 .csv 或 .jsonl", code="IMPORT_FORMAT_UNKNOWN")
    actor = dataclasses.replace(SYSTEM_ACTOR, region_id=region.id)
    with path.open("rb") as stream:
        return _load(actor, region, kind, file_format, path.name, stream, source=source)


def _load(actor: Actor, region: Region, kind: str, file_format: str, filename: str, stream: IO[bytes], *,
          source: str) -> ImportBatch:
    layout = LAYOUTS.get(kind)
    if layout is None:
        raise ValidationFailed("不支持的导入类型", code="IMPORT_KIND_UNKNOWN", details={"kinds": list(KINDS)})
    if file_format not in ("csv", "jsonl"):
        raise ValidationFailed("文件格式应为 jsonl 或 csv", code="IMPORT_FORMAT_UNKNOWN",
                               details={"formats": ["csv", "jsonl"]})
    received_at = utcnow()
    with transaction():
        bulk.lock_region(region.id)
        batch = ImportBatch(region_id=region.id, institution_id=None, team_id=None, kind=kind, source=source,
                            file_format=file_format, filename=(filename or "")[:255], received_at=received_at,
                            submitted_by_account_id=actor.account_id or None)
        db.session.add(batch)
        db.session.flush()
        report = bulk.load(layout, stream, file_format, lambda table: bulk.Staged(
            table, region.id, region.admdvs_code, batch.id, local_today(), received_at))
        batch.finished_at = utcnow()
        batch.rows_total, batch.rows_stored = report.rows_total, report.rows_stored
        batch.rows_already_stored, batch.rows_skipped = report.rows_already_stored, report.rows_skipped
        batch.rows_failed, batch.failures = report.rows_failed, report.failures
        batch.changes, batch.sha256 = report.changes, report.sha256
        audit.record(actor, "exchange_import.create", "import_batch", batch.id, {
            "kind": kind, "format": file_format, "filename": batch.filename, "source": source,
            "sha256": batch.sha256, "rows_total": batch.rows_total, "rows_stored": batch.rows_stored,
            "rows_already_stored": batch.rows_already_stored, "rows_skipped": batch.rows_skipped,
            "rows_failed": batch.rows_failed, "changes": batch.changes})
    return batch


@allowed(Role.BUREAU_STAFF)
def list_batches(actor: Actor, page: PageRequest, *, kind: str | None = None) -> Page[ImportBatch]:
    """The region's bureau files, newest first."""
    stmt = scoped_select(ImportBatch, actor).where(ImportBatch.kind.in_(KINDS)).order_by(ImportBatch.id.desc())
    return paginate(where_given(stmt, (ImportBatch.kind, kind)), page)


@allowed(Role.BUREAU_STAFF)
def get_batch(actor: Actor, batch_id: int) -> ImportBatch:
    batch = get_visible(ImportBatch, batch_id, actor)
    if batch.kind not in KINDS:
        raise NotFound()
    return batch


# --- The drop folder ---------------------------------------------------------------------------------

@dataclass
class DropResult:
    path: Path
    batch_id: int | None = None
    error: str | None = None


def import_drop_folder(folder: Path) -> list[DropResult]:
    """Load every file waiting in `<folder>/<region code>/`, named `<kind>…​.csv` or `.jsonl`, oldest
    first; each moves to `done/` (prefixed with its batch id) or to `failed/` beside a `.error.json`."""
    results = []
    for region_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        waiting = [p for p in region_dir.iterdir() if p.is_file() and not p.name.startswith(".")]
        for path in sorted(waiting, key=lambda p: (p.stat().st_mtime, p.name)):
            results.append(_drop(region_dir.name, path))
    return results


def _drop(region_code: str, path: Path) -> DropResult:
    kind = next((kind for kind in KINDS if path.name.startswith(kind)), None)
    try:
        if kind is None:
            raise ValidationFailed("文件名应以 " + "、".join(KINDS) + " 之一开头", code="IMPORT_KIND_UNKNOWN")
        batch = import_path(region_code, kind, path, source="drop_folder")
    except DomainError as exc:
        _move(path, "failed", path.name)
        (path.parent / "failed" / f"{path.name}.error.json").write_text(
            json.dumps({"code": exc.code, "message": exc.message, "details": exc.details}, ensure_ascii=False),
            encoding="utf-8")
        log.warning("exchange_file_failed", file=path.name, code=exc.code)
        return DropResult(path, error=exc.code)
    _move(path, "done", f"{batch.id}-{path.name}")
    log.info("exchange_file_loaded", file=path.name, batch=batch.id, stored=batch.rows_stored,
             failed=batch.rows_failed)
    return DropResult(path, batch_id=batch.id)


def _move(path: Path, to: str, name: str) -> None:
    target = path.parent / to
    target.mkdir(exist_ok=True)
    shutil.move(path, target / name)
