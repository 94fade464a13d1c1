"""bind one identity per account; disease catalogue with national outpatient codes

Revision ID: 50944c1951d3
Revises: c59953d09359
Create Date: 2026-11-23 01:19:07.807006

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '50944c1951d3'
down_revision = 'c59953d09359'
branch_labels = None
depends_on = None


# The national catalogue's codes for the two diseases every region starts with [S-2.1].
DISEASES = [
    {"code": "hypertension", "name": "高血压", "icd10_prefixes": ["I10", "I11", "I12", "I13", "I15"],
     "opsp_codes": ["M03900"]},
    {"code": "diabetes", "name": "糖尿病", "icd10_prefixes": ["E10", "E11", "E14"], "opsp_codes": ["M01600"]},
]


def upgrade():
    with op.batch_alter_table('disease', schema=None) as batch_op:
        batch_op.add_column(sa.Column('opsp_codes', sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
                                      nullable=False, server_default=sa.text("'[]'")))
    with op.batch_alter_table('disease', schema=None) as batch_op:
        batch_op.alter_column('opsp_codes', server_default=None)

    disease = sa.table("disease", sa.column("id", sa.Integer), sa.column("code", sa.String),
                       sa.column("name", sa.String),
                       sa.column("icd10_prefixes", sa.JSON().with_variant(postgresql.JSONB(), "postgresql")),
                       sa.column("opsp_codes", sa.JSON().with_variant(postgresql.JSONB(), "postgresql")))
    connection = op.get_bind()
    for row in DISEASES:
        exists = connection.execute(sa.select(disease.c.id).where(disease.c.code == row["code"])).first()
        if exists:
            connection.execute(disease.update().where(disease.c.code == row["code"])
                               .values(opsp_codes=row["opsp_codes"]))
        else:
            connection.execute(disease.insert().values(**row))

    with op.batch_alter_table('family_link', schema=None) as batch_op:
        batch_op.create_index('uq_family_link_self', ['resident_id'], unique=True, sqlite_where=sa.text("relation = 'self' AND revoked_at IS NULL"), postgresql_where=sa.text("relation = 'self' AND revoked_at IS NULL"))


def downgrade():
    with op.batch_alter_table('family_link', schema=None) as batch_op:
        batch_op.drop_index('uq_family_link_self', sqlite_where=sa.text("relation = 'self' AND revoked_at IS NULL"), postgresql_where=sa.text("relation = 'self' AND revoked_at IS NULL"))

    with op.batch_alter_table('disease', schema=None) as batch_op:
        batch_op.drop_column('opsp_codes')
