"""bureau exchange imports: claims in national fields, batch history for region files

Revision ID: a1d0c0de0016
Revises: a1d0c0de0015
Create Date: 2026-12-02 19:00:00

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = 'a1d0c0de0016'
down_revision = 'a1d0c0de0015'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_REVERSAL = sa.text("reversal_of_setl_id IS NOT NULL")


def upgrade():
    # Existing rows came from the demo seed: outpatient or inpatient by their claim_type.
    with op.batch_alter_table('claim', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mdtrt_id', sa.String(length=32), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('med_type', sa.String(length=6), nullable=False, server_default=''))
        for name in ('account_paid_fen', 'cash_paid_fen', 'self_paid_fen'):
            batch_op.add_column(sa.Column(name, sa.BigInteger(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('reversal_of_setl_id', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('reversed_by_setl_id', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('import_batch_id', sa.BigInteger(), nullable=True))
        batch_op.create_index('ix_claim_reversal_of', ['reversal_of_setl_id'], unique=False,
                              sqlite_where=_REVERSAL, postgresql_where=_REVERSAL)
    op.execute("UPDATE claim SET med_type = CASE WHEN claim_type = 'inpatient' THEN '21' ELSE '11' END")
    with op.batch_alter_table('claim', schema=None) as batch_op:
        for name in ('mdtrt_id', 'med_type', 'account_paid_fen', 'cash_paid_fen', 'self_paid_fen'):
            batch_op.alter_column(name, server_default=None)

    with op.batch_alter_table('import_batch', schema=None) as batch_op:
        batch_op.alter_column('institution_id', existing_type=_ID, nullable=True)
        batch_op.alter_column('submitted_by_account_id', existing_type=_ID, nullable=True)
        batch_op.add_column(sa.Column('source', sa.String(length=16), nullable=False, server_default='api'))
        batch_op.add_column(sa.Column('rows_skipped', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('sha256', sa.String(length=64), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('changes', _JSON, nullable=False, server_default='{}'))
    with op.batch_alter_table('import_batch', schema=None) as batch_op:
        for name in ('source', 'rows_skipped', 'sha256', 'changes'):
            batch_op.alter_column(name, server_default=None)


def downgrade():
    op.execute("DELETE FROM claim WHERE import_batch_id IS NOT NULL")
    op.execute("DELETE FROM import_batch WHERE institution_id IS NULL OR submitted_by_account_id IS NULL")
    with op.batch_alter_table('import_batch', schema=None) as batch_op:
        for name in ('changes', 'sha256', 'rows_skipped', 'source'):
            batch_op.drop_column(name)
        batch_op.alter_column('submitted_by_account_id', existing_type=_ID, nullable=False)
        batch_op.alter_column('institution_id', existing_type=_ID, nullable=False)
    with op.batch_alter_table('claim', schema=None) as batch_op:
        batch_op.drop_index('ix_claim_reversal_of', sqlite_where=_REVERSAL, postgresql_where=_REVERSAL)
        for name in ('import_batch_id', 'reversed_by_setl_id', 'reversal_of_setl_id', 'self_paid_fen',
                     'cash_paid_fen', 'account_paid_fen', 'med_type', 'mdtrt_id'):
            batch_op.drop_column(name)
