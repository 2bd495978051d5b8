"""Flask extensions, created once here and bound to the app in create_app()."""

from flask_migrate import Migrate
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)
migrate = Migrate()


class ProblemApi(Api):
    """flask-smorest's Api, with its error handler replaced by the problem+json one (see server.errors)."""

    def handle_http_exception(self, error):
        from server.errors import problem_from_http_exception

        return problem_from_http_exception(error)

    def _openapi_json(self):
        """Serve the same finished document that api_docs/openapi.json holds."""
        from flask import current_app, json

        from server.openapi import finish

        body = json.dumps(finish(self.spec.to_dict()), indent=2)
        return current_app.response_class(body, mimetype="application/json")
