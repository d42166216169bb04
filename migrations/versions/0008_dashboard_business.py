"""dashboard business: API keys a merchant can list, add and revoke (an id, the last four
characters, last used, revoked), and the daily opens of each payment link (rolled up from Redis)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 01:00:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column('api_keys', sa.Column('id', sa.String(length=64), nullable=True))
    op.add_column('api_keys', sa.Column('last4', sa.String(length=4), nullable=True))
    op.add_column('api_keys', sa.Column('last_used_at', TS, nullable=True))
    op.add_column('api_keys', sa.Column('revoked_at', TS, nullable=True))
    # Keys made before this revision get an id (hex is base62 too); their last four characters were
    # never stored, so the dashboard shows them as unknown.
    op.execute("UPDATE api_keys SET id = 'key_' || CASE WHEN livemode THEN 'live' ELSE 'test' END || '_' "
               "|| substr(md5(key_hash), 1, 24) WHERE id IS NULL")
    op.alter_column('api_keys', 'id', nullable=False)
    op.create_unique_constraint('api_keys_id', 'api_keys', ['id'])
    op.create_table('link_daily_opens',
    sa.Column('payment_link_id', sa.String(length=64), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('opens', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', TS, nullable=False),
    sa.PrimaryKeyConstraint('payment_link_id', 'day')
    )


def downgrade() -> None:
    op.drop_table('link_daily_opens')
    op.drop_constraint('api_keys_id', 'api_keys', type_='unique')
    for column in ('revoked_at', 'last_used_at', 'last4', 'id'):
        op.drop_column('api_keys', column)
