"""import batches carry the team that sent them

Revision ID: a1d0c0de0015
Revises: a1d0c0de0014
Create Date: 2026-12-02 15:30:00

"""
from alembic import op
import sqlalchemy as sa

revision = 'a1d0c0de0015'
down_revision = 'a1d0c0de0014'
branch_labels = None
depends_on = None

# A batch sent by a team member belongs to the team they were in on that (Beijing) day, the
# first if several, as the service files it now. A manager's batch, or one whose sender had no
# team that day, stays institution-wide (no team): only the institution's managers see it.
_BACKFILL = """
UPDATE import_batch SET team_id = (
    SELECT min(m.team_id) FROM user_account a
    JOIN team_membership m ON m.staff_id = a.staff_id
    JOIN team t ON t.id = m.team_id
    WHERE a.id = import_batch.submitted_by_account_id AND a.role = 'team_member'
      AND t.institution_id = import_batch.institution_id
      AND m.joined_on <= {day} AND (m.left_on IS NULL OR m.left_on >= {day}))
"""
_BEIJING_DAY = {
    "postgresql": "CAST(import_batch.received_at AT TIME ZONE 'Asia/Shanghai' AS DATE)",
    "sqlite": "date(import_batch.received_at, '+8 hours')",  # stored as naive UTC text
}


def upgrade():
    with op.batch_alter_table('import_batch', schema=None) as batch_op:
        batch_op.add_column(sa.Column('team_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch_op.create_index(batch_op.f('ix_import_batch_team_id'), ['team_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_import_batch_team_id_team'), 'team', ['team_id'], ['id'])
    op.execute(_BACKFILL.format(day=_BEIJING_DAY[op.get_bind().dialect.name]))


def downgrade():
    with op.batch_alter_table('import_batch', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_import_batch_team_id_team'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_import_batch_team_id'))
        batch_op.drop_column('team_id')
