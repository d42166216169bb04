"""setup method checks: a setup checkout whose card-saving answer was lost is asked about again
by the reconcile job (checkout_sessions.method_check_at, a partial index holds only those)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 05:00:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('checkout_sessions', sa.Column('method_check_at', sa.DateTime(timezone=True), nullable=True))
    op.create_index('checkout_sessions_due_for_method_check', 'checkout_sessions', ['method_check_at'], unique=False,
                    postgresql_where=sa.text('method_check_at IS NOT NULL'))


def downgrade() -> None:
    op.drop_index('checkout_sessions_due_for_method_check', table_name='checkout_sessions',
                  postgresql_where=sa.text('method_check_at IS NOT NULL'))
    op.drop_column('checkout_sessions', 'method_check_at')
