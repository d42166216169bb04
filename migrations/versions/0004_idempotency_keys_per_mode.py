"""idempotency keys per mode: live and test keys of an account no longer share a key

Revision ID: 0004
Revises: 0003

A key was (account_id, key), so the same key sent with a live and then a test API key was a 409.
It is now (account_id, livemode, key), as every object is the account's in one mode. Keys live
24 hours; a row stored before this revision gets the mode of the object its recorded response
shows (a write answers with the object, whose JSON carries `"livemode":false` in test mode), so a
client retrying across the upgrade still gets its first response replayed.
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('idempotency_keys', sa.Column('livemode', sa.Boolean(), nullable=False, server_default=sa.true()))
    # (`\\:` keeps SQLAlchemy's text() from reading `:false` as a bind parameter)
    op.execute("UPDATE idempotency_keys SET livemode = false "
               "WHERE position('\"livemode\"\\:false' in convert_from(body, 'UTF8')) > 0")
    op.alter_column('idempotency_keys', 'livemode', server_default=None)
    op.drop_constraint('idempotency_keys_pkey', 'idempotency_keys', type_='primary')
    op.create_primary_key('idempotency_keys_pkey', 'idempotency_keys', ['account_id', 'livemode', 'key'])


def downgrade() -> None:
    # One row per (account_id, key) again: where both modes hold a key, the live one stays.
    op.execute("DELETE FROM idempotency_keys AS t WHERE NOT t.livemode AND EXISTS ("
               "SELECT 1 FROM idempotency_keys AS l WHERE l.livemode AND l.account_id = t.account_id AND l.key = t.key)")
    op.drop_constraint('idempotency_keys_pkey', 'idempotency_keys', type_='primary')
    op.create_primary_key('idempotency_keys_pkey', 'idempotency_keys', ['account_id', 'key'])
    op.drop_column('idempotency_keys', 'livemode')
