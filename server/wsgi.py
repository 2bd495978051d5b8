"""WSGI entry point for gunicorn: `gunicorn 'server.wsgi:app'`. Settings come from GRID_* variables.

Each worker warms up before its first request (server.warmup): the routing index is built, the hot statements
compiled, and everything that lives as long as the process is moved out of the garbage collector's way.
"""

from server import create_app
from server.warmup import warm_up

app = create_app()
warm_up(app)
