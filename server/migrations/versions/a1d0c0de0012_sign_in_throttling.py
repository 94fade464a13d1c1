"""sign-in throttling counters shared by every worker

Revision ID: a1d0c0de0012
Revises: a1d0c0de0011
Create Date: 2026-12-02 11:55:00

"""
from alembic import op
import sqlalchemy as sa

revision = 'a1d0c0de0012'
down_revision = 'a1d0c0de0011'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('sign_in_throttle',
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('window_started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sign_in_throttle')),
    sa.UniqueConstraint('kind', 'key', name=op.f('uq_sign_in_throttle_kind_key'))
    )


def downgrade():
    op.drop_table('sign_in_throttle')
