"""gunicorn serves `api.wsgi:app`; each worker imports this after fork, so each has its own engine."""
from api.app import create_app
from runtime.logs import configure_logging

configure_logging()
app = create_app()
