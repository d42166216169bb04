"""events (the outbox), webhook endpoints, their deliveries and attempts, emails owed

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 10:00:00
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table('events',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('livemode', sa.Boolean(), nullable=False),
    sa.Column('type', sa.String(length=64), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('created_at', TS, nullable=False),
    sa.Column('dedupe_key', sa.String(length=128), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('dedupe_key')
    )
    op.create_index('events_list', 'events', ['account_id', 'livemode', sa.literal_column('created_at DESC'), sa.literal_column('id DESC')])
    op.create_index('events_by_type', 'events', ['account_id', 'livemode', 'type', sa.literal_column('created_at DESC'), sa.literal_column('id DESC')])
    op.create_index('events_by_age', 'events', ['created_at'])

    op.create_table('webhook_endpoints',
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('enabled_events', postgresql.ARRAY(sa.String()), nullable=False),
    sa.Column('disabled', sa.Boolean(), nullable=False),
    sa.Column('disabled_reason', sa.String(length=16), nullable=True),
    sa.Column('disabled_at', TS, nullable=True),
    sa.Column('secret_encrypted', sa.LargeBinary(), nullable=False),
    sa.Column('previous_secret_encrypted', sa.LargeBinary(), nullable=True),
    sa.Column('previous_secret_expires_at', TS, nullable=True),
    sa.Column('failing_since', TS, nullable=True),
    sa.Column('busy_until', TS, nullable=True),
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('livemode', sa.Boolean(), nullable=False),
    sa.Column('created_at', TS, nullable=False),
    sa.Column('updated_at', TS, nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('webhook_endpoints_list', 'webhook_endpoints', ['account_id', 'livemode', sa.literal_column('created_at DESC'), sa.literal_column('id DESC')])

    op.create_table('webhook_deliveries',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('livemode', sa.Boolean(), nullable=False),
    sa.Column('event_id', sa.String(length=64), nullable=False),
    sa.Column('endpoint_id', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', TS, nullable=True),
    sa.Column('created_at', TS, nullable=False),
    sa.Column('updated_at', TS, nullable=False),
    sa.ForeignKeyConstraint(['endpoint_id'], ['webhook_endpoints.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('webhook_deliveries_due', 'webhook_deliveries', ['next_attempt_at'], postgresql_where=sa.text("status = 'pending'"))
    op.create_index('webhook_deliveries_by_endpoint_due', 'webhook_deliveries', ['endpoint_id', 'next_attempt_at'], postgresql_where=sa.text("status = 'pending'"))
    op.create_index('webhook_deliveries_by_event', 'webhook_deliveries', ['event_id'])

    op.create_table('webhook_attempts',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('delivery_id', sa.String(length=64), nullable=False),
    sa.Column('endpoint_id', sa.String(length=64), nullable=False),
    sa.Column('event_id', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('livemode', sa.Boolean(), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('succeeded', sa.Boolean(), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('duration_ms', sa.Integer(), nullable=False),
    sa.Column('response_body', sa.Text(), nullable=True),
    sa.Column('error', sa.String(length=64), nullable=True),
    sa.Column('next_attempt_at', TS, nullable=True),
    sa.Column('created_at', TS, nullable=False),
    sa.ForeignKeyConstraint(['delivery_id'], ['webhook_deliveries.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['endpoint_id'], ['webhook_endpoints.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('webhook_attempts_by_endpoint', 'webhook_attempts', ['endpoint_id', sa.literal_column('created_at DESC'), sa.literal_column('id DESC')])
    op.create_index('webhook_attempts_by_delivery', 'webhook_attempts', ['delivery_id'])

    op.create_table('emails',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('event_id', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('livemode', sa.Boolean(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('to_address', sa.String(length=512), nullable=False),
    sa.Column('locale', sa.String(length=35), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', TS, nullable=True),
    sa.Column('sent_at', TS, nullable=True),
    sa.Column('created_at', TS, nullable=False),
    sa.Column('updated_at', TS, nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('emails_one_per_event_and_kind', 'emails', ['event_id', 'kind'], unique=True)
    op.create_index('emails_due', 'emails', ['next_attempt_at'], postgresql_where=sa.text("status = 'pending'"))
    op.add_column('checkout_sessions', sa.Column('locale', sa.String(length=35), nullable=True))


def downgrade() -> None:
    op.drop_column('checkout_sessions', 'locale')
    op.drop_table('emails')
    op.drop_table('webhook_attempts')
    op.drop_table('webhook_deliveries')
    op.drop_table('webhook_endpoints')
    op.drop_table('events')
