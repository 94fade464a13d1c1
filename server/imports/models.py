"""Batches imported from an institution's own system (机构系统批量导入) or the bureau's core system."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from server.common.models import IdMixin, fk
from server.common.timeutil import utcnow
from server.common.types import JSONType, UTCDateTime
from server.extensions import db
from server.identity.roles import Level


class ImportBatch(IdMixin, db.Model):
    """One imported file with its report (导入批次): service records, readings or dispensings sent
    by an institution, or claims, roster changes or benefit registrations from the bureau.

    Each row carries its sender's own id, so re-sending a file stores nothing twice; a bad row
    is reported with its line and reason while the good rows are stored. A team member's
    batch belongs to their team; a manager's to the whole institution (no team); a bureau
    file to the region (no institution), loaded by a person or by the system (`source`).
    """

    __tablename__ = "import_batch"
    __scope__ = {Level.REGION: "region_id", Level.INSTITUTION: "institution_id", Level.TEAM: "team_id"}

    region_id: Mapped[int] = fk("region.id", index=False)
    institution_id: Mapped[int | None] = fk("institution.id", nullable=True)
    team_id: Mapped[int | None] = fk("team.id", nullable=True)
    # service_records (readings included) / dispensings; from the bureau: claims / roster / benefits.
    kind: Mapped[str] = mapped_column(sa.String(16))
    source: Mapped[str] = mapped_column(sa.String(16), default="api")  # api / cli / drop_folder
    file_format: Mapped[str] = mapped_column(sa.String(8))  # jsonl / csv
    filename: Mapped[str] = mapped_column(sa.String(255), default="")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    rows_total: Mapped[int] = mapped_column(sa.Integer, default=0)
    rows_stored: Mapped[int] = mapped_column(sa.Integer, default=0)
    rows_already_stored: Mapped[int] = mapped_column(sa.Integer, default=0)
    rows_failed: Mapped[int] = mapped_column(sa.Integer, default=0)
    # Good rows about people the region does not serve (claims of someone never signed, …).
    rows_skipped: Mapped[int] = mapped_column(sa.Integer, default=0)
    sha256: Mapped[str] = mapped_column(sa.String(64), default="")
    # What the rows changed beyond themselves: {"contracts_ended": n, "claims_reversed": n, …}.
    changes: Mapped[dict] = mapped_column(JSONType, default=dict)
    # [{"line": n, "field": …, "external_id": …, "code": …, "message": …}] for the failed rows.
    failures: Mapped[list] = mapped_column(JSONType, default=list)
    submitted_by_account_id: Mapped[int | None] = fk("user_account.id", nullable=True, index=False)  # none: system
