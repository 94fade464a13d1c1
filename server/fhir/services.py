"""FHIR export use cases: the Bulk Data `$export` and one resident's `$everything`, for bureau staff only.

Every kick-off, every file download and every Bundle is audited with the purpose the caller
stated. A bulk file is not stored: `export_file` audits the download in its own transaction
and returns a generator that reads the region chunk by chunk while the response streams, in
the session's next transaction, which ends when the stream does. So the data are those at
download time; `transactionTime` in the manifest is when the export was asked for.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, timedelta

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.resource import Resource

from server.audit import services as audit
from server.common.timeutil import utcnow
from server.common.uow import transaction
from server.errors import DomainError, NotFound, RuleViolation
from server.extensions import db
from server.fhir.models import ExportPurpose, FhirExportJob
from server.fhir.queries import RESOURCE_TYPES, Selection, region_selection, resident_selection
from server.identity.roles import Actor, Role, allowed
from server.identity.scoping import get_visible
from server.institutions.models import Institution
from server.residents.models import Resident

EXPORT_SERVED_FOR = timedelta(hours=24)  # how long an export's files can be downloaded
_WRITE_BYTES = 64 * 1024  # NDJSON sent to the client at a time


class ExportExpired(DomainError):
    status = 410
    code = "EXPORT_EXPIRED"
    message = "该导出已过期，请重新发起导出"


def _purpose_details(purpose_code: ExportPurpose, purpose: str) -> dict:
    return {"purpose_code": purpose_code.value, "purpose": purpose}


@allowed(Role.BUREAU_STAFF)
def start_export(actor: Actor, *, resource_types: list[str], institution_id: int | None, period_start: date | None,
                 period_end: date | None, purpose_code: ExportPurpose, purpose: str) -> FhirExportJob:
    """Kick off a bulk export of the region, or of one institution of it, for a stated purpose."""
    if period_start and period_end and period_start > period_end:
        raise RuleViolation("导出期间的开始日期不能晚于结束日期", code="PERIOD_INVALID",
                            details={"period_start": period_start.isoformat(), "period_end": period_end.isoformat()})
    with transaction():
        if institution_id is not None:
            get_visible(Institution, institution_id, actor)
        now = utcnow()
        job = FhirExportJob(region_id=actor.region_id, account_id=actor.account_id, institution_id=institution_id,
                            period_start=period_start, period_end=period_end,
                            resource_types=[t for t in RESOURCE_TYPES if t in resource_types],
                            purpose_code=purpose_code, purpose=purpose, created_at=now,
                            expires_at=now + EXPORT_SERVED_FOR)
        db.session.add(job)
        db.session.flush()
        audit.record(actor, "fhir.export.start", "fhir_export_job", job.id, {
            **_purpose_details(purpose_code, purpose), "resource_types": job.resource_types,
            "institution_id": institution_id, "period_start": period_start and period_start.isoformat(),
            "period_end": period_end and period_end.isoformat()})
    return job


def _own_job(actor: Actor, job_id: int) -> FhirExportJob:
    """The caller's own export: another staff member's is not found, whatever its region, since its
    purpose was stated by someone else."""
    job = get_visible(FhirExportJob, job_id, actor)
    if job.account_id != actor.account_id:
        raise NotFound()
    if job.expires_at <= utcnow():
        raise ExportExpired()
    return job


@allowed(Role.BUREAU_STAFF)
def export_status(actor: Actor, job_id: int) -> FhirExportJob:
    """The export the manifest describes; its files are ready at once, since they are generated as they stream."""
    with transaction():
        return _own_job(actor, job_id)


@allowed(Role.BUREAU_STAFF)
def export_file(actor: Actor, job_id: int, resource_type: str) -> Iterator[bytes]:
    """One resource type of an export as NDJSON, produced while it is read; the download is audited first."""
    with transaction():
        job = _own_job(actor, job_id)
        if resource_type not in job.resource_types:
            raise NotFound()
        audit.record(actor, "fhir.export.download", "fhir_export_job", job.id,
                     {**_purpose_details(job.purpose_code, job.purpose), "resource_type": resource_type})
    selection = region_selection(actor, institution_id=job.institution_id, start=job.period_start,
                                 end=job.period_end)
    return ndjson(RESOURCE_TYPES[resource_type](selection, job.purpose_code.identifies_people))


def ndjson(resources: Iterable[Resource]) -> Iterator[bytes]:
    """Resources as newline-delimited JSON, written about 64 KiB at a time."""
    lines: list[bytes] = []
    size = 0
    for resource in resources:
        lines.append(resource.model_dump_json().encode() + b"\n")
        size += len(lines[-1])
        if size >= _WRITE_BYTES:
            yield b"".join(lines)
            lines, size = [], 0
    if lines:
        yield b"".join(lines)


@allowed(Role.BUREAU_STAFF)
def patient_everything(actor: Actor, resident_id: int, *, purpose_code: ExportPurpose, purpose: str,
                       base_url: str) -> Bundle:
    """Everything the platform holds on one resident as a FHIR searchset Bundle, for a stated purpose.

    `base_url` is the FHIR base the entries' full URLs start with.
    """
    with transaction():
        get_visible(Resident, resident_id, actor)
        audit.record(actor, "fhir.patient.everything", "resident", resident_id,
                     _purpose_details(purpose_code, purpose))
        entries = list(_entries(resident_selection(actor, resident_id), purpose_code.identifies_people, base_url))
    return Bundle.model_validate({"resourceType": "Bundle", "type": "searchset", "total": 1,
                                  "timestamp": utcnow().isoformat(), "entry": entries})


def _entries(selection: Selection, identified: bool, base_url: str) -> Iterator[dict]:
    for resource_type, resources in RESOURCE_TYPES.items():
        mode = "match" if resource_type == "Patient" else "include"
        for resource in resources(selection, identified):
            yield {"fullUrl": f"{base_url}/{resource_type}/{resource.id}", "resource": resource,
                   "search": {"mode": mode}}
