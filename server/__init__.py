"""Grid-inspection reporting backend (网格巡查线索系统). `create_app()` builds the Flask app; nothing runs at import."""

from __future__ import annotations

import logging

from flask import Flask

from server.config import INSTANCE_DIR, load_settings

API_VERSION = "1.0.0"


def create_app(config: dict | None = None) -> Flask:
    settings = load_settings(config)
    app = Flask(__name__, instance_path=str(INSTANCE_DIR), static_folder=None)
    _configure(app, settings)
    _init_extensions(app, settings)
    _register_blueprints(app)
    _register_cli(app)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return app


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
    )
    app.json.ensure_ascii = False
    app.json.sort_keys = False


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
    app.extensions["grid_index"] = IndexCache(settings.index_check_seconds)


def _register_blueprints(app: Flask) -> None:
    from server import health, web
    from server.areas.routes import blp as areas_blp
    api = app.extensions["smorest_api"]
    api.register_blueprint(areas_blp)
    app.register_blueprint(health.bp)
    app.register_blueprint(web.bp)


def _register_cli(app: Flask) -> None:
    from server.areas.cli import grids_cli

    app.cli.add_command(grids_cli)
