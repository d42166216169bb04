"""payments: processors, customers' payment methods, payments, refunds, subscriptions; the
account's display settings and the checkout session's payment fields

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 22:23:52.529540
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('payment_methods',
    sa.Column('customer_id', sa.String(length=64), nullable=False),
    sa.Column('type', sa.String(length=16), nullable=False),
    sa.Column('card_brand', sa.String(length=32), nullable=False),
    sa.Column('card_last4', sa.String(length=4), nullable=False),
    sa.Column('card_exp_month', sa.Integer(), nullable=False),
    sa.Column('card_exp_year', sa.Integer(), nullable=False),
    sa.Column('processor', sa.String(length=16), nullable=False),
    sa.Column('processor_reference', sa.String(length=255), nullable=False),
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('livemode', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('payment_methods_by_customer', 'payment_methods', ['account_id', 'livemode', 'customer_id', sa.literal_column('created_at DESC'), sa.literal_column('id DESC')], unique=False)
    op.create_index('payment_methods_by_reference', 'payment_methods', ['processor', 'processor_reference'], unique=True)
    op.create_table('payments',
    sa.Column('checkout_session_id', sa.String(length=64), nullable=True),
    sa.Column('customer_id', sa.String(length=64), nullable=True),
    sa.Column('amount_atom', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('failure_code', sa.String(length=64), nullable=True),
    sa.Column('failure_message', sa.Text(), nullable=True),
    sa.Column('payment_method_id', sa.String(length=64), nullable=True),
    sa.Column('card', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('processor', sa.String(length=16), nullable=False),
    sa.Column('processor_reference', sa.String(length=255), nullable=True),
    sa.Column('action_url', sa.Text(), nullable=True),
    sa.Column('amount_refunded_atom', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('next_check_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('checks', sa.Integer(), server_default='0', nullable=False),
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('livemode', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('payments_by_customer', 'payments', ['account_id', 'livemode', 'customer_id', sa.literal_column('created_at DESC'), sa.literal_column('id DESC')], unique=False)
    op.create_index('payments_by_session', 'payments', ['checkout_session_id'], unique=False)
    op.create_index('payments_due_for_check', 'payments', ['next_check_at'], unique=False, postgresql_where=sa.text("status IN ('processing', 'requires_action')"))
    op.create_index('payments_list', 'payments', ['account_id', 'livemode', sa.literal_column('created_at DESC'), sa.literal_column('id DESC')], unique=False)
    op.create_index('payments_one_live_per_session', 'payments', ['checkout_session_id'], unique=True, postgresql_where=sa.text("status IN ('processing', 'requires_action', 'succeeded')"))
    op.create_table('subscriptions',
    sa.Column('customer_id', sa.String(length=64), nullable=False),
    sa.Column('checkout_session_id', sa.String(length=64), nullable=True),
    sa.Column('payment_link_id', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('items', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('interval', sa.String(length=8), nullable=False),
    sa.Column('interval_count', sa.Integer(), nullable=False),
    sa.Column('current_period_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('current_period_end', sa.DateTime(timezone=True), nullable=False),
    sa.Column('trial_end', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancel_at_period_end', sa.Boolean(), nullable=False),
    sa.Column('canceled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('default_payment_method_id', sa.String(length=64), nullable=True),
    sa.Column('latest_invoice_id', sa.String(length=64), nullable=True),
    sa.Column('coupon_id', sa.String(length=64), nullable=True),
    sa.Column('coupon', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('livemode', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('checkout_session_id')
    )
    op.create_index('subscriptions_by_customer', 'subscriptions', ['account_id', 'livemode', 'customer_id', sa.literal_column('created_at DESC'), sa.literal_column('id DESC')], unique=False)
    op.create_index('subscriptions_list', 'subscriptions', ['account_id', 'livemode', sa.literal_column('created_at DESC'), sa.literal_column('id DESC')], unique=False)
    op.create_table('test_processor_operations',
    sa.Column('idempotency_key', sa.String(length=128), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('reference', sa.String(length=64), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('amount_atom', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('customer_reference', sa.String(length=64), nullable=True),
    sa.Column('payment_method_reference', sa.String(length=64), nullable=True),
    sa.Column('charge_reference', sa.String(length=64), nullable=True),
    sa.Column('off_session', sa.Boolean(), nullable=False),
    sa.Column('card', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('behavior', sa.String(length=32), nullable=True),
    sa.Column('failure_code', sa.String(length=64), nullable=True),
    sa.Column('challenge_id', sa.String(length=64), nullable=True),
    sa.Column('return_url', sa.Text(), nullable=True),
    sa.Column('never_submitted', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('idempotency_key'),
    sa.UniqueConstraint('challenge_id'),
    sa.UniqueConstraint('reference')
    )
    op.create_index(op.f('ix_test_processor_operations_charge_reference'), 'test_processor_operations', ['charge_reference'], unique=False)
    op.create_index(op.f('ix_test_processor_operations_payment_method_reference'), 'test_processor_operations', ['payment_method_reference'], unique=False)
    op.create_table('processor_settings',
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('livemode', sa.Boolean(), nullable=False),
    sa.Column('processor', sa.String(length=16), nullable=False),
    sa.Column('publishable_key', sa.String(length=255), nullable=True),
    sa.Column('secret_key_encrypted', sa.LargeBinary(), nullable=True),
    sa.Column('webhook_secret_encrypted', sa.LargeBinary(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ),
    sa.PrimaryKeyConstraint('account_id', 'livemode')
    )
    op.create_table('refunds',
    sa.Column('payment_id', sa.String(length=64), nullable=False),
    sa.Column('amount_atom', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=64), nullable=True),
    sa.Column('failure_code', sa.String(length=64), nullable=True),
    sa.Column('processor_reference', sa.String(length=255), nullable=True),
    sa.Column('next_check_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('livemode', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['payment_id'], ['payments.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('refunds_by_payment', 'refunds', ['payment_id', 'created_at'], unique=False)
    op.create_index('refunds_due_for_check', 'refunds', ['next_check_at'], unique=False, postgresql_where=sa.text("status = 'pending'"))
    op.create_table('processor_events',
    sa.Column('processor', sa.String(length=16), nullable=False),
    sa.Column('event_id', sa.String(length=255), nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('livemode', sa.Boolean(), nullable=False),
    sa.Column('type', sa.String(length=128), nullable=False),
    sa.Column('payload', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('applied_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.String(length=32), nullable=True),
    sa.PrimaryKeyConstraint('processor', 'event_id')
    )
    op.add_column('customers', sa.Column('stripe_customer_id', sa.String(length=255), nullable=True))
    op.add_column('accounts', sa.Column('display_name', sa.String(length=255), nullable=True))
    op.add_column('accounts', sa.Column('support_email', sa.String(length=512), nullable=True))
    op.add_column('accounts', sa.Column('brand_color', sa.String(length=7), nullable=True))
    op.add_column('checkout_sessions', sa.Column('customer_email', sa.String(length=512), nullable=True))
    op.add_column('checkout_sessions', sa.Column('payment_id', sa.String(length=64), nullable=True))
    op.add_column('checkout_sessions', sa.Column('payment_method_id', sa.String(length=64), nullable=True))
    op.add_column('checkout_sessions', sa.Column('subscription_id', sa.String(length=64), nullable=True))
    op.add_column('checkout_sessions', sa.Column('payment_status', sa.String(length=24), server_default='unpaid', nullable=False))
    op.add_column('checkout_sessions', sa.Column('failed_attempts', sa.Integer(), server_default='0', nullable=False))
    op.add_column('checkout_sessions', sa.Column('coupon_redeemed', sa.Boolean(), server_default='false', nullable=False))
    op.create_index('customers_by_email', 'customers', ['account_id', 'livemode', sa.literal_column('lower(email)')], unique=False)


def downgrade() -> None:
    op.drop_index('customers_by_email', table_name='customers')
    op.drop_column('checkout_sessions', 'coupon_redeemed')
    op.drop_column('checkout_sessions', 'failed_attempts')
    op.drop_column('checkout_sessions', 'payment_status')
    op.drop_column('checkout_sessions', 'subscription_id')
    op.drop_column('checkout_sessions', 'payment_method_id')
    op.drop_column('checkout_sessions', 'payment_id')
    op.drop_column('checkout_sessions', 'customer_email')
    op.drop_column('accounts', 'brand_color')
    op.drop_column('customers', 'stripe_customer_id')
    op.drop_column('accounts', 'support_email')
    op.drop_column('accounts', 'display_name')
    op.drop_index('refunds_due_for_check', table_name='refunds', postgresql_where=sa.text("status = 'pending'"))
    op.drop_index('refunds_by_payment', table_name='refunds')
    op.drop_table('refunds')
    op.drop_table('processor_settings')
    op.drop_table('processor_events')
    op.drop_index(op.f('ix_test_processor_operations_payment_method_reference'), table_name='test_processor_operations')
    op.drop_index(op.f('ix_test_processor_operations_charge_reference'), table_name='test_processor_operations')
    op.drop_table('test_processor_operations')
    op.drop_index('subscriptions_list', table_name='subscriptions')
    op.drop_index('subscriptions_by_customer', table_name='subscriptions')
    op.drop_table('subscriptions')
    op.drop_index('payments_one_live_per_session', table_name='payments', postgresql_where=sa.text("status IN ('processing', 'requires_action', 'succeeded')"))
    op.drop_index('payments_list', table_name='payments')
    op.drop_index('payments_due_for_check', table_name='payments', postgresql_where=sa.text("status IN ('processing', 'requires_action')"))
    op.drop_index('payments_by_session', table_name='payments')
    op.drop_index('payments_by_customer', table_name='payments')
    op.drop_table('payments')
    op.drop_index('payment_methods_by_reference', table_name='payment_methods')
    op.drop_index('payment_methods_by_customer', table_name='payment_methods')
    op.drop_table('payment_methods')
