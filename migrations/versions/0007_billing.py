"""billing: invoices, test clocks, and the due work of subscriptions (SPEC 8)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 01:00:00
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table('test_clocks',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('livemode', sa.Boolean(), nullable=False),
    sa.Column('created_at', TS, nullable=False),
    sa.Column('updated_at', TS, nullable=False),
    sa.Column('name', sa.String(length=255), nullable=True),
    sa.Column('frozen_time', TS, nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('test_clocks_list', 'test_clocks', ['account_id', 'livemode', sa.literal_column('created_at DESC'), sa.literal_column('id DESC')])

    op.add_column('customers', sa.Column('test_clock_id', sa.String(length=64), nullable=True))
    op.add_column('payments', sa.Column('invoice_id', sa.String(length=64), nullable=True))
    op.create_index('payments_by_invoice', 'payments', ['invoice_id'], postgresql_where=sa.text('invoice_id IS NOT NULL'))
    # At most one payment of an invoice under way or paid: a repeated or concurrent charge job
    # cannot charge a renewal twice, whatever it did wrong.
    op.create_index('payments_one_live_per_invoice', 'payments', ['invoice_id'], unique=True,
                    postgresql_where=sa.text("invoice_id IS NOT NULL AND status IN ('processing', 'requires_action', "
                                             "'succeeded')"))

    op.add_column('subscriptions', sa.Column('test_clock_id', sa.String(length=64), nullable=True))
    op.add_column('subscriptions', sa.Column('next_billing_at', TS, nullable=True))
    op.execute("UPDATE subscriptions SET next_billing_at = current_period_end WHERE status IN ('trialing', 'active')")
    op.create_index('subscriptions_by_status', 'subscriptions', ['account_id', 'livemode', 'status', sa.literal_column('created_at DESC'), sa.literal_column('id DESC')])
    op.create_index('subscriptions_by_link', 'subscriptions', ['account_id', 'livemode', 'payment_link_id', sa.literal_column('created_at DESC'), sa.literal_column('id DESC')])
    op.create_index('subscriptions_due', 'subscriptions', ['next_billing_at'], postgresql_where=sa.text('next_billing_at IS NOT NULL AND test_clock_id IS NULL'))
    op.create_index('subscriptions_due_on_clock', 'subscriptions', ['test_clock_id', 'next_billing_at'], postgresql_where=sa.text('next_billing_at IS NOT NULL AND test_clock_id IS NOT NULL'))

    op.create_table('invoices',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('livemode', sa.Boolean(), nullable=False),
    sa.Column('created_at', TS, nullable=False),
    sa.Column('updated_at', TS, nullable=False),
    sa.Column('subscription_id', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.String(length=64), nullable=False),
    sa.Column('test_clock_id', sa.String(length=64), nullable=True),
    sa.Column('period_start', TS, nullable=False),
    sa.Column('period_end', TS, nullable=False),
    sa.Column('lines', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('amount_subtotal_atom', sa.BigInteger(), nullable=False),
    sa.Column('amount_discount_atom', sa.BigInteger(), nullable=False),
    sa.Column('amount_total_atom', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempt_count', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', TS, nullable=True),
    sa.Column('payment_id', sa.String(length=64), nullable=True),
    sa.Column('paid_at', TS, nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('subscription_id', 'period_start', name='invoices_one_per_period')
    )
    op.create_index('invoices_list', 'invoices', ['account_id', 'livemode', sa.literal_column('created_at DESC'), sa.literal_column('id DESC')])
    op.create_index('invoices_by_subscription', 'invoices', ['account_id', 'livemode', 'subscription_id', sa.literal_column('created_at DESC'), sa.literal_column('id DESC')])
    op.create_index('invoices_due', 'invoices', ['next_attempt_at'], postgresql_where=sa.text("status = 'open' AND next_attempt_at IS NOT NULL AND test_clock_id IS NULL"))
    op.create_index('invoices_due_on_clock', 'invoices', ['test_clock_id', 'next_attempt_at'], postgresql_where=sa.text("status = 'open' AND next_attempt_at IS NOT NULL AND test_clock_id IS NOT NULL"))


def downgrade() -> None:
    op.drop_table('invoices')
    for index in ('subscriptions_due_on_clock', 'subscriptions_due', 'subscriptions_by_link', 'subscriptions_by_status'):
        op.drop_index(index, table_name='subscriptions')
    op.drop_column('subscriptions', 'next_billing_at')
    op.drop_column('subscriptions', 'test_clock_id')
    op.drop_index('payments_one_live_per_invoice', table_name='payments')
    op.drop_index('payments_by_invoice', table_name='payments')
    op.drop_column('payments', 'invoice_id')
    op.drop_column('customers', 'test_clock_id')
    op.drop_table('test_clocks')
