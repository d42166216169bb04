"""The business: money, ids, catalog, payment links, checkout sessions. No HTTP, no Celery."""
