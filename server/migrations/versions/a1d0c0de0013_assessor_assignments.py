"""third-party assessors see only the institutions assigned to them for a run

Revision ID: a1d0c0de0013
Revises: a1d0c0de0012
Create Date: 2026-12-02 11:55:00

"""
from alembic import op
import sqlalchemy as sa

revision = 'a1d0c0de0013'
down_revision = 'a1d0c0de0012'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('assessor_assignment',
    sa.Column('run_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('institution_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('assigned_by_account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['user_account.id'], name=op.f('fk_assessor_assignment_account_id_user_account')),
    sa.ForeignKeyConstraint(['assigned_by_account_id'], ['user_account.id'], name=op.f('fk_assessor_assignment_assigned_by_account_id_user_account')),
    sa.ForeignKeyConstraint(['institution_id'], ['institution.id'], name=op.f('fk_assessor_assignment_institution_id_institution')),
    sa.ForeignKeyConstraint(['run_id'], ['assessment_run.id'], name=op.f('fk_assessor_assignment_run_id_assessment_run')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assessor_assignment')),
    sa.UniqueConstraint('run_id', 'account_id', 'institution_id', name=op.f('uq_assessor_assignment_run_id_account_id_institution_id'))
    )
    with op.batch_alter_table('assessor_assignment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_assessor_assignment_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_assessor_assignment_institution_id'), ['institution_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_assessor_assignment_run_id'), ['run_id'], unique=False)


def downgrade():
    with op.batch_alter_table('assessor_assignment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_assessor_assignment_run_id'))
        batch_op.drop_index(batch_op.f('ix_assessor_assignment_institution_id'))
        batch_op.drop_index(batch_op.f('ix_assessor_assignment_account_id'))

    op.drop_table('assessor_assignment')
