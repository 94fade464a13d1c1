"""one active prescription per contract (a partial unique index), one dispensing per item per day

Revision ID: a1d0c0de0014
Revises: a1d0c0de0013
Create Date: 2026-12-02 15:30:00

"""
from alembic import op
import sqlalchemy as sa

revision = 'a1d0c0de0014'
down_revision = 'a1d0c0de0013'
branch_labels = None
depends_on = None

ACTIVE = sa.text("status = 'active'")


def upgrade():
    # Rows the services should never have let in stop the upgrade, counted, before any change:
    # which of them to keep is a decision for people, not for a migration.
    problems = []
    if count := _count("SELECT contract_id FROM prescription WHERE status = 'active' "
                       "GROUP BY contract_id HAVING count(*) > 1"):
        problems.append(f"{count} contracts have more than one active prescription: complete all but the current one")
    if count := _count("SELECT prescription_item_id FROM dispensing "
                       "GROUP BY prescription_item_id, dispensed_on HAVING count(*) > 1"):
        problems.append(f"{count} prescription items are dispensed more than once on one day: merge those dispensings")
    if problems:
        raise RuntimeError(f"a1d0c0de0014: {'; '.join(problems)}; then upgrade again")
    with op.batch_alter_table('prescription', schema=None) as batch_op:
        batch_op.create_index('uq_prescription_active_per_contract', ['contract_id'], unique=True,
                              sqlite_where=ACTIVE, postgresql_where=ACTIVE)

    with op.batch_alter_table('dispensing', schema=None) as batch_op:
        batch_op.create_index('uq_dispensing_item_per_day', ['prescription_item_id', 'dispensed_on'], unique=True)
        batch_op.drop_index(batch_op.f('ix_dispensing_prescription_item_id'))


def downgrade():
    with op.batch_alter_table('dispensing', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dispensing_prescription_item_id'), ['prescription_item_id'], unique=False)
        batch_op.drop_index('uq_dispensing_item_per_day')

    with op.batch_alter_table('prescription', schema=None) as batch_op:
        batch_op.drop_index('uq_prescription_active_per_contract', sqlite_where=ACTIVE, postgresql_where=ACTIVE)


def _count(duplicates_sql: str) -> int:
    return op.get_bind().scalar(sa.text(f"SELECT count(*) FROM ({duplicates_sql}) AS duplicates"))
