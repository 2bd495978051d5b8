"""WSGI entry point for gunicorn: `gunicorn 'server.wsgi:app'`. Settings come from GRID_* variables."""

from server import create_app

app = create_app()
