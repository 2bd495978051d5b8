"""Grid-inspection reporting backend (网格巡查线索系统). `create_app()` builds the Flask app; nothing runs at import."""

from __future__ import annotations

import logging

from flask import Flask
from flask.sessions import SessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

from server.bounds import RowIdConverter
from server.config import INSTANCE_DIR, load_settings

API_VERSION = "1.0.0"


def create_app(config: dict | None = None) -> Flask:
    settings = load_settings(config)
    app = GridFlask(__name__, instance_path=str(INSTANCE_DIR), static_folder=None)
    _configure(app, settings)
    _serve_json_tips_fast(app)
    if settings.trusted_proxies:
        # Behind nginx: take the client address and scheme from the proxy's headers (rate limits, audit IP hashes).
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies, x_proto=settings.trusted_proxies)
    _init_extensions(app, settings)
    _register_blueprints(app)
    _register_cli(app)
    _connect_signals()
    _register_request_transaction(app)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    _start_inprocess_worker(app, settings)
    return app


class GridFlask(Flask):
    """Flask, remembering which views and hooks are coroutines: Flask asks `inspect` again for each one on every
    request (15 hooks and wrappers on tip intake, ~20 µs of its hot path). Views and hooks are registered once, so
    the memo stays as small as the app."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._sync_versions: dict = {}

    def ensure_sync(self, func):
        found = self._sync_versions.get(func)
        if found is None:
            found = self._sync_versions[func] = super().ensure_sync(func)
        return found


def _configure(app: Flask, settings) -> None:
    app.config.update(
        GRID=settings,
        SECRET_KEY=settings.secret_key,
        SQLALCHEMY_DATABASE_URI=settings.database_url,
        API_TITLE="Grid inspection API (网格巡查线索 API)",
        API_VERSION=API_VERSION,
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL="/vendor/swagger-ui-dist/",
        JSON_SORT_KEYS=False,
        MAX_CONTENT_LENGTH=settings.photo_max_request_bytes + 1024 * 1024,
    )
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    app.session_interface = NoCookieSessions()
    app.url_map.converters["int"] = RowIdConverter  # ids beyond what the database holds answer 404, not a 500


class NoCookieSessions(SessionInterface):
    """The API is stateless (bearer tokens), so there is no cookie session: Flask's default would build a signing
    serializer and look for a cookie on every request (~0.1 ms of the tip intake hot path)."""

    def open_session(self, app, request):
        return None  # Flask then uses its NullSession, which refuses writes

    def save_session(self, app, session, response) -> None:
        return None


def _serve_json_tips_fast(app: Flask) -> None:
    from server.tips.fast_intake import FastJsonIntake

    app.wsgi_app = FastJsonIntake(app, app.wsgi_app)


def _init_extensions(app: Flask, settings) -> None:
    from server.areas.index_cache import IndexCache
    from server.db import configure_engine, engine_options
    from server.errors import ProblemSchema, register_error_handlers
    from server.extensions import ProblemApi, db, migrate

    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(settings)
    db.init_app(app)
    with app.app_context():
        configure_engine(db.engine, settings)
    migrate.init_app(app, db, directory=str(INSTANCE_DIR.parent / "server" / "migrations"))
    api = ProblemApi()
    api.ERROR_SCHEMA = ProblemSchema
    api.init_app(app)
    app.extensions["smorest_api"] = api
    register_error_handlers(app)
    app.extensions["grid_index"] = IndexCache(settings.index_check_seconds, settings.snap_metres)
    _init_accounts(app, api, settings)


def _init_accounts(app: Flask, api, settings) -> None:
    from server.accounts.ratelimit import init_limiter
    from server.accounts.tokens import init_jwt
    from server.scope import reset_request_state

    app.before_request(reset_request_state)
    init_jwt(app, settings)
    init_limiter(app, settings)
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})


def _register_request_transaction(app: Flask) -> None:
    """One transaction per request: services flush, the edge commits a success (< 400) and rolls back the rest.

    The exception: a 4xx whose view recorded a security event that must outlive the refusal (a failed
    login, a reused refresh token) -- see server.audit.record(keep_on_error=True). A 5xx always rolls back.
    """
    from server.audit import keeps_writes_on_error
    from server.extensions import db

    @app.after_request
    def _commit_or_rollback(response):
        if not db.session.registry.has():
            return response  # the request never touched the database
        status = response.status_code
        if status < 400 or (status < 500 and keeps_writes_on_error()):
            db.session.commit()
        else:
            db.session.rollback()
        return response


def _register_blueprints(app: Flask) -> None:
    from server import health, web
    from server.accounts.routes import blp as accounts_blp
    from server.areas.routes import blp as areas_blp
    from server.coverage.routes import blp as coverage_blp
    from server.coverage.routes import tiles_bp
    from server.households.routes import blp as households_blp
    from server.ogc.routes import bp as ogc_bp
    from server.patrols.routes import blp as patrols_blp
    from server.tips.routes import blp as tips_blp

    api = app.extensions["smorest_api"]
    api.register_blueprint(areas_blp)
    api.register_blueprint(accounts_blp)
    api.register_blueprint(households_blp)
    api.register_blueprint(patrols_blp)
    api.register_blueprint(tips_blp)
    _register_workflow_blueprints(api)
    api.register_blueprint(coverage_blp)
    app.register_blueprint(health.bp)
    app.register_blueprint(web.bp)
    app.register_blueprint(tiles_bp)
    app.register_blueprint(ogc_bp)


def _connect_signals() -> None:
    from server.areas.importer import generation_imported
    from server.households.reassign import on_generation_imported

    generation_imported.connect(on_generation_imported)


def _register_cli(app: Flask) -> None:
    from server.accounts.cli import users_cli
    from server.areas.cli import grids_cli
    from server.households.cli import households_cli

    app.cli.add_command(grids_cli)
    app.cli.add_command(users_cli)
    _register_workflow_cli(app)
    app.cli.add_command(households_cli)


def _register_workflow_blueprints(api) -> None:
    from server.notifications.routes import blp as notifications_blp
    from server.workflow.routes import blp as workflow_blp

    api.register_blueprint(workflow_blp)
    api.register_blueprint(notifications_blp)


def _register_workflow_cli(app: Flask) -> None:
    from server.notifications.cli import notifications_cli
    from server.tips.cli import tips_cli
    from server.worker import worker_command

    app.cli.add_command(tips_cli)
    app.cli.add_command(notifications_cli)
    app.cli.add_command(worker_command)


def _start_inprocess_worker(app: Flask, settings) -> None:
    """GRID_INPROCESS_WORKER=1 (make run): deliver notifications and escalate from a thread of the serving process."""
    from server.worker import should_start_inprocess, start_inprocess_worker

    if should_start_inprocess(settings):
        app.extensions["grid_worker"] = start_inprocess_worker(app)
