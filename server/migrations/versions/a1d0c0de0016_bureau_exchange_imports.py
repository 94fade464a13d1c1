"""bureau exchange imports: claims in national fields, batch history for region files

Revision ID: a1d0c0de0016
Revises: a1d0c0de0015
Create Date: 2026-12-02 19:00:00

"""
from alembic import op
import sqlalchemy as sa

revision = 'a1d0c0de0016'
down_revision = 'a1d0c0de0015'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
