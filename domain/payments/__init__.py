"""Payments: the processor interface, the payment and refund state machines, refund arithmetic
and the built-in test processor. Pure: no database, no HTTP, no Celery (ARCHITECTURE 7)."""
